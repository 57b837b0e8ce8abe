package main

import (
	"container/heap"
	"iter"
	"slices"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/spool"
)

// collector keeps the discrepancies the outputs need until the run ends, in memory
// that does not grow with their number:
//   - sample: for the table, the first tableRows of each kind in output order, which is
//     all the table can show;
//   - all: for json, csv and the results store, which take them all sorted, every one,
//     in a spool (sorted runs on disk past 64 MiB).
//
// It counts them all either way.
type collector struct {
	sample  bool
	perKind map[diff.Kind]*lastFirst
	all     *spool.Spool // nil unless all
	n       int64        // discrepancies received
}

func newCollector(sample, all bool, dir string) *collector {
	c := &collector{sample: sample, perKind: map[diff.Kind]*lastFirst{}}
	if all {
		c.all = spool.New(dir, 0)
	}
	return c
}

// Emit implements diff.Sink.
func (c *collector) Emit(d diff.Discrepancy) error {
	c.n++
	if c.sample {
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
	}
	if c.all != nil {
		return c.all.Emit(d)
	}
	return nil
}

// sampled returns the table's discrepancies, sorted.
func (c *collector) sampled() []diff.Discrepancy {
	var out []diff.Discrepancy
	for _, h := range c.perKind {
		out = append(out, *h...)
	}
	diff.SortDiscrepancies(out)
	return out
}

// sorted yields every discrepancy in output order (none unless all); err says whether
// it ended early.
func (c *collector) sorted() iter.Seq[diff.Discrepancy] {
	if c.all == nil {
		return slices.Values([]diff.Discrepancy(nil))
	}
	return c.all.Sorted()
}

// err is the failure to read the spool back, if any.
func (c *collector) err() error {
	if c.all == nil {
		return nil
	}
	return c.all.Err()
}

// stream is sorted for the results store, with a failure to read back yielded.
func (c *collector) stream() iter.Seq2[diff.Discrepancy, error] {
	if c.all == nil {
		return func(func(diff.Discrepancy, error) bool) {}
	}
	return c.all.All()
}

// close removes the spool's files.
func (c *collector) close() {
	if c.all != nil {
		c.all.Close()
	}
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
