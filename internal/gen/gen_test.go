package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

func TestDeterministic(t *testing.T) {
	for _, c := range []struct {
		format source.Format
		gzip   bool
		sorted bool
	}{{source.FormatCSV, false, true}, {source.FormatCSV, true, false}, {source.FormatJSONL, false, false}, {source.FormatParquet, false, true}} {
		t.Run(fmt.Sprintf("%s-gz=%v-sorted=%v", c.format, c.gzip, c.sorted), func(t *testing.T) {
			gen := func(dir string, seed uint64) {
				cfg := DefaultConfig(dir)
				cfg.Rows, cfg.Seed, cfg.Format, cfg.Gzip, cfg.Sorted = 2000, seed, c.format, c.gzip, c.sorted
				if err := Generate(cfg); err != nil {
					t.Fatal(err)
				}
			}
			a, b, other := t.TempDir(), t.TempDir(), t.TempDir()
			gen(a, 7)
			gen(b, 7)
			gen(other, 8)
			files, _ := os.ReadDir(a)
			if len(files) != 4 {
				t.Fatalf("%d files", len(files))
			}
			for _, f := range files {
				x, _ := os.ReadFile(filepath.Join(a, f.Name()))
				y, err := os.ReadFile(filepath.Join(b, f.Name()))
				if err != nil || !bytes.Equal(x, y) {
					t.Errorf("%s differs between two runs with the same seed", f.Name())
				}
				if strings.HasPrefix(f.Name(), "source") {
					z, _ := os.ReadFile(filepath.Join(other, f.Name()))
					if bytes.Equal(x, z) {
						t.Errorf("%s is the same for another seed", f.Name())
					}
				}
			}
		})
	}
}

