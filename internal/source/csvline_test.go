package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// csvRead is what one read of a CSVReader gave: cells (or the error), the position, the
// locator and the raw form; line is the row's line when NextLine returned it unsplit.
type csvRead struct {
	cells []diff.Cell
	err   string
	pos   string
	loc   uint64
	raw   string
	line  string
	loose bool // NextLineLoose returned line with its fields not counted
}

// readCSVAll reads data to the end or a fatal error, with Next (split < 0) or with
// NextLine(split) and LineCells.
func readCSVAll(t *testing.T, data []byte, opts CSVOptions, split int) []csvRead {
	return readCSVAllLoose(t, data, opts, split, false)
}

// readCSVAllLoose is readCSVAll, with NextLineLoose instead of NextLine when loose.
func readCSVAllLoose(t *testing.T, data []byte, opts CSVOptions, split int, loose bool) []csvRead {
	t.Helper()
	r, err := NewCSVReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil
	}
	var out []csvRead
	for calls := 0; calls <= len(data)+1; calls++ {
		var cells []diff.Cell
		var line string
		counted := true
		if split < 0 {
			cells, err = r.Next()
		} else {
			var b []byte
			if loose {
				b, counted, cells, err = r.NextLineLoose(split)
			} else {
				b, cells, err = r.NextLine(split)
			}
			if b != nil {
				line = string(b) // LineCells may reuse its memory
				if counted {
					cells = r.LineCells()
				}
			}
		}
		if err == io.EOF {
			return out
		}
		got := csvRead{cells: cloneCells(cells), pos: r.Position(), loc: r.Locator(), line: line, loose: line != "" && !counted}
		if raw, ok := r.RawRecord(); ok {
			got.raw = string(raw)
		}
		if err != nil {
			got.err = err.Error()
			var re *RowError
			if !errors.As(err, &re) {
				return append(out, got)
			}
			got.cells = re.Cells
		}
		out = append(out, got)
	}
	t.Fatalf("the reader does not progress")
	return nil
}

// checkNextLine: NextLine with LineCells reads exactly what Next reads, whatever the
// split, and returns unsplit only whole one-line records whose first split fields are
// not quoted.
func checkNextLine(t *testing.T, data []byte, opts CSVOptions) {
	t.Helper()
	want := readCSVAll(t, data, opts, -1)
	for split := 0; split <= 9; split++ {
		// Splits 5 and up: NextLineLoose(split-5), which may return a line of the wrong
		// count, uncounted: it must then be the record's bytes, without a quote.
		got := readCSVAllLoose(t, data, opts, split%5, split >= 5)
		for i := range got {
			if g := got[i]; g.loose {
				if i >= len(want) || g.line != want[i].raw || strings.IndexByte(g.line, opts.Quote) >= 0 {
					t.Fatalf("split %d, read %d: uncounted line %q", split, i, g.line)
				}
				got[i].line, got[i].cells, got[i].err = "", want[i].cells, want[i].err
				continue
			}
			if g := got[i]; g.line != "" {
				if g.line != g.raw || len(g.cells) == 0 {
					t.Fatalf("split %d, read %d: line %q, raw %q, %d cells", split, i, g.line, g.raw, len(g.cells))
				}
				for _, c := range g.cells[:min(split%5, len(g.cells))] {
					if strings.IndexByte(c.Text, opts.Quote) >= 0 || strings.IndexByte(c.Text, opts.Delimiter) >= 0 {
						t.Fatalf("split %d, read %d: line %q returned unsplit with field %q among the first %d", split, i, g.line, c.Text, split%5)
					}
				}
				got[i].line = ""
			}
		}
		if !slices.EqualFunc(got, want, func(a, b csvRead) bool {
			return slices.Equal(a.cells, b.cells) && a.err == b.err && a.pos == b.pos && a.loc == b.loc && a.raw == b.raw
		}) {
			t.Fatalf("split %d:\n got  %s\n want %s", split, fmtReads(got), fmtReads(want))
		}
	}
}

func fmtReads(rs []csvRead) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "\n  %+v", r)
	}
	return b.String()
}

func TestCSVNextLineSameAsNext(t *testing.T) {
	inputs := []string{
		"id,v,w\n1,a,b\n2,,\n3,\"x\",y\n4,y,\"q,\"\"r\"\"\"\n5,\"two\nlines\",z\n6,a\n7,a,b,c\n\n8,a\"b,c\n9,a,\"bad\"x\n10,a,\"open\n",
		"\xEF\xBB\xBFid,v,w\r\n1,a,b\r\n2,\"\",\"\"\r\n3,a,\"b\"\r",
		"id,v,w\n\"1\",a,b\n1,\"a\",b\n1,a,\"\"\n,,\n",
		"id,v,w\n1,a,\"unterminated",
	}
	for _, in := range inputs {
		for _, null := range []string{"", `\N`} {
			checkNextLine(t, []byte(in), CSVOptions{Delimiter: ',', Quote: '"', NullMarker: null, Name: "t.csv", BufferSize: 16})
			checkNextLine(t, []byte(in), CSVOptions{Delimiter: ',', Quote: '"', NullMarker: null, Name: "t.csv"})
			checkNextLine(t, []byte(in), CSVOptions{Delimiter: ',', Quote: '"', Name: "t.csv", Columns: []string{"w", "id"}})
		}
	}
}

