package main

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

// For the table, the collector keeps at most tableRows discrepancies of each kind, and
// they are exactly those the table shows from the whole sorted set; it counts them all.
func TestCollectorKeepsWhatTheTableShows(t *testing.T) {
	kinds := []diff.Kind{diff.KindMissingInTarget, diff.KindMissingInSource, diff.KindMismatch, diff.KindDuplicateKey, diff.KindInvalidRow}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, total := range []int{0, 7, 100, 10000} {
		var all []diff.Discrepancy
		for i := range total {
			// Mostly mismatches, a few of the other kinds, in any order.
			k := diff.KindMismatch
			if i%10 == 0 {
				k = kinds[rng.IntN(len(kinds))]
			}
			all = append(all, diff.Discrepancy{Kind: k, Key: []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: fmt.Sprintf("k%06d", rng.IntN(1_000_000))}}}})
		}
		table, full := newCollector(true, false, ""), newCollector(false, true, t.TempDir())
		for _, d := range all {
			if err := table.Emit(d); err != nil {
				t.Fatal(err)
			}
			if err := full.Emit(d); err != nil {
				t.Fatal(err)
			}
		}
		kept := table.sampled()
		if len(kept) > len(kinds)*tableRows || table.n != int64(total) {
			t.Fatalf("%d: kept %d, counted %d", total, len(kept), table.n)
		}
		if got, want := sample(kept, tableRows), sample(slices.Collect(full.sorted()), tableRows); !reflect.DeepEqual(got, want) {
			t.Fatalf("%d: the table would show\n%v\nwant\n%v", total, got, want)
		}
	}
}

// For json and csv, the collector writes sorted runs past its memory and merges them:
// every discrepancy comes back, in exactly the order of a stable sort of all, and the
// run files are removed.
func TestCollectorSpillsSortedRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	kinds := []diff.Kind{diff.KindMissingInTarget, diff.KindMismatch, diff.KindInvalidRow}
	dir := t.TempDir()
	spill, full := newCollector(false, true, dir), newCollector(false, true, t.TempDir())
	spill.spillBytes = 1 << 10
	for i := range 5000 {
		d := diff.Discrepancy{Kind: kinds[rng.IntN(len(kinds))],
			Key: []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: fmt.Sprintf("k%03d", rng.IntN(500)), Null: i%97 == 0}}}}
		if d.Kind == diff.KindMismatch {
			d.Columns = []diff.ColumnDiff{{Name: "amount", Source: diff.Cell{Text: fmt.Sprint(i)}, Target: diff.Cell{Null: true}}}
		}
		if d.Kind == diff.KindInvalidRow {
			d.Side, d.Reason, d.Position = diff.SideSource, "bad", fmt.Sprintf("s.csv line %d", i) // ties but for the position
		}
		for _, c := range []*collector{spill, full} {
			if err := c.Emit(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 5,000 discrepancies in runs of ~4 KiB: more than maxRuns runs, merged on the way.
	if len(spill.runs) < 2 || len(spill.runs) > maxRuns {
		t.Fatalf("%d runs: the collector did not spill, or kept too many", len(spill.runs))
	}
	if len(full.runs) != 0 {
		t.Fatalf("the reference wrote %d runs", len(full.runs))
	}
	want := slices.Collect(full.sorted())
	// Read twice (the output, then the store), the same each time.
	for range 2 {
		got := slices.Collect(spill.sorted())
		if spill.err != nil {
			t.Fatal(spill.err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("merged %d discrepancies, want %d in the same order", len(got), len(want))
		}
	}
	spill.close()
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("left %d run files", len(left))
	}
}

// For the results store, a run file that cannot be read back is an error the stream
// yields after what it could read, never a shorter set that looks whole.
func TestCollectorStreamFailsOnALostRun(t *testing.T) {
	c := newCollector(false, true, t.TempDir())
	c.spillBytes = 1 << 10
	for i := range 200 {
		if err := c.Emit(diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: fmt.Sprintf("k%03d", i)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.runs) < 2 {
		t.Fatalf("%d runs, want the collector to have spilled", len(c.runs))
	}
	n := 0
	for range c.stream() {
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
	for _, e := range c.stream() {
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
