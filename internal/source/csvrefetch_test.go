package source

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// TestCSVRefetch: every record read again at its Locator is the record Next returned:
// after a BOM and a header, across empty lines, CRLF, quoted fields with delimiters,
// doubled quotes and line breaks, NULL and "" — concurrently, while Next goes on.
func TestCSVRefetch(t *testing.T) {
	const text = "\xEF\xBB\xBFid,amount,note\r\n" +
		"a,1.5,plain\r\n" +
		"\r\n" +
		"b,,\"\"\n" +
		"\"c,1\",2,\"two\nlines, \"\"quoted\"\"\"\n" +
		"\n\n" +
		"d,3,last"
	path := filepath.Join(t.TempDir(), "s.csv")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(context.Background(), "file://"+path, Options{Columns: []string{"note", "id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rd.Close() }()
	rf := rd.(diff.Refetcher)
	var first uint64
	n := 0
	locs, rows, raws := readLocated(t, rd, func() {
		// Reading an earlier record again does not disturb Next.
		if n++; n == 1 {
			first = rf.Locator()
		} else if _, _, err := rf.Refetch(first); err != nil {
			t.Fatal(err)
		}
	})
	want := [][]diff.Cell{
		{{Text: "plain"}, {Text: "a"}},
		{{Text: ""}, {Text: "b"}},
		{{Text: "two\nlines, \"quoted\""}, {Text: "c,1"}},
		{{Text: "last"}, {Text: "d"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %+v", rows)
	}
	// Records on one line are handed over as read, quotes and all; not one over two lines.
	if wantRaws := []string{"a,1.5,plain", `b,,""`, "(none)", "d,3,last"}; !reflect.DeepEqual(raws, wantRaws) {
		t.Errorf("raw records %q, want %q", raws, wantRaws)
	}
	if wantLocs := []uint64{uint64(strings.Index(text, "a,1.5")), uint64(strings.Index(text, "b,,")),
		uint64(strings.Index(text, "\"c,1")), uint64(strings.Index(text, "d,3"))}; !reflect.DeepEqual(locs, wantLocs) {
		t.Errorf("locators %v, want the records' byte offsets %v", locs, wantLocs)
	}
	done := make(chan error, len(locs))
	for i, loc := range locs {
		go func() {
			cells, raw, err := rf.Refetch(loc)
			if raw == nil {
				raw = []byte("(none)")
			}
			if err == nil && (!reflect.DeepEqual(cells, want[i]) || string(raw) != raws[i]) {
				err = fmt.Errorf("record %d read again: %+v %q, want %+v %q", i, cells, raw, want[i], raws[i])
			}
			done <- err
		}()
	}
	for range locs {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	for _, bad := range []uint64{0, uint64(len(text)), 1 << 40} {
		if _, _, err := rf.Refetch(bad); err == nil || !strings.Contains(err.Error(), "s.csv") {
			t.Errorf("Refetch(%d) = %v, want an error naming the file", bad, err)
		}
	}
	// One session, which reuses its reader, reads them all the same, in any order and
	// after an error.
	fetch := rd.(diff.SessionRefetcher).RefetchSession()
	for _, i := range []int{3, 0, 2, 1, 2, 3, 0, -1, 1} {
		if i < 0 {
			if _, _, err := fetch(1 << 40); err == nil {
				t.Error("a session read a record past the end")
			}
			continue
		}
		cells, raw, err := fetch(locs[i])
		if raw == nil {
			raw = []byte("(none)")
		}
		if err != nil || !reflect.DeepEqual(cells, want[i]) || string(raw) != raws[i] {
			t.Errorf("session, record %d: %+v %q %v, want %+v %q", i, cells, raw, err, want[i], raws[i])
		}
	}
}

// TestCSVRefetchOnlyLocalFiles: compressed files and streams cannot be read again.
func TestCSVRefetchOnlyLocalFiles(t *testing.T) {
	dir := t.TempDir()
	gz := filepath.Join(dir, "s.csv.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	_, _ = zw.Write([]byte("id,v\na,1\n"))
	_ = zw.Close()
	_ = f.Close()
	rd, err := Open(context.Background(), "file://"+gz, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rd.Close() }()
	if rf, ok := rd.(diff.Refetcher); ok && rf.CanRefetch() {
		t.Error("a gzip file claims it can be read again")
	}
	cr, err := NewCSVReader(strings.NewReader("id,v\na,1\n"), CSVOptions{Name: "stream"})
	if err != nil {
		t.Fatal(err)
	}
	if cr.CanRefetch() {
		t.Error("a stream claims it can be read again")
	}
	if _, _, err := cr.Refetch(0); err == nil {
		t.Error("Refetch on a stream did not fail")
	}
}

// TestHashOverRawLines: equal lines are equal rows only when both files put the same
// columns at the same places. Lines that are the same bytes in files with another
// column order, or compared through a mapping that crosses columns, are still
// compared value by value; and equal values spelled differently still match.
func TestHashOverRawLines(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string { return "file://" + writeFile(t, dir, name, text) }
	src := write("s.csv", "id,a,b\nk1,1,2\nk2,3,3\nk3,10.5,x\n")
	sameOrder := write("t1.csv", "id,a,b\nk1,1,2\nk2,3,3\nk3,10.50,x\n")
	otherOrder := write("t2.csv", "id,b,a\nk1,1,2\nk2,3,3\nk3,10.5,x\n")
	for _, tc := range []struct {
		name     string
		tgt      string
		cols     []diff.Column
		want     diff.Summary
		mismatch []string // keys
	}{
		{"same order", sameOrder, []diff.Column{{Name: "a", Type: diff.TypeDecimal}, {Name: "b"}},
			diff.Summary{Matched: 3}, nil},
		{"other column order", otherOrder, []diff.Column{{Name: "a"}, {Name: "b"}},
			diff.Summary{Matched: 1, Mismatched: 2}, []string{"k1", "k3"}},
		{"crossed mapping", sameOrder, []diff.Column{{Name: "a", Target: "b"}, {Name: "b", Target: "a"}},
			diff.Summary{Matched: 1, Mismatched: 2}, []string{"k1", "k3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tg, err := Open(t.Context(), tc.tgt, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var c diff.Collect
			var st diff.Stats
			sum, err := diff.Run(t.Context(), diff.Spec{Keys: []diff.Column{{Name: "id"}}, Compare: tc.cols, Strategy: diff.StrategyHash},
				s, tg, &c, diff.WithStats(func(x diff.Stats) { st = x }))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Compared, tc.want.SourceRows, tc.want.TargetRows, tc.want.Strategy = 3, 3, 3, diff.StrategyHash
			if sum != tc.want {
				t.Errorf("summary %+v, want %+v", sum, tc.want)
			}
			var keys []string
			for _, d := range c.Discrepancies {
				keys = append(keys, d.Key[0].Value.Text)
			}
			diff.SortDiscrepancies(c.Discrepancies)
			slices.Sort(keys)
			if !reflect.DeepEqual(keys, tc.mismatch) {
				t.Errorf("mismatched keys %v, want %v", keys, tc.mismatch)
			}
			if !st.Fingerprints {
				t.Error("local CSV files were not fingerprinted")
			}
		})
	}
}

// TestCSVRawRecordLongQuoted: a quoted record on one line longer than the reader's
// buffer has its raw form, read the first time and again (with a smaller buffer).
func TestCSVRawRecordLongQuoted(t *testing.T) {
	long := `"` + strings.Repeat("x,", 6000) + `",1`
	path := filepath.Join(t.TempDir(), "s.csv")
	if err := os.WriteFile(path, []byte("a,b\n"+long+"\nz,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCSVReader(f, CSVOptions{Name: "s.csv", BufferSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.enableSplit(f, 1024); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	raw, ok := c.RawRecord()
	if !ok || string(raw) != long {
		t.Fatalf("raw record %t, %d bytes, want the %d bytes of the line", ok, len(raw), len(long))
	}
	_, again, err := c.Refetch(c.Locator())
	if err != nil || string(again) != long {
		t.Fatalf("read again: %d bytes, %v", len(again), err)
	}
}

// readLocated reads every row of rd (a Refetcher and RawRecorder) with its Locator and
// raw form ("(none)" when it has none); after each, read is called (may be nil).
func readLocated(t *testing.T, rd diff.Reader, read func()) (locs []uint64, rows [][]diff.Cell, raws []string) {
	t.Helper()
	rf, ok := rd.(diff.Refetcher)
	if !ok || !rf.CanRefetch() {
		t.Fatalf("a local file cannot be read again: %T", rd)
	}
	for {
		cells, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return locs, rows, raws
		}
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, rf.Locator())
		rows = append(rows, cloneCells(cells))
		raw, ok := rd.(diff.RawRecorder).RawRecord()
		if !ok {
			raw = []byte("(none)")
		}
		raws = append(raws, string(raw))
		if read != nil {
			read()
		}
	}
}

// TestCSVRawRecordMultiLineAtEOF: a quoted record that goes on to a last line without a
// line break has no raw form (its first line alone is not the record).
func TestCSVRawRecordMultiLineAtEOF(t *testing.T) {
	for _, text := range []string{"id,v\n1,\"a\nb\"", "id,v\n1,\"a\r\nb\"", "id,v\n1,\"a\nb\"\n"} {
		c, err := NewCSVReader(strings.NewReader(text), CSVOptions{Name: "s.csv"})
		if err != nil {
			t.Fatal(err)
		}
		cells, err := c.Next()
		if err != nil || cells[1].Text != strings.TrimPrefix(strings.TrimSuffix(strings.TrimSuffix(text[7:], "\n"), `"`), `"`) {
			t.Fatalf("%q: %+v %v", text, cells, err)
		}
		if raw, ok := c.RawRecord(); ok {
			t.Errorf("%q: raw form %q for a record over two lines", text, raw)
		}
	}
}

// A session reads records longer than its buffer, quoted or not, in any order, as Next
// read them.
func TestCSVRefetchSessionLongRecords(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,note\n")
	for i := range 20 {
		note := strings.Repeat(fmt.Sprintf("%d", i%10), 100*(i%7)+1)
		if i%3 == 0 {
			note = `"` + note + `,""x""` + "\n" + note + `"`
		}
		fmt.Fprintf(&b, "k%02d,%s\n", i, note)
	}
	path := filepath.Join(t.TempDir(), "long.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rd.Close() }()
	locs, rows, raws := readLocated(t, rd, nil)
	// Backwards (a read of the file each), then forwards, every record and every third
	// (the records that follow closely come from the same read).
	var orders [3][]int
	for i := range locs {
		orders[0] = append(orders[0], len(locs)-1-i)
		orders[1] = append(orders[1], i)
		if i%3 == 1 {
			orders[2] = append(orders[2], i)
		}
	}
	for _, order := range orders {
		fetch := rd.(diff.SessionRefetcher).RefetchSession()
		for _, i := range order {
			cells, raw, err := fetch(locs[i])
			if raw == nil {
				raw = []byte("(none)")
			}
			if err != nil || !reflect.DeepEqual(cells, rows[i]) || string(raw) != raws[i] {
				t.Fatalf("record %d: %v, raw %d bytes (want %d)", i, err, len(raw), len(raws[i]))
			}
		}
	}
}
