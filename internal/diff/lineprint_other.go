//go:build !amd64

package diff

// No aesLine in assembly here: maphash hashes every line.
const (
	hasAESLine = false
	aesLine512 = false
)

func aesLineAVX512(p *byte, n int, seeds *byte) (a, b uint64) { panic("diff: no aesLine here") }
func aesLineAESNI(p *byte, n int, seeds *byte) (a, b uint64)  { panic("diff: no aesLine here") }

// aesLineImpls are the assembly aesLines this CPU can run: none.
func aesLineImpls() map[string]func(p *byte, n int, seeds *byte) (uint64, uint64) { return nil }
