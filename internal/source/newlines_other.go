//go:build !amd64

package source

// newlineMasks sets masks[i] to the newline mask of buf's i-th 64-byte block.
func newlineMasks(buf []byte, masks []uint64) { newlineMasksGo(buf, masks) }
