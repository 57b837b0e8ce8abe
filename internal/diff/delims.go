package diff

import "math/bits"

// delimMaskMax is the longest line delimMasker takes: two 64-bit masks.
const delimMaskMax = 128

// delimMasker finds a line's delimiters all at once, as masks (masks), by the vector
// instructions it may use: cpuDelims, those of this CPU (tests choose others).
type delimMasker struct{ avx512, avx2 bool }

// maskEnds writes to ends the offsets of the next len(ends) delimiters of a line whose
// delimiter masks are *lo and *hi, taking them out of the masks, and returns how many
// there were.
func maskEnds(lo, hi *uint64, ends []int32) int {
	n := 0
	for ; n < len(ends) && *lo != 0; n++ {
		ends[n] = int32(bits.TrailingZeros64(*lo))
		*lo &= *lo - 1
	}
	for ; n < len(ends) && *hi != 0; n++ {
		ends[n] = 64 + int32(bits.TrailingZeros64(*hi))
		*hi &= *hi - 1
	}
	return n
}
