package diff

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// sliceReader is an in-memory Reader. Like real readers it reuses the slice it returns,
// so an engine that keeps it would see it change.
type sliceReader struct {
	name   string
	cols   []string
	rows   [][]Cell
	i      int
	buf    []Cell
	closed bool
	onNext func(i int) // called before row i is returned
}

func newSliceReader(name string, cols []string, rows [][]Cell) *sliceReader {
	return &sliceReader{name: name, cols: cols, rows: rows}
}

func (r *sliceReader) Columns() []string { return r.cols }

func (r *sliceReader) Next() ([]Cell, error) {
	if r.i >= len(r.rows) {
		return nil, io.EOF
	}
	if r.onNext != nil {
		r.onNext(r.i)
	}
	row := r.rows[r.i]
	r.i++
	r.buf = append(r.buf[:0], row...)
	return r.buf, nil
}

// Position names the last row returned as a file line (line 1 is a header).
func (r *sliceReader) Position() string { return fmt.Sprintf("%s line %d", r.name, r.i+1) }
func (r *sliceReader) Name() string     { return r.name }

func (r *sliceReader) Close() error { r.closed = true; return nil }

// orderedReader is a sliceReader promising an order.
type orderedReader struct {
	*sliceReader
	by []string
}

func (r *orderedReader) OrderedBy() []string { return r.by }

// row builds cells: a string is a value, nil is NULL.
func row(vals ...any) []Cell {
	out := make([]Cell, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			out[i] = Cell{Null: true}
		case string:
			out[i] = Cell{Text: v}
		default:
			panic(fmt.Sprintf("row: %T", v))
		}
	}
	return out
}

// sortRows sorts rows by the given key column indices, byte order, NULLs first.
func sortRows(rows [][]Cell, keyIdx ...int) {
	slices.SortStableFunc(rows, func(a, b []Cell) int {
		for _, k := range keyIdx {
			if c := compareCell(a[k], b[k]); c != 0 {
				return c
			}
		}
		return 0
	})
}

// runCollect runs and returns the sorted discrepancies.
// runCollect runs spec and returns its sorted discrepancies. Without a mask key it
// masks with testMaskKey, so that the outcomes of two runs compare.
func runCollect(t testing.TB, spec Spec, src, tgt Reader, opts ...Option) (Summary, []Discrepancy, error) {
	t.Helper()
	if spec.MaskKey == nil {
		spec.MaskKey = testMaskKey
	}
	var c Collect
	sum, err := Run(t.Context(), spec, src, tgt, &c, opts...)
	SortDiscrepancies(c.Discrepancies)
	return sum, c.Discrepancies, err
}

// testMaskKey is the mask key of tests that expect masked values.
var testMaskKey = []byte("clearhouse test mask key, 32 bytes")

func jsonLines(ds []Discrepancy) string {
	var sb strings.Builder
	for _, d := range ds {
		sb.Write(d.AppendJSON(nil))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func assertSame(t *testing.T, what string, want, got []Discrepancy) {
	t.Helper()
	SortDiscrepancies(want)
	SortDiscrepancies(got)
	if w, g := jsonLines(want), jsonLines(got); w != g {
		t.Errorf("%s: discrepancies differ\n--- want\n%s--- got\n%s", what, w, g)
	}
}
