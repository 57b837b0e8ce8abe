package diff

import "golang.org/x/sys/cpu"

// The assembly aesLines this CPU can run, chosen once: four lanes an instruction with
// AVX-512's vector AES (aesLine512), one with AES-NI, or none (hasAESLine false).
var (
	aesLine512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VAES && cpu.X86.HasAVX2
	aesLineNI  = cpu.X86.HasAES && cpu.X86.HasSSE41
	hasAESLine = aesLine512 || aesLineNI
)

// aesLineImpls are the assembly aesLines this CPU can run, by name.
func aesLineImpls() map[string]func(p *byte, n int, seeds *byte) (uint64, uint64) {
	m := map[string]func(p *byte, n int, seeds *byte) (uint64, uint64){}
	if aesLine512 {
		m["avx512"] = aesLineAVX512
	}
	if aesLineNI {
		m["aesni"] = aesLineAESNI
	}
	return m
}

// aesLineAVX512 and aesLineAESNI return aesLine's two hashes of the n bytes at p
// (aesLineMin <= n <= aesLineMax), with the 256 bytes of lane seeds at seeds
// (lineprint_amd64.s).
//
//go:noescape
func aesLineAVX512(p *byte, n int, seeds *byte) (a, b uint64)

//go:noescape
func aesLineAESNI(p *byte, n int, seeds *byte) (a, b uint64)
