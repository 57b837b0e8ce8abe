package diff

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// delimMasksRef is delimMasker.masks byte by byte.
func delimMasksRef(line []byte, delim byte) (lo, hi uint64) {
	for i, c := range line {
		if c != delim {
			continue
		}
		if i < 64 {
			lo |= 1 << i
		} else {
			hi |= 1 << (i - 64)
		}
	}
	return lo, hi
}

// TestDelimMasks: delimMasker gives the byte-by-byte masks at every length it takes, at
// every alignment, with bytes past the line that are the delimiter (never counted);
// maskEnds gives fieldEnds' offsets from them.
func TestDelimMasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	alphabet := []byte{',', 'a', ',' | 0x80, ',' ^ 1, 0, 0xff}
	buf := make([]byte, 2*delimMaskMax+64)
	for round := range 400 {
		// Each way this CPU has: AVX-512, AVX2 alone (then only with 128 bytes
		// readable: a line at the buffer's end is not taken).
		d := cpuDelims
		if round%2 == 1 {
			d.avx512 = false
		}
		for i := range buf {
			buf[i] = alphabet[rng.IntN(len(alphabet))]
		}
		for n := 0; n <= delimMaskMax+1; n++ {
			line := buf[round%64:][:n]
			atEnd := round%4 == 3
			if atEnd {
				line = buf[len(buf)-n:]
			}
			lo, hi, ok := d.masks(line, ',')
			if !ok {
				if n > 0 && n <= delimMaskMax && (d.avx512 || d.avx2 && (!atEnd || n == delimMaskMax)) {
					t.Fatalf("%d bytes: not taken", n)
				}
				continue
			}
			if n == 0 || n > delimMaskMax {
				t.Fatalf("%d bytes taken", n)
			}
			wlo, whi := delimMasksRef(line, ',')
			if lo != wlo || hi != whi {
				t.Fatalf("%d bytes at %d: %x %x, byte by byte %x %x", n, round%64, lo, hi, wlo, whi)
			}
			want := make([]int32, 1+rng.IntN(8))
			got := make([]int32, len(want))
			f := fieldEnds(line, ',', want, 0)
			g := maskEnds(&lo, &hi, got[:min(len(got), 3)])
			g += maskEnds(&lo, &hi, got[g:])
			if f != g || !slices.Equal(got[:g], want[:f]) {
				t.Fatalf("%q: maskEnds %v, fieldEnds %v", line, got[:g], want[:f])
			}
		}
	}
}

// TestLineKeyMasked: lineKey decides the same with delimiter masks as by searching, on
// both sides, counted or not, for lines with too few and too many fields, empty and
// NULL fields, invalid values, and lengths on both sides of 64 and delimMaskMax.
func TestLineKeyMasked(t *testing.T) {
	if cpuDelims == (delimMasker{}) {
		t.Skip("no delimiter masks here")
	}
	p, err := newPlan(fingerprintSpec, fingerprintCols, fingerprintCols)
	if err != nil {
		t.Fatal(err)
	}
	rd := &rawReader{&refetchReader{sliceReader: newSliceReader("s.csv", fingerprintCols, nil)}}
	seeds, keys := newFPSeeds(), newKeyHash()
	rng := rand.New(rand.NewPCG(13, 14))
	values := [][]string{
		{"k1", "", `\N`, strings.Repeat("k", 70), "k,2"},
		{"1.50", "10.5", "x", "", `\N`, "-0.01", strings.Repeat("9", 60)},
		{"2026-03-01T10:00:00Z", "2026-03-01T11:00:00+01:00", "2026-13-01T10:00:00Z", "", `\N`},
		{"EUR", "", `\N`, strings.Repeat("e", 80)},
	}
	for _, null := range []string{"", `\N`} {
		for side := range 2 {
			e := newEncoder(p, side)
			e.seeds, e.loc, e.raw = seeds, rd, rd
			if !e.useLines(',', null) {
				t.Fatal("useLines refused")
			}
			vouched := 0
			for range 20000 {
				n := len(fingerprintCols) - 1 + rng.IntN(3)
				fields := make([]string, n)
				for i := range fields {
					pool := values[min(i, len(values)-1)]
					fields[i] = pool[rng.IntN(len(pool))]
				}
				line := []byte(strings.Join(fields, ","))
				counted := rng.IntN(4) == 0 && n == len(fingerprintCols)
				e.lines.delims = delimMasker{}
				wk, wok := e.lineKey(line, counted, keys)
				e.lines.delims = cpuDelims
				k, ok := e.lineKey(line, counted, keys)
				if ok {
					vouched++
				}
				if k != wk || ok != wok {
					t.Fatalf("side %d, NULL %q, %q (counted %v): masked %x %v, searched %x %v",
						side, null, line, counted, k, ok, wk, wok)
				}
			}
			if vouched < 1000 {
				t.Fatalf("side %d, NULL %q: only %d lines vouched for", side, null, vouched)
			}
		}
	}
}
