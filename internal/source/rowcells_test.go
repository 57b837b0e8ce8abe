package source

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// A CSV record with the wrong number of fields is an invalid_row whose key shows the
// record's key value (masked when the key is sensitive), for every strategy, read by
// file (hash over lines and fingerprints) or not.
func TestRaggedRowKeepsItsKey(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "s.csv")
	tgt := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(src, []byte("id,amount\n1,10\n2,20,extra\n3,30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tgt, []byte("id,amount\n1,10\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []diff.Strategy{diff.StrategyHash, diff.StrategyMerge} {
		for _, sensitive := range []bool{false, true} {
			s, err := Open(context.Background(), src, Options{OrderedBy: []string{"id"}})
			if err != nil {
				t.Fatal(err)
			}
			tg, err := Open(context.Background(), tgt, Options{OrderedBy: []string{"id"}})
			if err != nil {
				t.Fatal(err)
			}
			spec := diff.Spec{Keys: []diff.Column{{Name: "id", Sensitive: sensitive}}, Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}},
				Strategy: strategy, TempDir: dir}
			var c diff.Collect
			sum, err := diff.Run(context.Background(), spec, s, tg, &c)
			_ = s.Close()
			_ = tg.Close()
			if err != nil {
				t.Fatal(err)
			}
			if sum.InvalidRows != 2 || sum.Matched != 1 || sum.MissingInSource+sum.MissingInTarget != 1 {
				t.Fatalf("%s: %+v", strategy, sum)
			}
			want := map[string]string{"2": "source: expected 2 fields, got 3 at s.csv line 3", "3": "target: expected 2 fields, got 1 at t.csv line 3"}
			for _, d := range c.Discrepancies {
				if d.Kind != diff.KindInvalidRow {
					continue
				}
				key := d.Key[0].Value
				got := string(d.Side) + ": " + d.Reason + " at " + d.Position
				clear := !key.Null && want[key.Text] == got
				masked := !key.Null && strings.HasPrefix(key.Text, "***")
				if (sensitive && !masked) || (!sensitive && !clear) {
					t.Errorf("%s sensitive=%t: invalid_row key %+v: %s", strategy, sensitive, key, got)
				}
			}
		}
	}
}
