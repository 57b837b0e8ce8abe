package diff

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// BenchmarkLineJoinDecide joins one partition of the size the bench's 10M-row pair
// gives at the default budget (128 partitions): 78,000 keys on both sides, 0.2% of them
// with lines that differ, in a random order on each side.
func BenchmarkLineJoinDecide(b *testing.B) {
	const keys = 78000
	rng := rand.New(rand.NewPCG(1, 2))
	ks := make([]uint64, keys)
	seen := map[uint64]bool{}
	for i := range ks {
		for ks[i] = rng.Uint64() & precKMask; seen[ks[i]]; ks[i] = rng.Uint64() & precKMask {
		}
		seen[ks[i]] = true
	}
	var recs [2][]byte
	for side := range 2 {
		for _, i := range rng.Perm(keys) {
			rec := make([]byte, precSize)
			k := ks[i]
			binary.LittleEndian.PutUint32(rec, uint32(k))
			binary.LittleEndian.PutUint64(rec[precFP:], k*31)
			if side == 1 && i%500 == 0 {
				rec[precFP] ^= 1
			}
			rec[precDelta] = 100 // rows 100 bytes apart
			recs[side] = append(recs[side], rec...)
		}
	}
	h := &hashRun{pool: &memPool{cs: 32 << 10, limit: 1 << 40}}
	lj := &lineJoin{h: h}
	for i := range lj.left {
		lj.left[i] = &partitioner{h: h, parts: make([]part, 1)}
	}
	wk := &lineWorker{lj: lj}
	for b.Loop() {
		wk.recs = recs
		wk.decide()
		for i := range lj.left {
			h.drop(&lj.left[i].parts[0])
		}
	}
	if got := lj.matched.Load(); got%(keys-keys/500) != 0 {
		b.Fatalf("matched %d, not a multiple of %d", got, keys-keys/500)
	}
}
