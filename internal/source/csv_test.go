package source

import (
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

// N is NULL, T(s) is text s.
var N = diff.Cell{Null: true}

func T(s string) diff.Cell { return diff.Cell{Text: s} }

// readAll returns every row (copied) and every RowError, in order, as "row" or
// "error" entries, and the final error (nil at io.EOF).
type entry struct {
	cells []diff.Cell
	pos   string
	err   string
}

func readAll(t *testing.T, r diff.Reader) ([]entry, error) {
	t.Helper()
	var out []entry
	for {
		cells, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				if re.Position != r.Position() {
					t.Errorf("RowError position %q, reader position %q", re.Position, r.Position())
				}
				out = append(out, entry{cells: re.Cells, pos: re.Position, err: re.Reason})
				continue
			}
			return out, err
		}
		out = append(out, entry{cells: cloneCells(cells), pos: r.Position()})
	}
}

// writeFile writes text to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newCSV(t *testing.T, data string, opts CSVOptions) *CSVReader {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "t.csv"
	}
	r, err := NewCSVReader(strings.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCSVTricky(t *testing.T) {
	data := "\xEF\xBB\xBFid,amount,memo\r\n" +
		"1,10.50,plain\r\n" +
		"2,,\"\"\r\n" + // unquoted empty = NULL, quoted empty = ""
		"3,\"1,5\",\"say \"\"hi\"\"\"\r\n" + // embedded delimiter and doubled quotes
		"4,7,\"two\r\nlines\nthree\"\r\n" + // newlines inside quotes kept byte for byte
		"\r\n" + // empty line skipped
		"5,8,a\"b\r\n" + // a quote inside an unquoted field is literal
		"6, x ,\" y \"\n" + // spaces kept; LF alone
		"\"\",\"\",\n" + // all kinds of empties
		"7,9,last" // no final newline
	r := newCSV(t, data, CSVOptions{})
	if got, want := r.Columns(), []string{"id", "amount", "memo"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("columns %q, want %q", got, want)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{cells: []diff.Cell{T("1"), T("10.50"), T("plain")}, pos: "t.csv line 2"},
		{cells: []diff.Cell{T("2"), N, T("")}, pos: "t.csv line 3"},
		{cells: []diff.Cell{T("3"), T("1,5"), T(`say "hi"`)}, pos: "t.csv line 4"},
		{cells: []diff.Cell{T("4"), T("7"), T("two\r\nlines\nthree")}, pos: "t.csv line 5"},
		{cells: []diff.Cell{T("5"), T("8"), T(`a"b`)}, pos: "t.csv line 9"},
		{cells: []diff.Cell{T("6"), T(" x "), T(" y ")}, pos: "t.csv line 10"},
		{cells: []diff.Cell{T(""), T(""), N}, pos: "t.csv line 11"},
		{cells: []diff.Cell{T("7"), T("9"), T("last")}, pos: "t.csv line 12"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%v\nwant\n%v", got, want)
	}
}

func TestCSVRaggedRowsContinue(t *testing.T) {
	data := "id,a,b\n1,x,y\n2,x\n3,x,y,z\n4,\"q\"junk,y\n5,\"ok\",\"fine\"\n"
	got, err := readAll(t, newCSV(t, data, CSVOptions{Name: "bank.csv"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{cells: []diff.Cell{T("1"), T("x"), T("y")}, pos: "bank.csv line 2"},
		{cells: []diff.Cell{T("2"), T("x"), N}, pos: "bank.csv line 3", err: "expected 3 fields, got 2"},
		{cells: []diff.Cell{T("3"), T("x"), T("y")}, pos: "bank.csv line 4", err: "expected 3 fields, got 4"},
		{cells: []diff.Cell{T("4"), T("q"), T("y")}, pos: "bank.csv line 5", err: "field 2: unexpected character after the closing quote"},
		{cells: []diff.Cell{T("5"), T("ok"), T("fine")}, pos: "bank.csv line 6"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%v\nwant\n%v", got, want)
	}
	var re *RowError
	err = &RowError{Position: "bank.csv line 3", Reason: "expected 3 fields, got 2"}
	if !errors.As(fmt.Errorf("wrapped: %w", err), &re) || err.Error() != "bank.csv line 3: expected 3 fields, got 2" {
		t.Fatalf("RowError: %v", err)
	}
	// The engine sees it structurally.
	var ir interface{ InvalidRow() (string, string) }
	if !errors.As(err, &ir) {
		t.Fatal("RowError does not satisfy InvalidRow()")
	}
}

func TestCSVUnterminatedQuote(t *testing.T) {
	r := newCSV(t, "id,memo\n1,ok\n2,\"never\nclosed,\n", CSVOptions{Name: "bank.csv"})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	if err == nil || err.Error() != "bank.csv line 3: unterminated quoted field" {
		t.Fatalf("err = %v", err)
	}
	if IsRowError(err) {
		t.Fatal("unterminated quote must be fatal")
	}
	if _, err2 := r.Next(); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}
}

func TestCSVNullMarkerAndDialect(t *testing.T) {
	data := "id;v;w\n1;\\N;\"\\N\"\n2;;'a;b'\n3;'it''s';x\n"
	r := newCSV(t, data, CSVOptions{Delimiter: ';', Quote: '\'', NullMarker: `\N`})
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]diff.Cell{
		{T("1"), N, T(`"\N"`)},
		{T("2"), T(""), T("a;b")},
		{T("3"), T("it's"), T("x")},
	}
	for i, e := range got {
		if e.err != "" || !reflect.DeepEqual(e.cells, want[i]) {
			t.Fatalf("row %d: %+v, want %v", i, e, want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows", len(got))
	}
}

func TestCSVProjectionAndNoHeader(t *testing.T) {
	r := newCSV(t, "a,b,c\n1,2,3\n", CSVOptions{Columns: []string{"c", "a"}})
	got, err := readAll(t, r)
	if err != nil || !reflect.DeepEqual(got[0].cells, []diff.Cell{T("3"), T("1")}) {
		t.Fatalf("%v %v", got, err)
	}
	r = newCSV(t, "1,2\n3,4\n", CSVOptions{NoHeader: true, Columns: []string{"x", "y"}})
	got, err = readAll(t, r)
	if err != nil || len(got) != 2 || got[0].pos != "t.csv line 1" || got[1].cells[1] != T("4") {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := NewCSVReader(strings.NewReader("a,b\n"), CSVOptions{Columns: []string{"z"}, Name: "f.csv"}); err == nil {
		t.Fatal("missing declared column accepted")
	}
	if _, err := NewCSVReader(strings.NewReader("a,a\n"), CSVOptions{Name: "f.csv"}); err == nil {
		t.Fatal("duplicate header accepted")
	}
	if _, err := NewCSVReader(strings.NewReader(""), CSVOptions{Name: "f.csv"}); err == nil {
		t.Fatal("empty file accepted")
	}
	// A header only: no rows.
	got, err = readAll(t, newCSV(t, "a,b\r\n", CSVOptions{}))
	if err != nil || len(got) != 0 {
		t.Fatalf("%v %v", got, err)
	}
}

func TestCSVLongLines(t *testing.T) {
	long := strings.Repeat("x", 50_000)
	data := "id,memo\n1," + long + "\n2,\"" + long + "\n" + long + "\"\n3,z\n"
	r := newCSV(t, data, CSVOptions{BufferSize: 16})
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].cells[1].Text != long || got[1].cells[1].Text != long+"\n"+long || got[2].pos != "t.csv line 5" {
		t.Fatalf("long lines misread: %d rows, %q", len(got), got[2].pos)
	}
}

func TestCSVWriterRoundTrip(t *testing.T) {
	rows := [][]diff.Cell{
		{T("a,b"), N, T("")},
		{T(`"q"`), T("line\r\nbreak"), T(`\N`)},
		{T(" sp "), T("zürich-ß-東京-🙂"), T("\t")},
	}
	for _, null := range []string{"", `\N`} {
		var sb strings.Builder
		w := NewCSVWriter(&sb, CSVOptions{NullMarker: null})
		if err := w.WriteHeader([]string{"x", "y", "z"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, newCSV(t, sb.String(), CSVOptions{NullMarker: null}))
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range got {
			if !reflect.DeepEqual(e.cells, rows[i]) {
				t.Fatalf("null %q row %d: %v, want %v\n%s", null, i, e.cells, rows[i], sb.String())
			}
		}
	}
}

func TestCSVNextDoesNotAllocate(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("id,amount,memo\n")
	for i := range 2000 {
		fmt.Fprintf(&sb, "%d,%d.50,\"memo, %d\"\n", i, i, i)
	}
	data := sb.String()
	sr := strings.NewReader(data)
	r, err := NewCSVReader(sr, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // warm up buffers
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per row", allocs)
	}
}
