// Package spool keeps discrepancies for a writer that needs every one of them, sorted
// (a JSON or CSV document, the results store), in memory that does not grow with their
// number: past a size, what is held is sorted and written to a file as a run, and the
// runs are merged when read.
package spool

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

// DefaultLimit is how much a spool holds in memory before it writes a sorted run.
const DefaultLimit = 64 << 20

// Split divides a run's memory budget (0: diff.DefaultMemoryBudget) between the
// comparison and the spool of its discrepancies: the spool holds a sixteenth of it (at
// most DefaultLimit), the comparison gets the rest (never less than
// diff.MinMemoryBudget). Both live in one heap, which the Go collector lets grow to
// twice what is live; the comparison sizes its pool for that, and what the spool holds
// must come out of the same budget, or a run with many discrepancies goes past it (a
// 10M-row pair with 10% of them peaked at 425 MiB RSS at --memory 256MiB, when the
// spool held 64 MiB whatever the budget).
func Split(budget int64) (engine, held int64) {
	if budget <= 0 {
		budget = diff.DefaultMemoryBudget
	}
	held = min(DefaultLimit, budget/16)
	return max(budget-held, diff.MinMemoryBudget), held
}

// maxRuns is how many run files are merged at once: past it, they are merged into one
// run first (each open run holds a file and a read buffer).
const maxRuns = 128

// Spool is a diff.Sink that keeps every discrepancy. Close removes its files.
type Spool struct {
	dir    string
	limit  int64
	ds     []diff.Discrepancy // held, not yet in a run
	sorted bool               // ds is sorted
	held   int64              // estimated bytes of ds
	runs   []string
	err    error
}

// New returns a spool writing its runs to dir (os.TempDir() when empty) past limit
// bytes held (DefaultLimit when 0).
func New(dir string, limit int64) *Spool {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Spool{dir: dir, limit: limit}
}

// Emit implements diff.Sink.
func (s *Spool) Emit(d diff.Discrepancy) error {
	s.sorted = false
	s.held += discrepancyBytes(d)
	s.ds = append(s.ds, d)
	if s.held >= s.limit {
		return s.spill()
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

// spill writes what is held, sorted, as a run file.
func (s *Spool) spill() error {
	diff.SortDiscrepancies(s.ds)
	if err := s.writeRun(slices.Values(s.ds)); err != nil {
		return err
	}
	clear(s.ds)
	s.ds, s.held = s.ds[:0], 0
	if len(s.runs) < maxRuns {
		return nil
	}
	// Merge the runs so far into one (a stable merge of stable runs stays stable).
	runs := s.runs
	s.runs = nil
	err := s.writeRun(s.merge(runs, nil))
	if err == nil {
		err = s.err
	}
	for _, path := range runs {
		_ = os.Remove(path)
	}
	return err
}

// writeRun writes ds, in order, as the next run file.
func (s *Spool) writeRun(ds iter.Seq[diff.Discrepancy]) error {
	f, err := os.CreateTemp(s.dir, "clearhouse-discrepancies-*")
	if err != nil {
		return fmt.Errorf("keeping discrepancies on disk: %w", err)
	}
	s.runs = append(s.runs, f.Name())
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
		return fmt.Errorf("keeping discrepancies on disk: %w", err)
	}
	return nil
}

// Sorted yields every discrepancy in diff.SortDiscrepancies order (stable: ties in
// arrival order): the runs and what is held, merged. It can be called more than once.
// A failure to read a run back ends it early; Err says so.
func (s *Spool) Sorted() iter.Seq[diff.Discrepancy] {
	if !s.sorted {
		diff.SortDiscrepancies(s.ds)
		s.sorted = true
	}
	if len(s.runs) == 0 {
		return slices.Values(s.ds)
	}
	return s.merge(s.runs, s.ds)
}

// Err is the first failure to read a run back.
func (s *Spool) Err() error { return s.err }

// All is Sorted with the failure to read a run back yielded after what could be read,
// for a writer that must not take a shorter set for the whole (the results store).
func (s *Spool) All() iter.Seq2[diff.Discrepancy, error] {
	return func(yield func(diff.Discrepancy, error) bool) {
		for d := range s.Sorted() {
			if !yield(d, nil) {
				return
			}
		}
		if s.err != nil {
			yield(diff.Discrepancy{}, s.err)
		}
	}
}

// merge yields the discrepancies of the run files and then of held (sorted, arrived
// last), in order.
func (s *Spool) merge(runs []string, held []diff.Discrepancy) iter.Seq[diff.Discrepancy] {
	return func(yield func(diff.Discrepancy) bool) {
		var m runMerge
		for i, path := range runs {
			f, err := os.Open(path)
			if err != nil {
				s.err = fmt.Errorf("reading discrepancies back: %w", err)
				return
			}
			defer func() { _ = f.Close() }() // read only: nothing to lose
			dec := gob.NewDecoder(bufio.NewReaderSize(f, 64<<10))
			m.add(i, func() (diff.Discrepancy, bool) {
				var d diff.Discrepancy
				if err := dec.Decode(&d); err != nil {
					if !errors.Is(err, io.EOF) && s.err == nil {
						s.err = fmt.Errorf("reading discrepancies back: %w", err)
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

// Close removes the run files.
func (s *Spool) Close() {
	for _, path := range s.runs {
		_ = os.Remove(path)
	}
	s.runs = nil
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
