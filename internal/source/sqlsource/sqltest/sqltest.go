// Package sqltest holds test helpers shared by the tests of the SQL sources and of the
// checksum strategy: a generated pair's spec and expected set, and discrepancy sets
// compared as sorted JSON lines with invalid_row positions set aside (a row in a
// database has no line number: its position counts rows in the read that found it).
package sqltest

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
)

// Spec is the manifest's spec as a diff.Spec (gen.Manifest.DiffSpec).
func Spec(t testing.TB, m *gen.Manifest) diff.Spec {
	t.Helper()
	s, err := m.DiffSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Lines renders discrepancies as sorted JSON lines, each invalid_row's position
// checked against pos[side] (when there is one) and replaced by "@".
func Lines(t testing.TB, ds []diff.Discrepancy, pos map[diff.Side]*regexp.Regexp) []string {
	t.Helper()
	return LinesKeeping(t, ds, pos, "")
}

// LinesKeeping is Lines keeping the positions of invalid rows on side keep as they
// are, for a pair of a database and a file: a file's rows have exact positions.
func LinesKeeping(t testing.TB, ds []diff.Discrepancy, pos map[diff.Side]*regexp.Regexp, keep diff.Side) []string {
	t.Helper()
	ds = slices.Clone(ds)
	for i := range ds {
		if ds[i].Kind != diff.KindInvalidRow || (keep != "" && ds[i].Side == keep) {
			continue
		}
		if re := pos[ds[i].Side]; re != nil && !re.MatchString(ds[i].Position) {
			t.Errorf("invalid_row position %q does not match %s", ds[i].Position, re)
		}
		ds[i].Position = "@"
	}
	diff.SortDiscrepancies(ds)
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.AppendJSON(nil))
	}
	return out
}

// ExpectedLines converts the generator's expected set the same way.
func ExpectedLines(t testing.TB, exp *gen.Expected) []string {
	t.Helper()
	ds := make([]diff.Discrepancy, len(exp.Discrepancies))
	for i, e := range exp.Discrepancies {
		ds[i] = e.Discrepancy
	}
	return Lines(t, ds, nil)
}

// Compare reports the lines missing from got and those not wanted (at most 15 of
// each), prefixed with what.
func Compare(t testing.TB, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	gs, ws := map[string]bool{}, map[string]bool{}
	for _, g := range got {
		gs[g] = true
	}
	for _, w := range want {
		ws[w] = true
	}
	n := 0
	for _, w := range want {
		if !gs[w] && n < 15 {
			t.Errorf("%smissing: %s", what, w)
			n++
		}
	}
	for _, g := range got {
		if !ws[g] && n < 30 {
			t.Errorf("%sunexpected: %s", what, g)
			n++
		}
	}
	t.Errorf("%sgot %d discrepancies, want %d", what, len(got), len(want))
}

// CanonDecimal rewrites the values of the decimal column name in discrepancy lines
// to the engine's canonical decimal text ("10.500" and "10.5" both become "10.5") and
// sorts the lines again: MySQL's DECIMAL(p,s) pads every value to the column's scale,
// so a table's values are not the text the file or the generator wrote.
func CanonDecimal(t testing.TB, lines []string, name string) []string {
	t.Helper()
	col := diff.Column{Name: name, Type: diff.TypeDecimal}
	out := make([]string, len(lines))
	for i, l := range lines {
		var d diff.Discrepancy
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		for j := range d.Columns {
			if d.Columns[j].Name != name {
				continue
			}
			for _, v := range []*diff.Cell{&d.Columns[j].Source, &d.Columns[j].Target} {
				if v.Null {
					continue
				}
				n, err := col.Normalize(v.Text)
				if err != nil {
					t.Fatal(err)
				}
				v.Text = n
			}
		}
		out[i] = string(d.AppendJSON(nil))
	}
	slices.Sort(out)
	return out
}

// Run compares source and target with the auto strategy, which must choose strategy
// (merge exactly when both readers are ordered by the key), and checks that the
// summary is want; it returns the summary and the discrepancies found.
func Run(ctx context.Context, t testing.TB, spec diff.Spec, source, target diff.Reader, strategy diff.Strategy, want diff.Summary) (diff.Summary, []diff.Discrepancy) {
	t.Helper()
	spec.Strategy = diff.StrategyAuto
	if got := diff.ChooseStrategy(spec, source, target); got != strategy {
		t.Fatalf("auto chooses %s, want %s", got, strategy)
	}
	sink := &diff.Collect{}
	sum, err := diff.Run(ctx, spec, source, target, sink)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Strategy != strategy {
		t.Fatalf("strategy %s, want %s", sum.Strategy, strategy)
	}
	gotSum, _ := json.Marshal(sum)
	wantSum, _ := json.Marshal(want)
	if string(gotSum) != string(wantSum) {
		t.Errorf("summary %s\n   want %s", gotSum, wantSum)
	}
	return sum, sink.Discrepancies
}
