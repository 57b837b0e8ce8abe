package main

import (
	"container/heap"
	"slices"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// collector keeps the discrepancies the output needs: every one for json, csv and the
// results store, which list them all (sorted, so held until the end); for the table
// alone, the first tableRows of each kind in output order, which is all the table can
// show (sample), so that its memory does not grow with the number of discrepancies.
type collector struct {
	all     bool
	ds      []diff.Discrepancy
	perKind map[diff.Kind]*lastFirst
	n       int64 // discrepancies received
}

func newCollector(all bool) *collector {
	return &collector{all: all, perKind: map[diff.Kind]*lastFirst{}}
}

// Emit implements diff.Sink.
func (c *collector) Emit(d diff.Discrepancy) error {
	c.n++
	if c.all {
		c.ds = append(c.ds, d)
		return nil
	}
	h := c.perKind[d.Kind]
	if h == nil {
		h = &lastFirst{}
		c.perKind[d.Kind] = h
	}
	switch {
	case len(*h) < tableRows:
		heap.Push(h, d)
	case diff.CompareDiscrepancies(d, (*h)[0]) < 0:
		(*h)[0] = d
		heap.Fix(h, 0)
	}
	return nil
}

// discrepancies returns what was kept, sorted.
func (c *collector) discrepancies() []diff.Discrepancy {
	if !c.all {
		c.ds = c.ds[:0]
		for _, h := range c.perKind {
			c.ds = append(c.ds, *h...)
		}
	}
	diff.SortDiscrepancies(c.ds)
	return c.ds
}

// lastFirst is a heap of discrepancies whose top is the last in output order: the one
// to drop when a discrepancy that comes before it arrives.
type lastFirst []diff.Discrepancy

func (h lastFirst) Len() int           { return len(h) }
func (h lastFirst) Less(i, j int) bool { return diff.CompareDiscrepancies(h[i], h[j]) > 0 }
func (h lastFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *lastFirst) Push(x any)        { *h = append(*h, x.(diff.Discrepancy)) }
func (h *lastFirst) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = slices.Delete(old, len(old)-1, len(old))
	return d
}
