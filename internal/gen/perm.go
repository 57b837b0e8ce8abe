package gen

import "math/bits"

// perm is a keyed pseudo-random permutation of [0, n): a 4-round Feistel network
// on the smallest even number of bits covering n, with cycle walking. It needs no
// memory, so 10M-row files can be shuffled while streaming.
type perm struct {
	n    uint64
	half uint
	mask uint64
	keys [4]uint64
}

func newPerm(n, seed uint64) perm {
	b := uint(bits.Len64(n))
	if b < 2 {
		b = 2
	}
	if b%2 == 1 {
		b++
	}
	p := perm{n: n, half: b / 2, mask: 1<<(b/2) - 1}
	for i := range p.keys {
		p.keys[i] = mix(seed + uint64(i)*0x9e3779b97f4a7c15)
	}
	return p
}

func (p perm) encrypt(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(mix(r^k)&p.mask)
	}
	return l<<p.half | r
}

// at returns the i-th element of the permutation (i < n).
func (p perm) at(i uint64) uint64 {
	x := p.encrypt(i)
	for x >= p.n {
		x = p.encrypt(x)
	}
	return x
}
