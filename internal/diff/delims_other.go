//go:build !amd64

package diff

// delimMasks: no vector instructions for it here (lineKey searches instead).
func delimMasks(line []byte, delim byte) (lo, hi uint64, ok bool) { return 0, 0, false }

// No masks here (tests switch them off and on).
var delims512, delimsAVX2 = delimMasksInit()

func delimMasksInit() (avx512, avx2 bool) { return false, false }
