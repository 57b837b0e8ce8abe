package diff

import (
	"bytes"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// aesSbox is AES's S-box, built from its definition (the multiplicative inverse in
// GF(2^8), then the affine map), for aesRound.
var aesSbox = func() (s [256]byte) {
	p, q := byte(1), byte(1)
	for {
		p ^= p<<1 ^ (p>>7)*0x1b // p *= 3
		q ^= q << 1             // q /= 3
		q ^= q << 2
		q ^= q << 4
		q ^= (q >> 7) * 0x09
		s[p] = 0x63 ^ q ^ (q<<1 | q>>7) ^ (q<<2 | q>>6) ^ (q<<3 | q>>5) ^ (q<<4 | q>>4)
		if p == 1 {
			break
		}
	}
	s[0] = 0x63
	return s
}()

func xtime(b byte) byte { return b<<1 ^ (b>>7)*0x1b }

// aesRound is AESENC by the book: ShiftRows, SubBytes, MixColumns, then the round key
// XORed in (the state is column-major: byte 4c+r is row r of column c).
func aesRound(st, key [16]byte) (out [16]byte) {
	var t [16]byte
	for c := range 4 {
		for r := range 4 {
			t[4*c+r] = aesSbox[st[4*((c+r)%4)+r]]
		}
	}
	for c := range 4 {
		a0, a1, a2, a3 := t[4*c], t[4*c+1], t[4*c+2], t[4*c+3]
		out[4*c] = xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3
		out[4*c+1] = a0 ^ xtime(a1) ^ xtime(a2) ^ a2 ^ a3
		out[4*c+2] = a0 ^ a1 ^ xtime(a2) ^ xtime(a3) ^ a3
		out[4*c+3] = xtime(a0) ^ a0 ^ a1 ^ a2 ^ xtime(a3)
	}
	for i := range out {
		out[i] ^= key[i]
	}
	return out
}

// aesLineRef is aesLine as lineprint.go defines it, in Go.
func aesLineRef(line []byte, seeds *[256]byte) (a, b uint64) {
	n := len(line)
	var h [2]uint64
	for k := range h {
		var acc [16]byte
		for l := range 8 {
			var blk [16]byte
			switch {
			case n > 128:
				copy(blk[:], line[n-128+16*l:])
			case l < 4:
				copy(blk[:], line[16*l:])
			default:
				copy(blk[:], line[n-64+16*(l-4):])
			}
			for i := range blk {
				blk[i] ^= seeds[128*k+16*l+i]
			}
			if n > 128 {
				blk = aesRound(blk, blk)
				blk = aesRound(blk, [16]byte(line[16*l:]))
			}
			for range 3 {
				blk = aesRound(blk, blk)
			}
			for i := range acc {
				acc[i] ^= blk[i]
			}
		}
		for i := 7; i >= 0; i-- {
			h[k] = h[k]<<8 | uint64(acc[i])
		}
	}
	return h[0], h[1]
}

// TestAESRound: the S-box and a round against FIPS-197's first round of its AES-128
// example (appendix B), whose round key is the cipher's second.
func TestAESRound(t *testing.T) {
	if aesSbox[0x53] != 0xed || aesSbox[0x00] != 0x63 || aesSbox[0xff] != 0x16 {
		t.Fatalf("S-box: %#x %#x %#x", aesSbox[0x53], aesSbox[0x00], aesSbox[0xff])
	}
	in := [16]byte{0x19, 0x3d, 0xe3, 0xbe, 0xa0, 0xf4, 0xe2, 0x2b, 0x9a, 0xc6, 0x8d, 0x2a, 0xe9, 0xf8, 0x48, 0x08}
	key := [16]byte{0xa0, 0xfa, 0xfe, 0x17, 0x88, 0x54, 0x2c, 0xb1, 0x23, 0xa3, 0x39, 0x39, 0x2a, 0x6c, 0x76, 0x05}
	want := [16]byte{0xa4, 0x9c, 0x7f, 0xf2, 0x68, 0x9f, 0x35, 0x2b, 0x6b, 0x5b, 0xea, 0x43, 0x02, 0x6a, 0x50, 0x49}
	if got := aesRound(in, key); got != want {
		t.Fatalf("round: %x, FIPS-197 %x", got, want)
	}
}

// TestAESLine: every assembly aesLine this CPU can run gives aesLineRef's hashes, at
// every length it takes, with the line at every alignment.
func TestAESLine(t *testing.T) {
	impls := map[string]func(p *byte, n int, seeds *byte) (uint64, uint64){}
	for name, f := range aesLineImpls() {
		impls[name] = f
	}
	if len(impls) == 0 {
		t.Skip("no AES instructions here: maphash fingerprints every line")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var seeds [256]byte
	buf := make([]byte, aesLineMax+16)
	for round := range 20 {
		for i := range seeds {
			seeds[i] = byte(rng.Uint32())
		}
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		for n := aesLineMin; n <= aesLineMax; n++ {
			line := buf[round%16:][:n]
			wa, wb := aesLineRef(line, &seeds)
			for name, f := range impls {
				if a, b := f(&line[0], n, &seeds[0]); a != wa || b != wb {
					t.Fatalf("%s, %d bytes: %x %x, the reference %x %x", name, n, a, b, wa, wb)
				}
			}
		}
	}
}

// TestLinePrint: a line's fingerprint, by either way, at lengths on both sides of
// aesLine's: equal lines hash alike; a line with one byte changed, anywhere, or a
// repeated pattern at another length, does not.
func TestLinePrint(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	with := newFPSeeds()
	without := &fpSeeds{c: maphash.MakeSeed(), d: maphash.MakeSeed()}
	for _, s := range []*fpSeeds{with, without} {
		for n := 1; n <= aesLineMax+44; n++ {
			line := make([]byte, n)
			for i := range line {
				line[i] = 'a' + byte(rng.IntN(26))
			}
			a, b := s.linePrint(line)
			if a2, b2 := s.linePrint(bytes.Clone(line)); a2 != a || b2 != b {
				t.Fatalf("%d bytes: equal lines hash differently", n)
			}
			for i := range line {
				c := bytes.Clone(line)
				c[i] ^= 1 << rng.IntN(8)
				if a2, b2 := s.linePrint(c); a2 == a || b2 == b {
					t.Fatalf("%d bytes, byte %d changed: a hash is the same", n, i)
				}
			}
		}
		pattern := []byte("0123456789abcdef")
		seen := map[uint64]int{}
		for reps := 1; reps <= 20; reps++ {
			a, _ := s.linePrint(bytes.Repeat(pattern, reps))
			if r, ok := seen[a]; ok {
				t.Fatalf("a pattern repeated %d and %d times hashes alike", r, reps)
			}
			seen[a] = reps
		}
	}
	if hasAESLine {
		// The fast way is the one taken, with the run's lane seeds.
		line := bytes.Repeat([]byte("x,"), 50)
		a, b := with.linePrint(line)
		if wa, wb := aesLineRef(line, &with.aes[len(line)-aesLineMin]); a != wa || b != wb {
			t.Fatalf("linePrint %x %x, aesLine %x %x", a, b, wa, wb)
		}
	}
}

// BenchmarkLinePrint: lines of the bench ledger's lengths (85-104 bytes) and wide ones
// (150-249), by aesLine and by maphash.
func BenchmarkLinePrint(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, w := range []struct {
		name      string
		min, span int
	}{{"ledger", 85, 20}, {"wide", 150, 100}} {
		lines := make([][]byte, 1024)
		for i := range lines {
			lines[i] = make([]byte, w.min+rng.IntN(w.span))
			for j := range lines[i] {
				lines[i][j] = byte(rng.Uint32())
			}
		}
		for _, s := range []struct {
			name  string
			seeds *fpSeeds
		}{{"aes", newFPSeeds()}, {"maphash", &fpSeeds{c: maphash.MakeSeed(), d: maphash.MakeSeed()}}} {
			b.Run(w.name+"/"+s.name, func(b *testing.B) {
				var sink uint64
				for b.Loop() {
					for _, l := range lines {
						x, y := s.seeds.linePrint(l)
						sink ^= x + y
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/line")
			})
		}
	}
}
