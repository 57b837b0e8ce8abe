package diff

import (
	"container/heap"
	"slices"
)

// FirstN keeps, of the discrepancies it is given, the first n in CompareDiscrepancies
// order, in memory for n whatever their number: a sample (a table, an alert).
type FirstN struct {
	n int
	h lastFirst
}

// NewFirstN returns a FirstN keeping n (at least 1).
func NewFirstN(n int) *FirstN { return &FirstN{n: max(n, 1)} }

// Add offers d.
func (f *FirstN) Add(d Discrepancy) {
	switch {
	case len(f.h) < f.n:
		heap.Push(&f.h, d)
	case CompareDiscrepancies(d, f.h[0]) < 0:
		f.h[0] = d
		heap.Fix(&f.h, 0)
	}
}

// Sorted returns what is kept, in order.
func (f *FirstN) Sorted() []Discrepancy {
	out := slices.Clone([]Discrepancy(f.h))
	SortDiscrepancies(out)
	return out
}

// lastFirst is a heap of discrepancies whose top is the last in order: the one to drop
// when one that comes before it arrives.
type lastFirst []Discrepancy

func (h lastFirst) Len() int           { return len(h) }
func (h lastFirst) Less(i, j int) bool { return CompareDiscrepancies(h[i], h[j]) > 0 }
func (h lastFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *lastFirst) Push(x any)        { *h = append(*h, x.(Discrepancy)) }
func (h *lastFirst) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}
