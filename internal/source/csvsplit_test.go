package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// The split merge (diff.RangeSplitter over local CSV files) must give exactly what the
// in-step merge gives: the same summary, outcomes, order, positions and errors. Files
// are over 1 MiB so that the engine splits them.

const splitRows = 60000

// splitFiles writes a source and a target of splitRows rows (ids K0000000...), letting
// edit change or drop each row ("" drops it) or insert lines before it.
func splitFiles(t *testing.T, edit func(side, i int, row string) string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	var paths [2]string
	for side, name := range []string{"source.csv", "target.csv"} {
		var b strings.Builder
		b.WriteString("id,amount,note\n")
		for i := range splitRows {
			row := fmt.Sprintf("K%07d,%d.%02d,n%d\n", i, i%1000, i%100, i%7)
			if side == 1 && i%501 == 0 {
				row = fmt.Sprintf("K%07d,%d.%02d,n%d\n", i, i%1000+1, i%100, i%7) // mismatch
			}
			if side == 0 && i%703 == 0 || side == 1 && i%907 == 0 {
				row = "" // missing on the other side
			}
			if edit != nil {
				row = edit(side, i, row)
			}
			b.WriteString(row)
		}
		paths[side] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[side], []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return paths[0], paths[1]
}

type splitResult struct {
	sum  diff.Summary
	ds   []diff.Discrepancy
	err  string
	prog diff.Progress
}

// limits are the spec's maxDiscrepancies and memory budget.
type limits struct{ max, budget int64 }

func runSplit(t *testing.T, src, tgt string, lim limits, opts ...diff.Option) splitResult {
	t.Helper()
	ctx := context.Background()
	rd := openPair(ctx, t, src, tgt)
	spec := diff.Spec{
		Keys:             []diff.Column{{Name: "id"}},
		Compare:          []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "note"}},
		Strategy:         diff.StrategyMerge,
		MaxDiscrepancies: lim.max,
		MemoryBudget:     lim.budget,
	}
	var res splitResult
	var col diff.Collect
	opts = append(opts, diff.WithProgress(func(p diff.Progress) { res.prog = p }))
	sum, err := diff.Run(ctx, spec, rd[0], rd[1], &col, opts...)
	res.sum, res.ds = sum, col.Discrepancies
	if err != nil {
		res.err = err.Error()
	}
	return res
}

// checkSplit runs both ways and compares; split says whether the split must have run.
func checkSplit(t *testing.T, src, tgt string, lim limits, split bool) splitResult {
	t.Helper()
	got := runSplit(t, src, tgt, lim)
	want := runSplit(t, src, tgt, lim, diff.WithoutRangeSplit())
	if want.sum.Split {
		t.Fatal("WithoutRangeSplit: the merge was split")
	}
	if got.sum.Split != split {
		t.Fatalf("split ran: %v, want %v", got.sum.Split, split)
	}
	got.sum.Split = false
	if !reflect.DeepEqual(got.sum, want.sum) {
		t.Fatalf("summary:\n got %+v\nwant %+v", got.sum, want.sum)
	}
	if got.err != want.err {
		t.Fatalf("error:\n got %q\nwant %q", got.err, want.err)
	}
	if got.prog != want.prog {
		t.Fatalf("final progress: got %+v, want %+v", got.prog, want.prog)
	}
	if len(got.ds) != len(want.ds) {
		t.Fatalf("%d discrepancies, want %d", len(got.ds), len(want.ds))
	}
	for i := range got.ds {
		if !reflect.DeepEqual(got.ds[i], want.ds[i]) {
			t.Fatalf("discrepancy %d:\n got %+v\nwant %+v", i, got.ds[i], want.ds[i])
		}
	}
	return got
}

func TestSplitMergeMatchesInStep(t *testing.T) {
	src, tgt := splitFiles(t, nil)
	res := checkSplit(t, src, tgt, limits{}, true)
	if res.sum.Mismatched == 0 || res.sum.MissingInSource == 0 || res.sum.MissingInTarget == 0 {
		t.Fatalf("the fixture should have every kind: %+v", res.sum)
	}
}

