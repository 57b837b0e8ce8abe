package source

import (
	"bytes"
	"math/bits"
)

// newlineMasksGo is newlineMasks without SIMD.
func newlineMasksGo(buf []byte, masks []uint64) {
	for i := range min(len(buf)/64, len(masks)) {
		var m uint64
		for j, c := range buf[i*64 : i*64+64] {
			if c == '\n' {
				m |= 1 << j
			}
		}
		masks[i] = m
	}
}

// newlineEnds writes the offsets of the first len(ends) newlines of buf to ends and
// returns how many it found. Newlines are found 64 bytes an instruction pair (a mask
// per block, newlineMasks) and their offsets taken from each mask four at a time
// without a branch on how many there are (a block holds at most a few lines), instead
// of a search per line whose end, at a varying distance, costs a mispredicted branch.
func newlineEnds(buf []byte, ends []int32) int {
	const chunk = 32 // blocks of masks at once
	var masks [chunk]uint64
	n, base := 0, 0
	for n < len(ends) && len(buf)-base >= 64 {
		blocks := min(chunk, (len(buf)-base)/64)
		newlineMasks(buf[base:base+blocks*64], masks[:blocks])
		for _, m := range masks[:blocks] {
			if c := bits.OnesCount64(m); c <= 4 && n+4 <= len(ends) {
				// Four offsets written whatever c is; the ones past c are overwritten
				// next (tz of 0 is 64, a harmless offset).
				ends[n] = int32(base + bits.TrailingZeros64(m))
				m &= m - 1
				ends[n+1] = int32(base + bits.TrailingZeros64(m))
				m &= m - 1
				ends[n+2] = int32(base + bits.TrailingZeros64(m))
				m &= m - 1
				ends[n+3] = int32(base + bits.TrailingZeros64(m))
				n += c
			} else {
				for ; m != 0 && n < len(ends); m &= m - 1 {
					ends[n] = int32(base + bits.TrailingZeros64(m))
					n++
				}
			}
			base += 64
			if n >= len(ends) {
				return len(ends)
			}
		}
	}
	for n < len(ends) {
		i := bytes.IndexByte(buf[base:], '\n')
		if i < 0 {
			break
		}
		ends[n] = int32(base + i)
		n++
		base += i + 1
	}
	return n
}
