package source

import "golang.org/x/sys/cpu"

// hasAVX2 is read once: whether newlineMasks can compare 32 bytes an instruction.
var hasAVX2 = cpu.X86.HasAVX2

// newlineMasksAVX2 is newlineMasksGo for blocks 64-byte blocks at p (newlines_amd64.s).
//
//go:noescape
func newlineMasksAVX2(p *byte, blocks int, masks *uint64)

// newlineMasks sets masks[i] to the newline mask of buf's i-th 64-byte block.
func newlineMasks(buf []byte, masks []uint64) {
	n := min(len(buf)/64, len(masks))
	if !hasAVX2 || n == 0 {
		newlineMasksGo(buf, masks)
		return
	}
	newlineMasksAVX2(&buf[0], n, &masks[0])
}
