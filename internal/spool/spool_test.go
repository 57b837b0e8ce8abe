package spool

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// A spool writes sorted runs past its memory and merges them:
// every discrepancy comes back, in exactly the order of a stable sort of all, and the
// run files are removed.
func TestSpillsSortedRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	kinds := []diff.Kind{diff.KindMissingInTarget, diff.KindMismatch, diff.KindInvalidRow}
	dir := t.TempDir()
	spill, full := New(dir, 1<<10), New(t.TempDir(), 0)
	for i := range 5000 {
		d := diff.Discrepancy{Kind: kinds[rng.IntN(len(kinds))],
			Key: []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: fmt.Sprintf("k%03d", rng.IntN(500)), Null: i%97 == 0}}}}
		if d.Kind == diff.KindMismatch {
			d.Columns = []diff.ColumnDiff{{Name: "amount", Source: diff.Cell{Text: fmt.Sprint(i)}, Target: diff.Cell{Null: true}}}
		}
		if d.Kind == diff.KindInvalidRow {
			d.Side, d.Reason, d.Position = diff.SideSource, "bad", fmt.Sprintf("s.csv line %d", i) // ties but for the position
		}
		for _, c := range []*Spool{spill, full} {
			if err := c.Emit(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 5,000 discrepancies in runs of ~4 KiB: more than maxRuns runs, merged on the way.
	if len(spill.runs) < 2 || len(spill.runs) > maxRuns {
		t.Fatalf("%d runs: the spool did not spill, or kept too many", len(spill.runs))
	}
	if len(full.runs) != 0 {
		t.Fatalf("the reference wrote %d runs", len(full.runs))
	}
	want := slices.Collect(full.Sorted())
	// Read twice (the output, then the store), the same each time.
	for range 2 {
		got := slices.Collect(spill.Sorted())
		if spill.Err() != nil {
			t.Fatal(spill.Err())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("merged %d discrepancies, want %d in the same order", len(got), len(want))
		}
	}
	spill.Close()
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("left %d run files", len(left))
	}
}

// For the results store, a run file that cannot be read back is an error All
// yields after what it could read, never a shorter set that looks whole.
func TestAllFailsOnALostRun(t *testing.T) {
	c := New(t.TempDir(), 1<<10)
	for i := range 200 {
		if err := c.Emit(diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: fmt.Sprintf("k%03d", i)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.runs) < 2 {
		t.Fatalf("%d runs, want the spool to have spilled", len(c.runs))
	}
	n := 0
	for _, err := range c.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 200 {
		t.Fatalf("streamed %d, want 200", n)
	}
	if err := os.Remove(c.runs[0]); err != nil {
		t.Fatal(err)
	}
	var err error
	n = 0
	for _, e := range c.All() {
		if e != nil {
			err = e
			break
		}
		n++
	}
	if err == nil || !strings.Contains(err.Error(), "reading discrepancies back") {
		t.Fatalf("after %d discrepancies: %v, want the lost run's error", n, err)
	}
}

// Split gives the spool a sixteenth of the budget, at most DefaultLimit, and the
// comparison the rest, never below the smallest budget.
func TestSplit(t *testing.T) {
	for _, c := range []struct{ budget, engine, held int64 }{
		{0, diff.DefaultMemoryBudget - diff.DefaultMemoryBudget/16, diff.DefaultMemoryBudget / 16},
		{256 << 20, 240 << 20, 16 << 20},
		{4 << 30, 4<<30 - DefaultLimit, DefaultLimit},
		{diff.MinMemoryBudget, diff.MinMemoryBudget, diff.MinMemoryBudget / 16},
	} {
		if engine, held := Split(c.budget); engine != c.engine || held != c.held {
			t.Errorf("Split(%d) = %d, %d; want %d, %d", c.budget, engine, held, c.engine, c.held)
		}
	}
}