// A line is returned unsplit exactly when the caller may split it: the first split
// fields not quoted, every field on the line.
func TestCSVNextLineWhenUnsplit(t *testing.T) {
	data := "id,v,w\n1,a,b\n2,\"a\",b\n3,a,\"b,c\"\n4,\"a\nb\",c\n5,a\n"
	r, err := NewCSVReader(strings.NewReader(data), CSVOptions{Name: "t.csv"})
	if err != nil {
		t.Fatal(err)
	}
	var unsplit []bool
	for {
		line, _, err := r.NextLine(2)
		if err == io.EOF {
			break
		}
		unsplit = append(unsplit, line != nil)
	}
	if want := []bool{true, false, true, false, false}; !slices.Equal(unsplit, want) {
		t.Fatalf("unsplit %v, want %v", unsplit, want)
	}
	if _, ok := r.LineDelimiter(); !ok {
		t.Fatal("a plain reader's lines can be split")
	}
	for _, opts := range []CSVOptions{{NullMarker: `\N`}, {Columns: []string{"w"}}} {
		r, err := NewCSVReader(strings.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.LineDelimiter(); ok {
			t.Fatalf("%+v: lines cannot be split at the delimiter alone", opts)
		}
		if line, cells, err := r.NextLine(0); line != nil || err != nil || len(cells) != len(r.Columns()) {
			t.Fatalf("%+v: NextLine gave %q %v %v, want the cells", opts, line, cells, err)
		}
		// Loose lines come with a NULL marker (said by LooseLines), not with a projection.
		delim, null, loose := r.LooseLines()
		line, _, cells, err := r.NextLineLoose(0)
		if err != nil || loose != (opts.NullMarker != "") || (line != nil) != loose || (cells != nil) == loose {
			t.Fatalf("%+v: LooseLines %v, NextLineLoose gave %q %v %v", opts, loose, line, cells, err)
		}
		if loose && (delim != ',' || null != opts.NullMarker || string(line) != `2,"a",b`) {
			t.Fatalf("%+v: LooseLines %q %q, line %q", opts, delim, null, line)
		}
	}
}

// Hash over CSV files whose rows come as lines (diff.LineReader) finds exactly what it
// finds from cells: ragged, multi-line and quoted records, values that do not parse,
// NULL and empty keys, duplicates and values spelled differently, with CRLF lines.
func TestHashOverLinesSameAsCells(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string { return writeFile(t, dir, name, text) }
	src := write("s.csv", "id,amount,day,memo\r\n"+
		"k1,10.5,2026-01-02,plain\r\n"+
		"k2,7,2026-01-03,\"quoted, memo\"\r\n"+
		"k3,x,2026-01-04,bad amount\r\n"+
		"k4,1\r\n"+ // ragged
		",1,2026-01-05,null key\r\n"+
		"\"k5\",2,2026-01-06,quoted key\r\n"+
		"k6,3,2026-01-07,\"two\r\nlines\"\r\n"+
		"k7,,,empty values\r\n"+
		"k8,4,2026-02-30,bad date\r\n"+
		"k9,5,2026-01-08,dup\r\n"+
		"k9,5,2026-01-08,dup\r\n"+
		"k10,6,2026-01-09,\"\"\r\n"+
		"k11,\"7\",2026-01-10,quoted amount\r\n")
	tgt := write("t.csv", "id,amount,day,memo\r\n"+
		"k1,10.50,2026-01-02,plain\r\n"+
		"k2,7,2026-01-03,\"quoted, memo\"\r\n"+
		"k3,x,2026-01-04,bad amount\r\n"+
		"k4,1,2026-01-01,x\r\n"+
		",1,2026-01-05,null key\r\n"+
		"k5,2,2026-01-06,quoted key\r\n"+
		"k6,3,2026-01-07,\"two\r\nlines!\"\r\n"+
		"k7,,,empty values\r\n"+
		"k8,4,2026-02-28,bad date\r\n"+
		"k9,5,2026-01-08,dup\r\n"+
		"k10,6,2026-01-09,\r\n"+
		"k11,7,2026-01-10,quoted amount\r\n"+
		"k12,8,2026-01-11,only in target\r\n")
	run := func(opts ...diff.Option) (diff.Summary, []diff.Discrepancy, diff.Stats) {
		s, err := Open(t.Context(), src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		tg, err := Open(t.Context(), tgt, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var c diff.Collect
		var st diff.Stats
		spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash, Compare: []diff.Column{
			{Name: "amount", Type: diff.TypeDecimal}, {Name: "day", Type: diff.TypeDate}, {Name: "memo"}}}
		sum, err := diff.Run(t.Context(), spec, s, tg, &c, append(opts, diff.WithStats(func(x diff.Stats) { st = x }))...)
		if err != nil {
			t.Fatal(err)
		}
		diff.SortDiscrepancies(c.Discrepancies)
		return sum, c.Discrepancies, st
	}
	sum, got, st := run()
	wantSum, want, _ := run(diff.WithoutFingerprints())
	if !st.Fingerprints {
		t.Fatal("local CSV files were not fingerprinted")
	}
	if sum != wantSum || !reflect.DeepEqual(got, want) {
		t.Fatalf("lines: %+v\n%s\ncells: %+v\n%s", sum, fmtDiscrepancies(got), wantSum, fmtDiscrepancies(want))
	}
	// k1 (10.5 = 10.50), k2, k5 (quoted key), k7 (NULLs) and k11 match; k6 and k10 ("" vs
	// NULL) mismatch; k9 is a duplicate; k4 (ragged in the source) and k12 are missing in
	// the source; k3 twice, the NULL keys twice, k4 and k8 (no 30 February) are invalid.
	if sum.Matched != 5 || sum.Mismatched != 2 || sum.DuplicateKeys != 1 || sum.MissingInSource != 2 ||
		sum.MissingInTarget != 0 || sum.InvalidRows != 6 {
		t.Fatalf("summary %+v", sum)
	}
}

func fmtDiscrepancies(ds []diff.Discrepancy) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "  %+v\n", d)
	}
	return b.String()
}
