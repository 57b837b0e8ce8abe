package source

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// A .jsonl.gz object served with Content-Encoding: gzip (S3 or GCS metadata set on
// upload) is decompressed by Go's transport: the body is then not gzip any more.
func TestHTTPGzipContentEncoding(t *testing.T) {
	data := gz(t, `{"id":"1","v":"a"}`+"\n"+`{"id":"2","v":null}`+"\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Encoding", "gzip")
		if r.URL.Path == "/twice/x.jsonl.gz" { // gzip on the wire over a .gz file
			_, _ = w.Write(gz(t, string(data)))
			return
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	for _, p := range []string{"/x.jsonl.gz", "/twice/x.jsonl.gz"} {
		r, err := Open(context.Background(), srv.URL+p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, r)
		_ = r.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		want := [][]diff.Cell{{T("1"), T("a")}, {T("2"), N}}
		if len(got) != 2 || !reflect.DeepEqual(got[0].cells, want[0]) || !reflect.DeepEqual(got[1].cells, want[1]) {
			t.Fatalf("%s: %+v", p, got)
		}
	}
}

// A server that drops the connection mid-body must fail the read, whether it said
// the length or sent chunks; so must a truncated gzip stream.
func TestHTTPDropAndTruncatedGzip(t *testing.T) {
	var body strings.Builder
	for i := range 2000 {
		body.WriteString(`{"id":"` + strconv.Itoa(i) + `"}` + "\n")
	}
	full := body.String()
	var csvBody strings.Builder
	csvBody.WriteString("id\n")
	for i := range 20000 {
		csvBody.WriteString(strconv.Itoa(i) + "\n")
	}
	csvText := csvBody.String()
	zipped := gz(t, full)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload := []byte(full)
		switch {
		case strings.HasSuffix(r.URL.Path, ".gz"):
			payload = zipped
		case strings.HasSuffix(r.URL.Path, ".csv"):
			payload = []byte(csvText)
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/len/"):
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		case strings.HasPrefix(r.URL.Path, "/cut/"), strings.HasPrefix(r.URL.Path, "/cecut/"): // a whole response, but a cut gzip stream
			if strings.HasPrefix(r.URL.Path, "/cecut/") {
				w.Header().Set("Content-Encoding", "gzip")
			}
			_, _ = w.Write(payload[:len(payload)/2])
			return
		}
		_, _ = w.Write(payload[:len(payload)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	defer srv.Close()
	for _, p := range []string{"/len/a.jsonl", "/chunk/a.jsonl", "/len/a.jsonl.gz", "/chunk/a.jsonl.gz", "/cut/a.jsonl.gz", "/cecut/a.jsonl.gz", "/len/a.csv", "/chunk/a.csv"} {
		r, err := Open(context.Background(), srv.URL+p, Options{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := readAll(t, r)
		_ = r.Close()
		if err == nil {
			t.Errorf("%s: %d rows and no error from a cut stream", p, len(got))
		}
	}
}

// JSON Lines edge cases, each line checked with its position and, for a local file,
// read again by its locator to the same cells.
func TestSONLEdges(t *testing.T) {
	long := strings.Repeat("x", 300<<10) // longer than the read buffer
	text := "\uFEFF" + `{"id":"1","v":12345678901234567890123}` + "\r\n" +
		"\r\n" +
		`{"id":"2","v":1e400}` + "\n" +
		"   \n" +
		`{"id":"3","v":-0,"w":{"b": [1, 2.50]}}` + "\n" +
		`{"id":"4","v":"` + long + `"}` + "\n" +
		`[1,2]` + "\n" +
		`{"id":"6","v":null}` + "\n" +
		`{"id":"7"}` + "\n" +
		`{"id":"8","v":"é\u00e9\ud83d\ude42"}`
	dir := t.TempDir()
	p := writeFile(t, dir, "e.jsonl", text)
	r, err := Open(context.Background(), p, Options{Columns: []string{"id", "v", "w"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	rf := r.(diff.Refetcher)
	if !rf.CanRefetch() {
		t.Fatal("cannot refetch a local file")
	}
	type want struct {
		pos   string
		cells []diff.Cell
		bad   bool
	}
	wants := []want{
		{"e.jsonl line 1", []diff.Cell{T("1"), T("12345678901234567890123"), N}, false},
		{"e.jsonl line 3", []diff.Cell{T("2"), T("1e400"), N}, false},
		{"e.jsonl line 5", []diff.Cell{T("3"), T("-0"), T(`{"b":[1,2.50]}`)}, false},
		{"e.jsonl line 6", []diff.Cell{T("4"), T(long), N}, false},
		{"e.jsonl line 7", nil, true},
		{"e.jsonl line 8", []diff.Cell{T("6"), N, N}, false},
		{"e.jsonl line 9", []diff.Cell{T("7"), N, N}, false},
		{"e.jsonl line 10", []diff.Cell{T("8"), T("éé🙂"), N}, false},
	}
	for i, w := range wants {
		cells, err := r.Next()
		if w.bad {
			if _, ok := err.(*RowError); !ok || r.Position() != w.pos {
				t.Fatalf("%d: %v at %s, want a row error at %s", i, err, r.Position(), w.pos)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if r.Position() != w.pos || !reflect.DeepEqual(cells, w.cells) {
			t.Fatalf("%d: %s %+v, want %s %+v", i, r.Position(), cells, w.pos, w.cells)
		}
		first := cloneCells(cells)
		again, _, err := rf.Refetch(rf.Locator())
		if err != nil || !reflect.DeepEqual(again, first) {
			t.Fatalf("%d: refetch %+v %v, want %+v", i, again, err, first)
		}
	}
	if _, err := r.Next(); err == nil {
		t.Fatal("no EOF")
	}
}

type refLogicalType struct {
	parquet.Type
	lt format.LogicalType
}

func (l refLogicalType) LogicalType() *format.LogicalType { return &l.lt }

// FLOAT16 (pyarrow writes it for float16 columns) is promised as a float, but the
// library does not know the annotation when reading: the cell was the value's two raw
// bytes.
func TestParquetFloat16(t *testing.T) {
	schema := parquet.NewSchema("r", parquet.Group{
		"h":  parquet.Leaf(refLogicalType{Type: parquet.FixedLenByteArrayType(2), lt: format.LogicalType{Value: &format.Float16Type{}}}),
		"id": parquet.String(),
	})
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	rows := []parquet.Row{
		{parquet.FixedLenByteArrayValue([]byte{0x00, 0x3e}).Level(0, 0, 0), parquet.ByteArrayValue([]byte("a")).Level(0, 0, 1)},
		{parquet.FixedLenByteArrayValue([]byte{0x00, 0x04}).Level(0, 0, 0), parquet.ByteArrayValue([]byte("b")).Level(0, 0, 1)},
		{parquet.FixedLenByteArrayValue([]byte{0x00, 0xc0}).Level(0, 0, 0), parquet.ByteArrayValue([]byte("c")).Level(0, 0, 1)},
	}
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "h.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), path, Options{Columns: []string{"id", "h"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1.5", "0.000061035156", "-2"}
	if len(got) != len(want) {
		t.Fatalf("%d rows", len(got))
	}
	for i, w := range want {
		if got[i].cells[1] != T(w) {
			t.Errorf("row %d: h = %q, want %q", i+1, got[i].cells[1].Text, w)
		}
	}
}

func TestTopLevelLogicalTypes(t *testing.T) {
	f16 := format.LogicalType{Value: &format.Float16Type{}}
	el := func(name string, children int32, lt format.LogicalType) format.SchemaElement {
		e := format.SchemaElement{Name: name, LogicalType: lt}
		if children > 0 {
			e.NumChildren.Set(children)
		}
		return e
	}
	elems := []format.SchemaElement{
		el("root", 3, format.LogicalType{}),
		el("a", 2, format.LogicalType{}), el("b", 1, format.LogicalType{}), el("nested", 0, f16), el("y", 0, f16),
		el("h", 0, f16),
		el("id", 0, format.LogicalType{}),
	}
	m := topLevelLogicalTypes(elems)
	if len(m) != 1 || m["h"] == nil {
		t.Fatalf("%v", m)
	}
}

// A file whose column chunks hold different numbers of values (a corrupt or buggy
// writer): the library's rows then lack the short column's values, which were read as
// NULL, for a REQUIRED column, and the run went on with values that are not in the
// file. It must fail the run, naming the row and the column.
func TestParquetRaggedColumnChunks(t *testing.T) {
	schema := parquet.NewSchema("r", parquet.Group{"a": parquet.Int(32), "b": parquet.Int(32)})
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	cw := w.ColumnWriters()
	if _, err := cw[0].WriteRowValues([]parquet.Value{parquet.Int32Value(1).Level(0, 0, 0), parquet.Int32Value(2).Level(0, 0, 0), parquet.Int32Value(3).Level(0, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw[1].WriteRowValues([]parquet.Value{parquet.Int32Value(10).Level(0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := openWritten(t, "g.parquet", buf.Bytes())
	got, err := readAll(t, r)
	if err == nil || err.Error() != `g.parquet row 2: corrupt Parquet data: column "b" has no value for this row` {
		t.Fatalf("%+v, %v", got, err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0].cells, []diff.Cell{T("1"), T("10")}) {
		t.Fatalf("%+v", got)
	}
	if _, err := r.Next(); err == nil || err == io.EOF {
		t.Fatalf("after the error: %v", err)
	}
}

type refIntervalRow struct {
	ID string   `parquet:"id"`
	IV [12]byte `parquet:"iv,interval"`
}

// INTERVAL was read as its 12 raw bytes (NULs and all) as if they were text: it is
// refused, naming the column, unless the declared columns leave it out.
func TestParquetIntervalRefused(t *testing.T) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[refIntervalRow](&buf)
	if _, err := w.Write([]refIntervalRow{{ID: "a", IV: [12]byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "i.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), path, Options{})
	if err == nil {
		c, _ := r.Next()
		_ = r.Close()
		t.Fatalf("INTERVAL read as %q", c[1].Text)
	}
	if err.Error() != `i.parquet: column "iv": INTERVAL is not supported; declare the columns to leave it out` {
		t.Fatal(err)
	}
	r, err = Open(context.Background(), path, Options{Columns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err := readAll(t, r)
	if err != nil || len(got) != 1 || got[0].cells[0] != T("a") {
		t.Fatalf("%+v %v", got, err)
	}
}