func TestSplitMergeDuplicatesAtSplit(t *testing.T) {
	// Rows around the middle all have one key (on both sides, a different count each), so
	// the split key must move past them.
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		if i >= splitRows/2-300 && i < splitRows/2+300+side*7 {
			return fmt.Sprintf("K%07d,1.00,dup\n", splitRows/2-300)
		}
		return row
	})
	res := checkSplit(t, src, tgt, limits{}, true)
	if res.sum.DuplicateKeys != 2 {
		t.Fatalf("duplicate keys: %d, want 2 (one per side)", res.sum.DuplicateKeys)
	}
}

func TestSplitMergeQuotedNewlineAtSplit(t *testing.T) {
	// The middle of the source is rows whose quoted note holds lines that look like
	// records in key order: a probe there lands inside a quoted field, and the split
	// must be refused (the first half ends in an unterminated quoted field).
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		if side == 0 && i > splitRows/4+7 && i < 3*splitRows/4 && row != "" {
			// Most bytes are the padding line, so the middle lands there and the probe
			// resyncs on the first record-like line.
			return fmt.Sprintf("K%07d,%d.%02d,\"x\n%s\nK%07da,1.00,y\nK%07db,1.00,y\n\"\n", i, i%1000, i%100, strings.Repeat("p", 300), i, i)
		}
		return row
	})
	res := checkSplit(t, src, tgt, limits{}, false)
	if res.sum.Mismatched == 0 {
		t.Fatalf("the notes differ: %+v", res.sum)
	}
}

func TestSplitMergeQuotedNewlineOnRecordStart(t *testing.T) {
	// Quoted line breaks everywhere, in fields that do not look like records: the
	// probes resync past them and the split is exact.
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		if row == "" {
			return row
		}
		return fmt.Sprintf("K%07d,%d.%02d,\"a\nb\"\n", i, i%1000, i%100)
	})
	checkSplit(t, src, tgt, limits{}, true)
}

func TestSplitMergeOutOfOrder(t *testing.T) {
	for _, c := range []struct {
		name      string
		side, row int
	}{{"source first half", 0, splitRows / 5}, {"target second half", 1, 4 * splitRows / 5}, {"target at the split", 1, splitRows / 2}} {
		t.Run(c.name, func(t *testing.T) {
			src, tgt := splitFiles(t, func(side, i int, row string) string {
				if side == c.side && i == c.row {
					return "K0000005,1.00,late\n"
				}
				return row
			})
			res := checkSplit(t, src, tgt, limits{}, false)
			if !strings.Contains(res.err, "not in key order") {
				t.Fatalf("error %q", res.err)
			}
		})
	}
}

func TestSplitMergeInvalidRowsBothSides(t *testing.T) {
	// Ragged rows, empty keys and unparsable amounts all over both files, positions exact.
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		switch {
		case row == "":
			return row
		case i%1009 == side:
			return "ragged," + row
		case i%1013 == 3:
			return ",1.00,nokey\n" + row
		case i%997 == 5+side:
			return fmt.Sprintf("K%07d,abc,n\n", i)
		}
		return row
	})
	res := checkSplit(t, src, tgt, limits{}, true)
	var positions int
	for _, d := range res.ds {
		if d.Kind == diff.KindInvalidRow && d.Position != "" {
			positions++
		}
	}
	if res.sum.InvalidRows < 100 || positions != int(res.sum.InvalidRows) {
		t.Fatalf("invalid rows %d, with positions %d", res.sum.InvalidRows, positions)
	}
}

func TestSplitMergeTruncation(t *testing.T) {
	// maxDiscrepancies: the first N in key order, cut short exactly as in step (the
	// in-step merge runs: counts cover what was read).
	src, tgt := splitFiles(t, nil)
	for _, max := range []int64{1, 50, 150} {
		res := checkSplit(t, src, tgt, limits{max: max}, false)
		if !res.sum.Truncated || int64(len(res.ds)) != max {
			t.Fatalf("max %d: truncated %v, %d outcomes", max, res.sum.Truncated, len(res.ds))
		}
	}
}

