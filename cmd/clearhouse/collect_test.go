package main

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
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
		table, full := newCollector(true, false, "", 0), newCollector(false, true, t.TempDir(), 0)
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
