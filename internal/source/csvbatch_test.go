package source

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// looseRow is what a reader handed over for a row: its line (or cells), whether it was
// counted, its locator and position.
type looseRow struct {
	line    string
	counted bool
	cells   string
	loc     uint64
	pos     string
}

// readLoose reads every row of the file at path as the line join does: batches of up to
// batch lines (NextLinesLoose; 0: none), a row alone (NextLineLoose) after a batch that
// stopped short. It returns the rows and the reader's split marks.
func readLoose(t *testing.T, path string, bufSize, batch int) ([]looseRow, []lineMark) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCSVReader(f, CSVOptions{Name: "b.csv", BufferSize: bufSize})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.enableSplit(f, bufSize); err != nil {
		t.Fatal(err)
	}
	var rows []looseRow
	lines, locs := make([][]byte, batch), make([]uint64, batch)
	alone := false
	for {
		if batch > 0 && !alone {
			n := c.NextLinesLoose(lines, locs)
			for i := range n {
				rows = append(rows, looseRow{line: string(lines[i]), loc: locs[i]})
			}
			if n > 0 {
				rows[len(rows)-1].pos = c.Position()
			}
			if alone = n < batch; n > 0 {
				continue
			}
		}
		alone = false
		line, counted, cells, err := c.NextLineLoose(2)
		if err == io.EOF {
			break
		}
		var cs string
		if cells != nil {
			cs = fmt.Sprint(cells)
		}
		if err != nil {
			cs += err.Error()
		}
		rows = append(rows, looseRow{line: string(line), counted: counted, cells: cs,
			loc: c.Locator(), pos: c.Position()})
	}
	return rows, c.split.marks
}

// TestCSVNextLinesLoose: lines read in batches are those read one at a time, with the
// same locators, positions (of a batch's last) and split marks, over quoted, empty,
// multi-line, ragged and CRLF rows, at buffer sizes that cut rows, and a last row
// without a line end.
func TestCSVNextLinesLoose(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 60 {
		var b strings.Builder
		b.WriteString("id,v,w\n")
		for i := range 300 + rng.IntN(700) {
			switch rng.IntN(12) {
			case 0:
				fmt.Fprintf(&b, "%d,\"a,%d\",w\n", i, i)
			case 1:
				b.WriteString("\n")
			case 2:
				fmt.Fprintf(&b, "%d,\"two\nlines\",w\n", i)
			case 3:
				fmt.Fprintf(&b, "%d,ragged\n", i)
			case 4:
				fmt.Fprintf(&b, "%d,crlf,w\r\n", i)
			default:
				fmt.Fprintf(&b, "%d,%s,w\n", i, strings.Repeat("v", rng.IntN(40)))
			}
		}
		if round%2 == 1 {
			b.WriteString("last,no,end")
		}
		path := filepath.Join(t.TempDir(), "b.csv")
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		bufSize := 64 + rng.IntN(400)
		want, wantMarks := readLoose(t, path, bufSize, 0)
		for _, batch := range []int{1, 3, 64} {
			got, marks := readLoose(t, path, bufSize, batch)
			if len(got) != len(want) {
				t.Fatalf("round %d, batch %d: %d rows, one at a time %d", round, batch, len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.pos == "" {
					w.pos = "" // a position is kept for a batch's last row only
				}
				if g != w {
					t.Fatalf("round %d, batch %d, row %d: %+v, one at a time %+v", round, batch, i, g, w)
				}
			}
			if !slices.Equal(marks, wantMarks) {
				t.Fatalf("round %d, batch %d: split marks differ", round, batch)
			}
		}
	}
}
