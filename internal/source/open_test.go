package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOpenFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csvPath := write("bank.csv", []byte("id,v\n1,a\n2,\n"))
	tsvPath := write("bank.tsv", []byte("id\tv\n1\ta,b\n"))
	gzPath := write("bank.jsonl.gz", gz(t, `{"id":"1","v":2.50}`+"\n"))
	odd := write("export.txt", []byte("id|v\n1|x\n"))
	ctx := context.Background()

	for _, c := range []struct {
		uri  string
		opts Options
		want [][]diff.Cell
	}{
		{csvPath, Options{}, [][]diff.Cell{{T("1"), T("a")}, {T("2"), N}}},
		{"file://" + csvPath, Options{}, [][]diff.Cell{{T("1"), T("a")}, {T("2"), N}}},
		{tsvPath, Options{}, [][]diff.Cell{{T("1"), T("a,b")}}},
		{gzPath, Options{}, [][]diff.Cell{{T("1"), T("2.50")}}},
		{odd, Options{Format: FormatCSV, Delimiter: '|'}, [][]diff.Cell{{T("1"), T("x")}}},
	} {
		r, err := Open(ctx, c.uri, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.uri, err)
		}
		got, err := readAll(t, r)
		if err != nil {
			t.Fatalf("%s: %v", c.uri, err)
		}
		var rows [][]diff.Cell
		for _, e := range got {
			rows = append(rows, e.cells)
		}
		if !reflect.DeepEqual(rows, c.want) {
			t.Errorf("%s: %v, want %v", c.uri, rows, c.want)
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}

	if _, err := Open(ctx, odd, Options{}); err == nil || !strings.Contains(err.Error(), "cannot tell the file format") {
		t.Errorf("unknown extension: %v", err)
	}
	if _, err := Open(ctx, "file://host/x.csv", Options{}); err == nil {
		t.Error("remote file URI accepted")
	}
	if _, err := Open(ctx, "s3://bucket/x.csv", Options{}); err == nil {
		t.Error("s3 accepted")
	}
	if _, err := Open(ctx, csvPath, Options{OrderedBy: []string{"nope"}}); err == nil {
		t.Error("ordered by an unknown column accepted")
	}
	r, err := Open(ctx, csvPath, Options{OrderedBy: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := r.(diff.OrderedReader); !ok || !reflect.DeepEqual(o.OrderedBy(), []string{"id"}) {
		t.Fatal("not an OrderedReader")
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	r, err = Open(ctx, csvPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(diff.OrderedReader); ok {
		t.Fatal("an undeclared order must not be promised")
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
}

func TestOpenHTTP(t *testing.T) {
	dir := t.TempDir()
	pq := filepath.Join(dir, "l.parquet")
	writeParquet(t, pq, []pqRow{{ID: "x", Amount: 123}}, 10)
	pqData, err := os.ReadFile(pq)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/data/bank.csv":
			if _, err := w.Write([]byte("id,v\n1,\"a\nb\"\n")); err != nil {
				t.Error(err)
			}
		case "/data/bank.ndjson.gz":
			if _, err := w.Write(gz(t, `{"id":"1","v":null}`+"\n")); err != nil {
				t.Error(err)
			}
		case "/data/l.parquet":
			if _, err := w.Write(pqData); err != nil {
				t.Error(err)
			}
		default:
			http.Error(w, "nope", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	r, err := Open(ctx, srv.URL+"/data/bank.csv", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil || len(got) != 1 || got[0].cells[1] != T("a\nb") || got[0].pos != "bank.csv line 2" {
		t.Fatalf("%+v %v", got, err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}

	r, err = Open(ctx, srv.URL+"/data/bank.ndjson.gz", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = readAll(t, r)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0].cells, []diff.Cell{T("1"), N}) {
		t.Fatalf("%+v %v", got, err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}

	r, err = Open(ctx, srv.URL+"/data/l.parquet", Options{Columns: []string{"id", "amount"}, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got, err = readAll(t, r)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0].cells, []diff.Cell{T("x"), T("1.23")}) {
		t.Fatalf("%+v %v", got, err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "clearhouse-*")); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}

	secret := strings.Replace(srv.URL, "http://", "http://alice:s3cr3t@", 1) + "/private/bank.csv?X-Amz-Signature=t0k3n#frag"
	_, err = Open(ctx, secret, Options{})
	if err == nil {
		t.Fatal("403 accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "403") || !strings.Contains(msg, srv.URL+"/private/bank.csv") {
		t.Errorf("error does not name the URL and status: %s", msg)
	}
	for _, leak := range []string{"alice", "s3cr3t", "t0k3n", "frag"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error leaks %q: %s", leak, msg)
		}
	}
	// A connection error does not leak either.
	_, err = Open(ctx, "http://bob:pw@127.0.0.1:1/x.csv?token=abc", Options{})
	if err == nil || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "bob") {
		t.Errorf("connection error: %v", err)
	}
}
