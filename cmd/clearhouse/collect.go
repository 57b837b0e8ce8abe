package main

import (
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
//     in a spool (sorted runs on disk past a sixteenth of --memory, at most 64 MiB, taken
//     out of the comparison's budget).
//
// It counts them all either way.
type collector struct {
	sample  bool
	perKind map[diff.Kind]*diff.FirstN
	all     *spool.Spool // nil unless all
	n       int64        // discrepancies received
}

// newCollector returns a collector; with all, its spool holds up to held bytes.
func newCollector(sample, all bool, dir string, held int64) *collector {
	c := &collector{sample: sample, perKind: map[diff.Kind]*diff.FirstN{}}
	if all {
		c.all = spool.New(dir, held)
	}
	return c
}

// Emit implements diff.Sink.
func (c *collector) Emit(d diff.Discrepancy) error {
	c.n++
	if c.sample {
		f := c.perKind[d.Kind]
		if f == nil {
			f = diff.NewFirstN(tableRows)
			c.perKind[d.Kind] = f
		}
		f.Add(d)
	}
	if c.all != nil {
		return c.all.Emit(d)
	}
	return nil
}

// sampled returns the table's discrepancies, sorted.
func (c *collector) sampled() []diff.Discrepancy {
	var out []diff.Discrepancy
	for _, f := range c.perKind {
		out = append(out, f.Sorted()...)
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

// stream is sorted for the results store, with a failure to read back yielded. With
// json or csv output too, a spool that went to disk is merged twice, once per writer:
// the store is written after the output, and holding the merge between them would mean
// holding every discrepancy.
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
