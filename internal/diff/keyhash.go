package diff

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"unsafe"
)

// keyHash hashes the line join's keys (k). A key longer than 16 bytes goes to maphash;
// a shorter one, nearly every key, is mixed inline from two words, as Go's own maps
// hash without AES (wyhash's multiply-fold, runtime/hash64.go), with keys drawn for the
// run: the call to maphash costs more than the whole mix. k only places a row (its
// partition and slot): keys made to share it cost time (their rows are read again),
// never a wrong outcome.
type keyHash struct {
	seed   maphash.Seed
	k0, k1 uint64
}

func newKeyHash() *keyHash {
	return &keyHash{seed: maphash.MakeSeed(), k0: rand.Uint64(), k1: rand.Uint64()}
}

const keyMix = 0x1d8e4e27c47d124f

// sum returns the hash of key b.
func (h *keyHash) sum(b []byte) uint64 {
	n := len(b)
	if n > 16 {
		return maphash.Bytes(h.seed, b)
	}
	var x, y uint64
	switch {
	case n >= 8:
		x, y = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		x, y = uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		x = uint64(b[0]) | uint64(b[n>>1])<<8 | uint64(b[n-1])<<16
	default:
		return h.k0
	}
	return foldMul(keyMix^uint64(n), foldMul(x^h.k1, y^h.k0))
}

// sumString is sum of a string.
func (h *keyHash) sumString(s string) uint64 {
	if len(s) > 16 {
		return maphash.String(h.seed, s)
	}
	return h.sum(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func foldMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