// TestInjectionCounts injects one kind at a time and counts the outcomes.
func TestInjectionCounts(t *testing.T) {
	const rows = 500
	for _, c := range []struct {
		set  func(*Injections, int)
		n    int
		want func(n int, composite bool) map[diff.Kind]int // outcome kind → count
	}{
		{func(in *Injections, n int) { in.MissingInTarget = n }, 7, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindMissingInTarget: n} }},
		{func(in *Injections, n int) { in.MissingInSource = n }, 7, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindMissingInSource: n} }},
		{func(in *Injections, n int) { in.Mismatch = n }, 25, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindMismatch: n} }},
		{func(in *Injections, n int) { in.WithinTolerance = n }, 9, func(int, bool) map[diff.Kind]int { return nil }},
		{func(in *Injections, n int) { in.EdgeOn = n }, 9, func(int, bool) map[diff.Kind]int { return nil }},
		{func(in *Injections, n int) { in.EdgePast = n }, 9, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindMismatch: n} }},
		{func(in *Injections, n int) { in.DuplicateSource = n }, 9, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindDuplicateKey + "/source": n} }},
		{func(in *Injections, n int) { in.DuplicateTarget = n }, 9, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindDuplicateKey + "/target": n} }},
		{func(in *Injections, n int) { in.DuplicateBoth = n }, 5, func(n int, _ bool) map[diff.Kind]int {
			return map[diff.Kind]int{diff.KindDuplicateKey + "/source": n, diff.KindDuplicateKey + "/target": n}
		}},
		{func(in *Injections, n int) { in.Unparsable = n }, 13, func(n int, _ bool) map[diff.Kind]int {
			both := 0
			for ord := range n {
				if ord%6 == 4 {
					both++
				}
			}
			return map[diff.Kind]int{diff.KindInvalidRow: n + both}
		}},
		{func(in *Injections, n int) { in.NumericFormat = n }, 11, func(int, bool) map[diff.Kind]int { return nil }},
		{func(in *Injections, n int) { in.TimezoneEqual = n }, 11, func(int, bool) map[diff.Kind]int { return nil }},
		{func(in *Injections, n int) { in.NullKey = n }, 9, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindInvalidRow: n} }},
		{func(in *Injections, n int) { in.EmptyKey = n }, 9, func(n int, _ bool) map[diff.Kind]int { return map[diff.Kind]int{diff.KindInvalidRow: n} }},
		{func(in *Injections, n int) { in.UnicodeKeys = n }, 20, func(n int, _ bool) map[diff.Kind]int {
			m := map[diff.Kind]int{}
			kinds := []diff.Kind{"", diff.KindMismatch, diff.KindMissingInTarget, diff.KindMissingInSource}
			for ord := range n {
				k := 1
				if unicodeNames[ord%len(unicodeNames)] == "café" {
					k = 2
				}
				if kinds[ord%4] != "" {
					m[kinds[ord%4]] += k
				}
			}
			return m
		}},
		{func(in *Injections, n int) { in.SeparatorKeys = n }, 10, func(n int, _ bool) map[diff.Kind]int {
			m := map[diff.Kind]int{}
			for ord := range n {
				switch ord % 4 {
				case 0, 2:
					m[diff.KindMissingInTarget]++
					m[diff.KindMissingInSource]++
				case 3:
					m[diff.KindMismatch]++
				}
			}
			return m
		}},
	} {
		for _, composite := range []bool{false, true} {
			var in Injections
			c.set(&in, c.n)
			cfg := Config{Dir: t.TempDir(), Rows: rows, Seed: 3, Composite: composite, Sensitive: []string{"account"}, Inject: in}
			_, exp, err := RunExpected(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := map[diff.Kind]int{}
			for _, d := range exp.Discrepancies {
				k := d.Kind
				if k == diff.KindDuplicateKey {
					k += "/" + diff.Kind(d.Side)
				}
				got[k]++
			}
			want := c.want(c.n, composite)
			if want == nil {
				want = map[diff.Kind]int{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%+v composite=%v: outcomes %v, want %v", in, composite, got, want)
			}
			s := exp.Summary
			if s.Compared != s.Matched+int64(len(exp.Discrepancies)) || s.Truncated {
				t.Errorf("%+v: summary %+v inconsistent with %d discrepancies", in, s, len(exp.Discrepancies))
			}
		}
	}
}

func TestAtRate(t *testing.T) {
	in := AtRate(1_000_000, 0.001)
	total := 0
	for _, f := range in.all() {
		total += *f.n
		if *f.n < 62 || *f.n > 63 {
			t.Errorf("%s = %d", f.name, *f.n)
		}
	}
	if total != 1000 {
		t.Fatalf("total %d", total)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Rows: 10},
		{Dir: "x", Rows: 3, Inject: Injections{Mismatch: 4}},
		{Dir: "x", Rows: 10, Format: "xml"},
		{Dir: "x", Rows: 10, AmountTolerance: "1e-2"},
		{Dir: "x", Rows: 10, AmountTolerance: "0.0001"},
		{Dir: "x", Rows: 10, BookedAtTolerance: 1500 * time.Millisecond},
		{Dir: "x", Rows: 10, Sensitive: []string{"amount"}},
		{Dir: "x", Rows: 10, Format: source.FormatParquet, Gzip: true},
	} {
		if err := c.normalize(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestFilesMatchExpected reads the generated files back with internal/source,
// evaluates SEMANTICS.md on them independently of the generator, and requires
// exactly expected.json — positions, masks and counts included. It also checks row
// counts and, for sorted output, the key order.
func TestFilesMatchExpected(t *testing.T) {
	for _, c := range []struct {
		format    source.Format
		gzip      bool
		sorted    bool
		composite bool
		delim     byte
		null      string
	}{
		{format: source.FormatCSV, sorted: true},
		{format: source.FormatCSV, composite: true},
		{format: source.FormatCSV, sorted: true, composite: true, gzip: true, delim: ';', null: `\N`},
		{format: source.FormatJSONL, sorted: true, composite: true},
		{format: source.FormatJSONL, gzip: true},
		{format: source.FormatParquet, sorted: true},
		{format: source.FormatParquet, composite: true},
	} {
		name := fmt.Sprintf("%s-gz=%v-sorted=%v-composite=%v", c.format, c.gzip, c.sorted, c.composite)
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig(t.TempDir())
			cfg.Rows, cfg.Seed, cfg.Format, cfg.Gzip, cfg.Sorted, cfg.Composite = 700, 11, c.format, c.gzip, c.sorted, c.composite
			cfg.CSVDelimiter, cfg.CSVNullMarker = c.delim, c.null
			cfg.Inject.Unparsable = 12
			cfg.Inject.Mismatch = 24
			checkAgainstFiles(t, cfg)
		})
	}
}

// TestOnlyExtraKeys has no base rows at all.
func TestOnlyExtraKeys(t *testing.T) {
	for _, sorted := range []bool{false, true} {
		cfg := Config{Dir: t.TempDir(), Sorted: sorted, Composite: sorted, Inject: Injections{NullKey: 3, EmptyKey: 3, UnicodeKeys: 9, SeparatorKeys: 4}}
		checkAgainstFiles(t, cfg)
	}
}

func checkAgainstFiles(t *testing.T, cfg Config) {
	t.Helper()
	dir := cfg.Dir
	m, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := ReadExpected(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mf Manifest
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := json.Unmarshal(b, &mf); err != nil {
		t.Fatal(err)
	}
	spec, err := mf.DiffSpec() // the manifest's spec is a diff.Spec
	if err != nil {
		t.Fatal(err)
	}
	spec.MaskKey = m.Config.MaskKey // not in manifest.json
	if len(spec.Compare) != 7 || spec.Compare[0].AbsTolerance != "0.01" || spec.Compare[3].TimeTolerance != 2*time.Second || spec.Compare[5].Sensitive != slices.Contains(cfg.Sensitive, "account") {
		t.Fatalf("spec %+v", spec)
	}
	opts := source.Options{NullMarker: cfg.CSVNullMarker}
	if cfg.CSVDelimiter != 0 {
		opts.Delimiter = rune(cfg.CSVDelimiter)
	}
	sides := [2]sideData{}
	for side, fi := range []FileInfo{m.Source, m.Target} {
		sides[side] = readSide(t, filepath.Join(dir, fi.File), opts, spec, cfg.Sorted)
		if int64(sides[side].rows) != fi.Rows {
			t.Errorf("%s: read %d rows, manifest says %d", fi.File, sides[side].rows, fi.Rows)
		}
		if !reflect.DeepEqual(sides[side].cols, m.Columns) {
			t.Errorf("%s: columns %q", fi.File, sides[side].cols)
		}
	}
	got, matched := evaluateFiles(spec, sides)
	want := exp.Discrepancies
	diff.SortDiscrepancies(got)
	if matched != exp.Summary.Matched {
		t.Errorf("matched %d, expected.json says %d", matched, exp.Summary.Matched)
	}
	if len(got) != len(want) {
		t.Errorf("%d discrepancies from the files, %d in expected.json", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		g, _ := got[i].MarshalJSON()
		w, _ := want[i].MarshalJSON()
		if !bytes.Equal(g, w) {
			t.Fatalf("discrepancy %d:\nfiles:    %s\nexpected: %s", i, g, w)
		}
	}
	if exp.Summary != m.Summary || exp.Summary.Compared != exp.Summary.Matched+int64(len(want)) {
		t.Errorf("summary %+v / %+v", exp.Summary, m.Summary)
	}
}

type fileRow struct {
	cells []diff.Cell
	pos   string
}

type sideData struct {
	cols    []string
	rows    int
	byKey   map[string][]fileRow
	order   []string // keys in order of first appearance
	badKeys []fileRow
}

// tupleKey encodes a key tuple unambiguously (lengths, not separators).
func tupleKey(cells []diff.Cell) string {
	var b strings.Builder
	for _, c := range cells {
		b.WriteString(strconv.Itoa(len(c.Text)))
		b.WriteByte(':')
		b.WriteString(c.Text)
	}
	return b.String()
}

func readSide(t *testing.T, path string, opts source.Options, spec diff.Spec, sorted bool) sideData {
	t.Helper()
	r, err := source.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	d := sideData{cols: slices.Clone(r.Columns()), byKey: map[string][]fileRow{}}
	nk := len(spec.Keys)
	var prev []diff.Cell
	for {
		cells, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		d.rows++
		row := fileRow{cells: cloneCells(cells), pos: r.Position()}
		key := row.cells[:nk]
		if slices.ContainsFunc(key, func(c diff.Cell) bool { return c.Null || c.Text == "" }) {
			d.badKeys = append(d.badKeys, row)
			continue
		}
		if sorted && prev != nil && compareKeys(prev, key) > 0 {
			t.Fatalf("%s is not sorted: %+v at %s after %+v", path, key, row.pos, prev)
		}
		prev = key
		k := tupleKey(key)
		if _, ok := d.byKey[k]; !ok {
			d.order = append(d.order, k)
		}
		d.byKey[k] = append(d.byKey[k], row)
	}
	return d
}

func cloneCells(cells []diff.Cell) []diff.Cell {
	out := make([]diff.Cell, len(cells))
	for i, c := range cells {
		out[i] = diff.Cell{Text: strings.Clone(c.Text), Null: c.Null}
	}
	return out
}

// evaluateFiles applies SEMANTICS.md to the rows read back (columns are in the
// generator's order: keys, then the compared columns).
func evaluateFiles(spec diff.Spec, sides [2]sideData) ([]diff.Discrepancy, int64) {
	nk := len(spec.Keys)
	cols := append(append([]diff.Column{}, spec.Keys...), spec.Compare...)
	show := func(k int, c diff.Cell) diff.Cell {
		if c.Null || !cols[k].Sensitive {
			return c
		}
		return diff.Cell{Text: diff.Mask(spec.MaskKey, c.Text)}
	}
	keyOf := func(cells []diff.Cell) []diff.KeyValue {
		var kv []diff.KeyValue
		for k := range nk {
			kv = append(kv, diff.KeyValue{Name: cols[k].Name, Value: show(k, cells[k])})
		}
		return kv
	}
	var out []diff.Discrepancy
	for side, d := range sides {
		for _, r := range d.badKeys {
			for k := range nk {
				if c := r.cells[k]; c.Null || c.Text == "" {
					what := "empty"
					if c.Null {
						what = "NULL"
					}
					out = append(out, diff.Discrepancy{Kind: diff.KindInvalidRow, Key: keyOf(r.cells), Side: sideNames[side],
						Reason: "key column " + cols[k].Name + " is " + what, Position: r.pos})
					break
				}
			}
		}
	}
	problems := func(cells []diff.Cell) string {
		var ps []string
		for k := nk; k < len(cols); k++ {
			c := cells[k]
			if c.Null {
				continue
			}
			p := ""
			switch cols[k].Type {
			case diff.TypeDecimal:
				if _, ok := ratOf(c.Text); !ok {
					p = "is not a valid decimal"
				}
			case diff.TypeDate:
				if _, err := time.Parse(time.DateOnly, c.Text); err != nil {
					p = "is not a valid date"
				}
			case diff.TypeTimestamp:
				if _, err := time.Parse(time.RFC3339Nano, c.Text); err != nil {
					p = "is not a valid timestamp"
				}
			}
			if p != "" {
				ps = append(ps, fmt.Sprintf("column %s: %q %s", cols[k].Name, c.Text, p))
			}
		}
		return strings.Join(ps, "; ")
	}
	equal := func(k int, a, b diff.Cell) bool {
		if a.Null || b.Null {
			return a.Null == b.Null
		}
		switch cols[k].Type {
		case diff.TypeDecimal:
			x, _ := ratOf(a.Text)
			y, _ := ratOf(b.Text)
			tol, _ := ratOf(cols[k].AbsTolerance)
			d := new(big.Rat).Sub(x, y)
			return d.Abs(d).Cmp(tol) <= 0
		case diff.TypeTimestamp:
			x, _ := time.Parse(time.RFC3339Nano, a.Text)
			y, _ := time.Parse(time.RFC3339Nano, b.Text)
			d := x.Sub(y)
			return d <= cols[k].TimeTolerance && -d <= cols[k].TimeTolerance
		}
		return a.Text == b.Text
	}
	keys := slices.Clone(sides[0].order)
	for _, k := range sides[1].order {
		if _, ok := sides[0].byKey[k]; !ok {
			keys = append(keys, k)
		}
	}
	var matched int64
	for _, k := range keys {
		rs := [2][]fileRow{sides[0].byKey[k], sides[1].byKey[k]}
		if len(rs[0]) > 1 || len(rs[1]) > 1 {
			for side := range 2 {
				if len(rs[side]) > 1 {
					out = append(out, diff.Discrepancy{Kind: diff.KindDuplicateKey, Key: keyOf(rs[side][0].cells), Side: sideNames[side], Count: int64(len(rs[side]))})
				}
			}
			continue
		}
		bad := false
		for side := range 2 {
			if len(rs[side]) == 1 {
				if p := problems(rs[side][0].cells); p != "" {
					out = append(out, diff.Discrepancy{Kind: diff.KindInvalidRow, Key: keyOf(rs[side][0].cells), Side: sideNames[side], Reason: p, Position: rs[side][0].pos})
					bad = true
				}
			}
		}
		switch {
		case bad:
		case len(rs[1]) == 0:
			out = append(out, diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: keyOf(rs[0][0].cells)})
		case len(rs[0]) == 0:
			out = append(out, diff.Discrepancy{Kind: diff.KindMissingInSource, Key: keyOf(rs[1][0].cells)})
		default:
			s, t := rs[0][0].cells, rs[1][0].cells
			var diffs []diff.ColumnDiff
			for c := nk; c < len(cols); c++ {
				if !equal(c, s[c], t[c]) {
					diffs = append(diffs, diff.ColumnDiff{Name: cols[c].Name, Source: show(c, s[c]), Target: show(c, t[c])})
				}
			}
			if diffs == nil {
				matched++
			} else {
				out = append(out, diff.Discrepancy{Kind: diff.KindMismatch, Key: keyOf(s), Columns: diffs})
			}
		}
	}
	return out, matched
}

func ratOf(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if !plainDecimal(s) {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

// BenchmarkGenerate generates a 1M-row pair at a 0.1% discrepancy rate (set
// CLEARHOUSE_GEN_ROWS for another size, e.g. 10000000); reports rows/s (per side)
// and MB/s written (both files).
func BenchmarkGenerate(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("CLEARHOUSE_GEN_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	for _, f := range []source.Format{source.FormatCSV, source.FormatJSONL, source.FormatParquet} {
		for _, sorted := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/sorted=%v", f, sorted), func(b *testing.B) {
				dir := b.TempDir()
				var size int64
				for b.Loop() {
					cfg := Config{Dir: dir, Rows: rows, Seed: 1, Format: f, Sorted: sorted, Rate: 0.001, Sensitive: []string{"account"}}
					m, err := Run(cfg)
					if err != nil {
						b.Fatal(err)
					}
					size = 0
					for _, fi := range []FileInfo{m.Source, m.Target} {
						st, _ := os.Stat(filepath.Join(dir, fi.File))
						size += st.Size()
					}
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
			})
		}
	}
}
