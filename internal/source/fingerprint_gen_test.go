package source_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// TestFingerprintsOnGeneratedFiles: on generated CSV and JSON Lines pairs (every kind of
// injected discrepancy, quoted and multi-line fields, composite keys), hash with
// fingerprints reports exactly what hash with every value kept reports — with
// maxDiscrepancies too (the same discrepancies, in the same order), and spilling.
func TestFingerprintsOnGeneratedFiles(t *testing.T) {
	for _, format := range []source.Format{source.FormatCSV, source.FormatJSONL} {
		for _, composite := range []bool{false, true} {
			dir, ledger := generated(t, func(c *gen.Config) {
				c.Rows, c.Seed, c.Format, c.Composite = 20000, 7, format, composite
			})
			keys := []diff.Column{{Name: "id"}}
			if composite {
				keys = []diff.Column{{Name: "region"}, {Name: "id"}}
			}
			for _, lim := range []struct{ max, budget int64 }{{0, 0}, {37, 0}, {37, 64 << 10}, {0, 64 << 10}} {
				t.Run(fmt.Sprintf("%s/composite=%t/max=%d/budget=%d", format, composite, lim.max, lim.budget), func(t *testing.T) {
					spec := hashSpec(ledger, lim.budget, t.TempDir())
					spec.Keys, spec.MaxDiscrepancies = keys, lim.max
					run := func(opts ...diff.Option) (diff.Summary, []diff.Discrepancy, diff.Stats) {
						t.Helper()
						var st diff.Stats
						src, err := source.Open(t.Context(), filepath.Join(dir, "source."+string(format)), source.Options{})
						if err != nil {
							t.Fatal(err)
						}
						tgt, err := source.Open(t.Context(), filepath.Join(dir, "target."+string(format)), source.Options{})
						if err != nil {
							t.Fatal(err)
						}
						defer func() { _, _ = src.Close(), tgt.Close() }()
						var c diff.Collect
						sum, err := diff.Run(t.Context(), spec, src, tgt, &c, append(opts, diff.WithStats(func(s diff.Stats) { st = s }))...)
						if err != nil {
							t.Fatal(err)
						}
						return sum, c.Discrepancies, st
					}
					wantSum, want, _ := run(diff.WithoutFingerprints())
					gotSum, got, st := run()
					if !st.Fingerprints || st.Refetched == 0 {
						t.Errorf("fingerprints %t, %d rows read again", st.Fingerprints, st.Refetched)
					}
					if gotSum != wantSum {
						t.Errorf("summary %+v, want %+v", gotSum, wantSum)
					}
					if lim.max == 0 {
						diff.SortDiscrepancies(want)
						diff.SortDiscrepancies(got)
					}
					if len(got) != len(want) {
						t.Fatalf("%d discrepancies, want %d", len(got), len(want))
					}
					for i := range got {
						if g, w := string(got[i].AppendJSON(nil)), string(want[i].AppendJSON(nil)); g != w {
							t.Fatalf("discrepancy %d:\n got %s\nwant %s", i, g, w)
						}
					}
				})
			}
		}
	}
}
