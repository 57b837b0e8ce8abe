//go:build !amd64

package diff

// hasAESLine: no aesLine in assembly here; maphash hashes every line.
const hasAESLine = false

func aesLine(line []byte, seeds *[256]byte) (uint64, uint64) { panic("diff: no aesLine here") }

// aesLineImpls are the assembly aesLines this CPU can run: none.
func aesLineImpls() map[string]func(p *byte, n int, seeds *byte) (uint64, uint64) { return nil }
