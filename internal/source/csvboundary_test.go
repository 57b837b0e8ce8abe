package source

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// A valid last record whose quoted field spans lines, with no final newline, was read
// as "unterminated quoted field" when its last physical line filled the read buffer
// exactly (moreLine saw ErrBufferFull, then an empty read with io.EOF).
func TestCSVMultilineLastRecordAtBufferBoundary(t *testing.T) {
	last := strings.Repeat("x", 15) + `"` // the 16-byte buffer exactly
	data := "id,a\n1,\"first\n" + last    // no final newline
	cr, err := NewCSVReader(strings.NewReader(data), CSVOptions{Name: "r.csv", BufferSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	cells, err := cr.Next()
	if err != nil {
		t.Fatalf("Next: %v (want the record 1, \"first\\n%s)", err, strings.Repeat("x", 15))
	}
	if cells[1].Text != "first\n"+strings.Repeat("x", 15) {
		t.Fatalf("got %q", cells[1].Text)
	}
	if _, err := cr.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

// The same through Open + Refetch (what the default hash strategy does for a row whose
// fingerprint differs): the refetch reader has a 512-byte buffer.
func TestCSVRefetchMultilineLastRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e1.csv")
	data := "id,a\n0,zero\n1,\"first\n" + strings.Repeat("x", 511) + `"`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rd.Close() }()
	rf := rd.(diff.Refetcher)
	for {
		cells, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		want := cloneCells(cells)
		got, _, err := rf.Refetch(rf.Locator())
		if err != nil {
			t.Fatalf("Refetch of %v: %v", want, err)
		}
		if got[1].Text != want[1].Text {
			t.Fatalf("refetch differs")
		}
	}
}