func TestSplitMergeBufferFull(t *testing.T) {
	// More outcomes than half the memory budget holds: the in-step merge runs instead.
	src, tgt := splitFiles(t, nil)
	checkSplit(t, src, tgt, limits{budget: 4096}, false)
	checkSplit(t, src, tgt, limits{budget: 64 << 20}, true)
}

func TestSplitMergeCancelled(t *testing.T) {
	src, tgt := splitFiles(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rd := openPair(ctx, t, src, tgt)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyMerge}
	_, err := diff.Run(ctx, spec, rd[0], rd[1], &diff.Collect{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// openPair opens both files as sorted by id, closed at the end of the test.
func openPair(ctx context.Context, t *testing.T, src, tgt string) [2]diff.Reader {
	t.Helper()
	var rd [2]diff.Reader
	for i, p := range []string{src, tgt} {
		r, err := Open(ctx, p, Options{OrderedBy: []string{"id"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		rd[i] = r
	}
	return rd
}

// sections opens a file and returns the reader of its whole section (SplitAt its end).
func section(ctx context.Context, t *testing.T, path string) diff.Reader {
	t.Helper()
	r, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	rs := r.(diff.RangeSplitter)
	_, end, ok := rs.SplitRange()
	if !ok {
		t.Fatal("not splittable")
	}
	first, _, err := rs.SplitAt(end)
	if err != nil {
		t.Fatal(err)
	}
	return first
}

func TestSectionNextSame(t *testing.T) {
	// Record i of the source against record i of the target: the target reads a record
	// without parsing it exactly when it is one line, byte for byte the source's.
	src := "id,amount,note\n" +
		"K0,1.00,a\n" + // 1: same
		"K1,1.00,a\n" + // 2: same
		"K2,1.00,a\n" + // 3: amount differs
		"K3,\"a,b\",x\n" + // 4: same, quoted on one line
		"K4,\"a\nb\",x\n" + // 5: same, quoted over two lines
		"K5,1.00,a\r\n" + // 7: same, CRLF
		"\nK6,1.00,a\n" + // 9: same, after an empty line in the source only
		"K7,1.00\n" + // 10: same, ragged
		"K8,1.00,a\n" + // 11: same
		"K8a,1.00,a\r\r\n" + // 12: its note is "a\r", the target's "a"
		"K8b,1.00,a\r\n" + // 13: its note is "a", the target's "a\r"
		"K9,1.00,a" // 14: same, without a line break at the end
	tgt := "id,amount,note\n" +
		"K0,1.00,a\n" +
		"K1,1.00,a\n" +
		"K2,1.01,a\n" +
		"K3,\"a,b\",x\n" +
		"K4,\"a\nb\",x\n" +
		"K5,1.00,a\r\n" +
		"K6,1.00,a\n" +
		"K7,1.00\n" +
		"K8,1.00,a\n" +
		"K8a,1.00,a\r\n" +
		"K8b,1.00,a\r\r\n" +
		"K9,1.00,a"
	dir := t.TempDir()
	write := func(name, data string) string { return writeFile(t, dir, name, data) }
	srcPath, tgtPath := write("source.csv", src), write("target.csv", tgt)
	ctx := context.Background()
	want, err := readAll(t, newCSV(t, tgt, CSVOptions{Name: "target.csv"}))
	if err != nil {
		t.Fatal(err)
	}
	s, g := section(ctx, t, srcPath), section(ctx, t, tgtPath)
	sr, ok := g.(diff.SameRecordReader)
	if !ok {
		t.Fatal("a section is not a diff.SameRecordReader")
	}
	var got []entry
	var twins []string
	for range want {
		cells, err := s.Next()
		if err != nil && !IsRowError(err) {
			t.Fatal(err)
		}
		if err == nil && sr.NextSame(s) {
			sb, _ := s.(diff.RawRecorder).RawRecord()
			if gb, ok := g.(diff.RawRecorder).RawRecord(); !ok || string(gb) != string(sb) {
				t.Fatalf("%s: RawRecord %q, the source's %q", g.Position(), gb, sb)
			}
			got = append(got, entry{cells: cloneCells(cells), pos: g.Position()})
			twins = append(twins, strings.Clone(cells[0].Text))
			continue
		}
		e, err := readAll(t, &limitReader{g, 1})
		if err != nil || len(e) != 1 {
			t.Fatalf("target: %v, %d entries", err, len(e))
		}
		got = append(got, e[0])
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("target read with NextSame:\n got %+v\nwant %+v", got, want)
	}
	if wantTwins := []string{"K0", "K1", "K3", "K5", "K6", "K8"}; !reflect.DeepEqual(twins, wantTwins) {
		t.Fatalf("records read without parsing: %q, want %q", twins, wantTwins)
	}
	if _, err := g.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}

	// Another layout (columns in another order) never reads the source's records.
	other := section(ctx, t, write("other.csv", "id,note,amount\nK0,1.00,a\nK1,1.00,a\n"))
	s2 := section(ctx, t, srcPath)
	for range 2 {
		if _, err := s2.Next(); err != nil {
			t.Fatal(err)
		}
		if other.(diff.SameRecordReader).NextSame(s2) {
			t.Fatal("NextSame across layouts")
		}
		if _, err := other.Next(); err != nil {
			t.Fatal(err)
		}
	}
}

// limitReader returns at most n records of r.
type limitReader struct {
	diff.Reader
	n int
}

func (l *limitReader) Next() ([]diff.Cell, error) {
	if l.n == 0 {
		return nil, io.EOF
	}
	l.n--
	return l.Reader.Next()
}

func TestSplitMergeTargetColumnsReordered(t *testing.T) {
	// The target's columns in another order: its records are never the source's bytes,
	// the halves compare values.
	src, tgt := splitFiles(t, nil)
	b, err := os.ReadFile(tgt)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		f := strings.Split(l, ",")
		lines[i] = f[0] + "," + f[2] + "," + f[1]
	}
	if err := os.WriteFile(tgt, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := checkSplit(t, src, tgt, limits{}, true)
	if res.sum.Matched == 0 || res.sum.Mismatched == 0 {
		t.Fatalf("%+v", res.sum)
	}
}

func TestSplitMergeSameBytesInvalidAndDuplicate(t *testing.T) {
	// Records that are the same bytes on both sides but invalid (an unparsable amount), or
	// duplicated (on one side or both): the target reads them as the source's, and the
	// outcomes and positions are the in-step merge's.
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		switch {
		case row == "":
			return row
		case i%991 == 7:
			return fmt.Sprintf("K%07d,abc,n\n", i)
		case i%983 == 11:
			return row + row
		case i%977 == 13+side:
			return row + row + row
		}
		return row
	})
	res := checkSplit(t, src, tgt, limits{}, true)
	if res.sum.InvalidRows < 100 || res.sum.DuplicateKeys < 100 {
		t.Fatalf("%+v", res.sum)
	}
}

func TestSectionNextSameGivesUp(t *testing.T) {
	// Every target record differs from the source's: after a window of compares NextSame
	// stops comparing. The records read are still every record.
	dir := t.TempDir()
	var src, tgt strings.Builder
	src.WriteString("id,amount\n")
	tgt.WriteString("id,amount\n")
	rows := 2*sameWindow + 10
	for i := range rows {
		fmt.Fprintf(&src, "K%07d,1.00\n", i)
		fmt.Fprintf(&tgt, "K%07d,2.00\n", i)
	}
	ctx := context.Background()
	var rd [2]diff.Reader
	for i, data := range []string{src.String(), tgt.String()} {
		p := filepath.Join(dir, fmt.Sprintf("f%d.csv", i))
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		rd[i] = section(ctx, t, p)
	}
	s, g := rd[0].(*sectionReader), rd[1].(*sectionReader)
	for i := range rows {
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		if g.NextSame(s) {
			t.Fatalf("record %d: NextSame on different bytes", i)
		}
		cells, err := g.Next()
		if err != nil || cells[1].Text != "2.00" || g.Position() != fmt.Sprintf("f1.csv line %d", i+2) {
			t.Fatalf("record %d: %v %v at %s", i, cells, err, g.Position())
		}
		if i == sameWindow+1 && g.same {
			t.Fatal("still comparing after a window without a same record")
		}
	}
}
