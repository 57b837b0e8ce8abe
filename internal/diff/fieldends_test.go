package diff

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFieldEnds: the delimiters fieldEnds finds are those of a byte-by-byte scan, for
// lines of every length up to 40 bytes with delimiters anywhere, beside bytes that
// share the delimiter's low bits or its high bit (the word-at-a-time search must not
// take them for it).
func TestFieldEnds(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte{',', 'a', ',' | 0x80, ',' ^ 1, 0, 0xff}
	for range 20000 {
		line := make([]byte, rng.IntN(41))
		for i := range line {
			line[i] = alphabet[rng.IntN(len(alphabet))]
		}
		var want []int32
		for i, c := range line {
			if c == ',' {
				want = append(want, int32(i)+5)
			}
		}
		ends := make([]int32, 1+rng.IntN(8))
		f := fieldEnds(line, ',', ends, 5)
		if f != min(len(ends), len(want)) || !slices.Equal(ends[:f], want[:f]) {
			t.Fatalf("fieldEnds(%q, %d) = %v, want %v", line, len(ends), ends[:f], want)
		}
	}
}
