package source

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestNewlineEnds: the newlines newlineEnds finds are those of a byte scan, with
// newlines dense (several a block), sparse and absent, at every count asked for, and the
// SIMD masks are the plain loop's.
func TestNewlineEnds(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for round := range 3000 {
		buf := make([]byte, rng.IntN(700))
		gap := 1 + rng.IntN(120)
		for i := range buf {
			buf[i] = byte('a' + rng.IntN(26))
			if rng.IntN(gap) == 0 {
				buf[i] = '\n'
			}
			if round%7 == 0 {
				buf[i] = byte(rng.IntN(256))
			}
		}
		var want []int32
		for i, c := range buf {
			if c == '\n' {
				want = append(want, int32(i))
			}
		}
		k := rng.IntN(len(want) + 3)
		ends := make([]int32, k)
		n := newlineEnds(buf, ends)
		if n != min(k, len(want)) || !slices.Equal(ends[:n], want[:n]) {
			t.Fatalf("round %d: newlineEnds(%d of %d) = %v, want %v", round, k, len(want), ends[:n], want[:min(k, len(want))])
		}
		if blocks := len(buf) / 64; blocks > 0 {
			got, plain := make([]uint64, blocks), make([]uint64, blocks)
			newlineMasks(buf, got)
			newlineMasksGo(buf, plain)
			if !slices.Equal(got, plain) {
				t.Fatalf("round %d: masks %x, plain %x", round, got, plain)
			}
		}
	}
	if n := newlineEnds(bytes.Repeat([]byte("\n"), 200), make([]int32, 150)); n != 150 {
		t.Fatalf("200 newlines, 150 asked: %d", n)
	}
}
