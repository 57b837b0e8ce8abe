//go:build !amd64

package diff

// cpuDelims: no way here (lineKey searches instead).
var cpuDelims = delimMasker{}

// masks: no way here.
func (d delimMasker) masks(line []byte, delim byte) (lo, hi uint64, ok bool) { return 0, 0, false }
