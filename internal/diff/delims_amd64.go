package diff

import "golang.org/x/sys/cpu"

// cpuDelims are the ways this CPU has: AVX-512's masked loads (any line), else AVX2 (a
// line with 128 bytes readable from its start).
var cpuDelims = delimMasker{
	avx512: cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI2,
	avx2:   cpu.X86.HasAVX2,
}

// masks returns the masks of delim in line (bit i of lo: byte i is delim; bit i of hi:
// byte 64+i), and false when it cannot: lines longer than delimMaskMax, or no way for
// it here.
func (d delimMasker) masks(line []byte, delim byte) (lo, hi uint64, ok bool) {
	n := len(line)
	switch {
	case n == 0 || n > delimMaskMax:
		return 0, 0, false
	case d.avx512:
		lo, hi = delimMasks512(&line[0], n, delim)
		return lo, hi, true
	case d.avx2 && cap(line) >= delimMaskMax:
		lo, hi = delimMasksAVX2(&line[0], delim)
		if n < 64 {
			return lo & (1<<n - 1), 0, true
		}
		return lo, hi & (1<<(n-64) - 1), true // at 128 bytes, 1<<64 is 0: all of hi
	}
	return 0, 0, false
}

//go:noescape
func delimMasks512(p *byte, n int, delim byte) (lo, hi uint64)

//go:noescape
func delimMasksAVX2(p *byte, delim byte) (lo, hi uint64)
