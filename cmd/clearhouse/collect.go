package main

import (
	"bufio"
	"container/heap"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// collector keeps the discrepancies the outputs need until the run ends, in memory
// that does not grow with their number:
//   - sample: for the table, the first tableRows of each kind in output order, which is
//     all the table can show;
//   - all: for json, csv and the results store, which take them all sorted, every one:
//     sorted runs of up to spillBytes are written to files in dir (gob) and merged at
//     the end.
//
// It counts them all either way.
type collector struct {
	sample     bool
	all        bool
	ds         []diff.Discrepancy // all: what is held, not yet in a run
	perKind    map[diff.Kind]*lastFirst
	n          int64 // discrepancies received
	sortedDS   bool  // ds is sorted
	dir        string
	spillBytes int64
	held       int64 // estimated bytes of ds
	runs       []string
	err        error
}

// defaultSpillBytes is how much the collector holds before it writes a sorted run.
const defaultSpillBytes = 64 << 20

func newCollector(sample, all bool, dir string) *collector {
	return &collector{sample: sample, all: all, perKind: map[diff.Kind]*lastFirst{}, dir: dir, spillBytes: defaultSpillBytes}
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
	if c.all {
		c.sortedDS = false
		c.held += discrepancyBytes(d)
		c.ds = append(c.ds, d)
		if c.held >= c.spillBytes {
			return c.spill()
		}
	}
	return nil
}

// discrepancyBytes estimates the memory a discrepancy holds.
func discrepancyBytes(d diff.Discrepancy) int64 {
	n := 128 + len(d.Reason) + len(d.Position)
	for _, kv := range d.Key {
		n += 40 + len(kv.Name) + len(kv.Value.Text)
	}
	for _, c := range d.Columns {
		n += 64 + len(c.Name) + len(c.Source.Text) + len(c.Target.Text)
	}
	return int64(n)
}

// maxRuns is how many run files are merged at once: past it, they are merged into one
// run first (each open run holds a file and a read buffer).
const maxRuns = 128

// spill writes what is held, sorted, as a run file.
func (c *collector) spill() error {
	diff.SortDiscrepancies(c.ds)
	if err := c.writeRun(slices.Values(c.ds)); err != nil {
		return err
	}
	clear(c.ds)
	c.ds, c.held = c.ds[:0], 0
	if len(c.runs) < maxRuns {
		return nil
	}
	// Merge the runs so far into one (a stable merge of stable runs stays stable).
	runs := c.runs
	c.runs = nil
	err := c.writeRun(c.merge(runs, nil))
	if err == nil {
		err = c.err
	}
	for _, path := range runs {
		_ = os.Remove(path)
	}
	return err
}

// writeRun writes ds, in order, as the next run file.
func (c *collector) writeRun(ds iter.Seq[diff.Discrepancy]) error {
	f, err := os.CreateTemp(c.dir, "clearhouse-discrepancies-*")
	if err != nil {
		return fmt.Errorf("output: keeping discrepancies on disk: %w", err)
	}
	c.runs = append(c.runs, f.Name())
	bw := bufio.NewWriterSize(f, 256<<10)
	enc := gob.NewEncoder(bw)
	for d := range ds {
		if err = enc.Encode(&d); err != nil {
			break
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("output: keeping discrepancies on disk: %w", err)
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

// sorted yields every discrepancy in output order: the runs and what is held, merged.
// It can be called more than once. A failure to read a run back ends it; c.err says so.
func (c *collector) sorted() iter.Seq[diff.Discrepancy] {
	if !c.sortedDS {
		diff.SortDiscrepancies(c.ds)
		c.sortedDS = true
	}
	if len(c.runs) == 0 {
		return slices.Values(c.ds)
	}
	return c.merge(c.runs, c.ds)
}

// stream is sorted for the results store: a failure to read a run back is yielded, so
// that the store keeps nothing of an incomplete set.
func (c *collector) stream() iter.Seq2[diff.Discrepancy, error] {
	return func(yield func(diff.Discrepancy, error) bool) {
		for d := range c.sorted() {
			if !yield(d, nil) {
				return
			}
		}
		if c.err != nil {
			yield(diff.Discrepancy{}, c.err)
		}
	}
}

// merge yields the discrepancies of the run files and then of held (sorted, arrived
// last), in output order.
func (c *collector) merge(runs []string, held []diff.Discrepancy) iter.Seq[diff.Discrepancy] {
	return func(yield func(diff.Discrepancy) bool) {
		var m runMerge
		for i, path := range runs {
			f, err := os.Open(path)
			if err != nil {
				c.err = fmt.Errorf("output: reading discrepancies back: %w", err)
				return
			}
			defer func() { _ = f.Close() }() // read only: nothing to lose
			dec := gob.NewDecoder(bufio.NewReaderSize(f, 64<<10))
			m.add(i, func() (diff.Discrepancy, bool) {
				var d diff.Discrepancy
				if err := dec.Decode(&d); err != nil {
					if !errors.Is(err, io.EOF) && c.err == nil {
						c.err = fmt.Errorf("output: reading discrepancies back: %w", err)
					}
					return d, false
				}
				return d, true
			})
		}
		next := 0
		m.add(len(runs), func() (diff.Discrepancy, bool) {
			if next == len(held) {
				return diff.Discrepancy{}, false
			}
			next++
			return held[next-1], true
		})
		for m.Len() > 0 {
			if !yield(m.heads[0].d) {
				return
			}
			m.advance()
		}
	}
}

// close removes the run files.
func (c *collector) close() {
	for _, path := range c.runs {
		_ = os.Remove(path)
	}
	c.runs = nil
}

// runMerge is a k-way merge of sorted runs: a heap of each run's next discrepancy,
// ties in run order (runs are written in arrival order), so the merge is the stable
// sort of the whole.
type runMerge struct{ heads []runHead }

type runHead struct {
	d    diff.Discrepancy
	run  int
	next func() (diff.Discrepancy, bool)
}

func (m *runMerge) add(run int, next func() (diff.Discrepancy, bool)) {
	if d, ok := next(); ok {
		heap.Push(m, runHead{d: d, run: run, next: next})
	}
}

// advance replaces the top with its run's next discrepancy, or drops the run.
func (m *runMerge) advance() {
	if d, ok := m.heads[0].next(); ok {
		m.heads[0].d = d
		heap.Fix(m, 0)
		return
	}
	heap.Pop(m)
}

func (m runMerge) Len() int { return len(m.heads) }
func (m runMerge) Less(i, j int) bool {
	if c := diff.CompareDiscrepancies(m.heads[i].d, m.heads[j].d); c != 0 {
		return c < 0
	}
	return m.heads[i].run < m.heads[j].run
}
func (m runMerge) Swap(i, j int) { m.heads[i], m.heads[j] = m.heads[j], m.heads[i] }
func (m *runMerge) Push(x any)   { m.heads = append(m.heads, x.(runHead)) }
func (m *runMerge) Pop() any {
	h := m.heads[len(m.heads)-1]
	m.heads = m.heads[:len(m.heads)-1]
	return h
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
