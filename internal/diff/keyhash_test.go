package diff

import (
	"fmt"
	"strings"
	"testing"
)

// TestKeyHash: a key hashes the same as bytes and as a string, keys of every length up
// to 40 bytes that differ in one byte hash differently, and a million keys of the
// usual shape ("P" and ten digits) spread evenly over 256 buckets of the top bits (the
// line join's partitions and its side to check come from the top bits).
func TestKeyHash(t *testing.T) {
	h := newKeyHash()
	seen := map[uint64]string{}
	for n := range 41 {
		base := strings.Repeat("k", n)
		keys := []string{base}
		for i := range n {
			b := []byte(base)
			b[i] = 'j'
			keys = append(keys, string(b))
		}
		for _, k := range keys {
			v := h.sum([]byte(k))
			if s := h.sumString(k); s != v {
				t.Fatalf("%q: sum %x, sumString %x", k, v, s)
			}
			if prev, ok := seen[v]; ok && prev != k {
				t.Fatalf("%q and %q share a hash", k, prev)
			}
			seen[v] = k
		}
	}
	var buckets [256]int
	top := 0
	const n = 1000000
	for i := range n {
		k := h.sumString(fmt.Sprintf("P%010d", i))
		buckets[k>>56]++
		top += int(k >> 63)
	}
	for b, c := range buckets {
		if c < n/256*85/100 || c > n/256*115/100 {
			t.Fatalf("bucket %d holds %d keys of %d", b, c, n)
		}
	}
	if top < n*49/100 || top > n*51/100 {
		t.Fatalf("top bit set for %d keys of %d", top, n)
	}
}
