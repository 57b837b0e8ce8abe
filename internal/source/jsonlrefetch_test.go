package source

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// TestJSONLRefetch: every line read again at its Locator gives the cells Next gave:
// the first line (read to learn the columns), after a BOM, blank lines and CRLF, with
// escapes, NULLs and missing keys; and RawRecord hands over each line as read.
func TestJSONLRefetch(t *testing.T) {
	const text = "\xEF\xBB\xBF{\"id\":\"a\",\"v\":1.5,\"n\":\"x\"}\r\n" +
		"\n  \n" +
		"{\"v\":null,\"id\":\"b\"}\n" +
		"{\"id\":\"c\\u00e9\",\"v\":\"2\",\"n\":\"q\\\"uote\"}   \n" +
		"{\"id\":\"d\",\"v\":3}"
	dir := t.TempDir()
	path := filepath.Join(dir, "s.jsonl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(context.Background(), "file://"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rd.Close() }()
	rf := rd.(diff.Refetcher)
	locs, rows, lines := readLocated(t, rd, nil)
	wantLines := []string{`{"id":"a","v":1.5,"n":"x"}`, `{"v":null,"id":"b"}`, `{"id":"c\u00e9","v":"2","n":"q\"uote"}`, `{"id":"d","v":3}`}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("raw records %q", lines)
	}
	var wantLocs []uint64
	for _, l := range wantLines {
		wantLocs = append(wantLocs, uint64(strings.Index(text, l)))
	}
	if !reflect.DeepEqual(locs, wantLocs) {
		t.Errorf("locators %v, want %v", locs, wantLocs)
	}
	for i, loc := range locs {
		cells, raw, err := rf.Refetch(loc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cloneCells(cells), rows[i]) || string(raw) != lines[i] {
			t.Errorf("line %d read again: %+v %q, want %+v %q", i, cells, raw, rows[i], lines[i])
		}
	}
	if _, _, err := rf.Refetch(uint64(len(text))); err == nil || !strings.Contains(err.Error(), "s.jsonl") {
		t.Errorf("past the end: %v", err)
	}
	// One session, which reuses its reader, reads them the same in any order (a line with
	// fewer keys after one with more: the missing ones are NULL again), and after an error.
	fetch := rd.(diff.SessionRefetcher).RefetchSession()
	for _, i := range []int{2, 1, 3, 0, -1, 2, 0, 1} {
		if i < 0 {
			if _, _, err := fetch(uint64(len(text))); err == nil {
				t.Error("a session read a line past the end")
			}
			continue
		}
		cells, raw, err := fetch(locs[i])
		if err != nil || !reflect.DeepEqual(cloneCells(cells), rows[i]) || string(raw) != lines[i] {
			t.Errorf("session, line %d: %+v %q %v, want %+v %q", i, cells, raw, err, rows[i], lines[i])
		}
	}

	gz := filepath.Join(dir, "s.jsonl.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	_, _ = zw.Write([]byte(text))
	_ = zw.Close()
	_ = f.Close()
	zr, err := Open(context.Background(), "file://"+gz, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = zr.Close() }()
	if zr.(diff.Refetcher).CanRefetch() {
		t.Error("a gzip file claims it can be read again")
	}
}

// TestHashOverJSONLines: two files whose first lines name the same keys in the same
// order are hashed line by line; lines that differ only in key order or spacing are
// equal rows (read again and matched); equal lines with a value that is not valid for
// its type are invalid rows on both sides.
func TestHashOverJSONLines(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) diff.Reader {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(t.Context(), "file://"+p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	src := write("s.jsonl", `{"id":"0","v":"0","n":"-"}
{"id":"a","v":"1.5","n":"x"}
{"id":"b","v":"2","n":"y"}
{"id":"c","v":"oops","n":"z"}
{"id":"d","v":"4","n":"w"}
`)
	tgt := write("t.jsonl", `{"id":"0","v":"0","n":"-"}
{"n":"x","v":"1.50","id":"a"}
{"id":"b", "v":"2", "n":"y"}
{"id":"c","v":"oops","n":"z"}
{"id":"d","v":"4","n":"W"}
`)
	var c diff.Collect
	var st diff.Stats
	sum, err := diff.Run(t.Context(), diff.Spec{Keys: []diff.Column{{Name: "id"}},
		Compare: []diff.Column{{Name: "v", Type: diff.TypeDecimal}, {Name: "n"}}, Strategy: diff.StrategyHash},
		src, tgt, &c, diff.WithStats(func(s diff.Stats) { st = s }))
	if err != nil {
		t.Fatal(err)
	}
	want := diff.Summary{Compared: 6, Matched: 3, Mismatched: 1, InvalidRows: 2, SourceRows: 5, TargetRows: 5, Strategy: diff.StrategyHash}
	if sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if !st.Fingerprints || st.Refetched != 6 {
		t.Errorf("fingerprints %t, read again %d, want true, 6 (a, b and d on both sides)", st.Fingerprints, st.Refetched)
	}
}
