package diff

import (
	"crypto/rand"
	"encoding/binary"
	"hash/maphash"
	"unsafe"
)

// A line's fingerprint (lineFingerprint, and the line join's records) is two 64-bit
// hashes of its bytes with seeds drawn for the run. Lines of aesLineMin to aesLineMax
// bytes (most CSV records) are hashed in one pass for both (aesLine, in assembly where
// the CPU has AES instructions); other lengths, or without those instructions, by
// maphash with seeds c and d. Which way a length goes is fixed for the run, and equal
// lines have equal lengths: every line of the run is fingerprinted alike.
//
// aesLine is the construction of Go's own AES hash (the runtime's aeshash, which
// maphash uses on these CPUs) for inputs of 65 to 256 bytes, computed for two hashes at
// once. Up to 128 bytes: the input's first 64 bytes and its last 64 (overlapping when
// shorter than 128) are eight 16-byte blocks; block i is XORed with lane seed i,
// scrambled by three AES rounds (AESENC with the state as its own round key), and the
// hash is the low 64 bits of the XOR of the eight. Past 128 (the runtime's loop over
// 128-byte blocks, run once): lane i starts as block i of the last 128 bytes XORed with
// its seed, takes a round, then a round whose key is block i of the first 128 bytes,
// then the three rounds and the XOR. The runtime derives its lane seeds from the seed,
// the length and a per-process key; here each hash, length and lane has lane seeds of
// its own drawn at random for the run (aesSeeds), so that inputs of different lengths
// whose blocks are the same (a repeated pattern) do not hash alike.
const (
	aesLineMin = 65
	aesLineMax = 256
)

// aesSeeds are the lane seeds of aesLine, by length - aesLineMin: hash 0's eight lanes,
// then hash 1's, 16 bytes each.
type aesSeeds [aesLineMax - aesLineMin + 1][256]byte

// newAESSeeds draws a run's lane seeds, or returns nil when aesLine has no fast way
// here (maphash then hashes every length).
func newAESSeeds() *aesSeeds {
	if !hasAESLine {
		return nil
	}
	s := new(aesSeeds)
	_, _ = rand.Read(unsafe.Slice(&s[0][0], unsafe.Sizeof(*s))) // one read; never fails (crypto/rand)
	return s
}

// linePrint returns the two hashes of a line's fingerprint.
func (s *fpSeeds) linePrint(line []byte) (uint64, uint64) {
	if n := len(line); n >= aesLineMin && n <= aesLineMax && s.aes != nil {
		if aesLine512 {
			return aesLineAVX512(&line[0], n, &s.aes[n-aesLineMin][0])
		}
		return aesLineAESNI(&line[0], n, &s.aes[n-aesLineMin][0])
	}
	return maphash.Bytes(s.c, line), maphash.Bytes(s.d, line)
}

// lineFingerprint is a line's fingerprint: linePrint's two hashes.
func lineFingerprint(seeds *fpSeeds, line []byte) (fp [fingerprintLen]byte) {
	a, b := seeds.linePrint(line)
	binary.LittleEndian.PutUint64(fp[:8], a)
	binary.LittleEndian.PutUint64(fp[8:], b)
	return fp
}
