// Package source reads datasets for the comparison engine: files (CSV/TSV, JSON
// Lines, Parquet) from a local path, a file:// URI or http(s), each as a
// diff.Reader (and a diff.OrderedReader when the caller declares the file sorted).
//
// # Conventions shared by every reader
//
//   - Next returns cells aligned with Columns(). The slice and the strings in it
//     point into buffers the reader reuses: they are valid until the next call to
//     Next, so the engine copies (strings.Clone) whatever it keeps. Next does not
//     allocate per row on the CSV and JSON Lines hot paths.
//   - NULL is distinct from the empty string: diff.Cell{Null: true} vs diff.Cell{}.
//   - Position() names the last row returned (or the row a RowError is about):
//     "<name> line <n>" for CSV and JSON Lines (the physical line on which the
//     record starts; line 1 of a CSV file is its header), "<name> row <n>" for
//     Parquet (1-based row number in the file). <name> is Options.Name, by default
//     the base name of the path or URL path. Position formats a string the first
//     time it is called for a row and is otherwise free.
//   - A row that cannot be read as a row of the table (wrong number of fields,
//     bad quoting after a closing quote, a malformed JSON line) is returned as a
//     *RowError and is not fatal: the next call to Next continues with the
//     following row. Every other error (I/O, an unterminated quoted field at the
//     end of the file, a corrupt Parquet page) is fatal, names the file and the
//     line or row, and is returned again by every later call.
package source

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Format names a file format.
type Format string

// Supported formats. FormatTSV is FormatCSV with a tab delimiter (same quoting and
// NULL rules).
const (
	FormatAuto    Format = ""
	FormatCSV     Format = "csv"
	FormatTSV     Format = "tsv"
	FormatJSONL   Format = "jsonl"
	FormatParquet Format = "parquet"
)

// Compression names a whole-file compression.
type Compression string

// Supported compressions. CompressionAuto means gzip when the name ends in ".gz".
const (
	CompressionAuto Compression = ""
	CompressionNone Compression = "none"
	CompressionGzip Compression = "gzip"
)

// RowError reports one row that could not be read as a row of the table: a CSV
// record with the wrong number of fields or with characters after a closing quote,
// or a JSON line that is not a well-formed JSON object. It is not fatal: the reader
// has consumed the row, and the next call to Next continues with the following row.
// The engine turns it into an invalid_row outcome for its side; the row takes no
// part in matching.
//
// The engine cannot import this package (source imports diff), so it recognises a
// RowError structurally:
//
//	var ir interface{ InvalidRow() (position, reason string) }
//	if errors.As(err, &ir) { pos, reason := ir.InvalidRow(); ... }
//
// and takes the values as read for the outcome's key through diff.RowCellser.
type RowError struct {
	// Position names the row, as Reader.Position does: "bank.csv line 12".
	Position string
	// Reason says what is wrong with it: "expected 8 fields, got 7".
	Reason string
	// Cells holds the row's values aligned with Columns() when the reader could
	// tell which value belongs to which column (CSV: by field position, columns past
	// the end of a short record are NULL; JSON Lines: only a line refused for a repeated
	// column, that column NULL), nil otherwise. The error owns them: they are not reused by the reader.
	Cells []diff.Cell
}

func (e *RowError) Error() string { return e.Position + ": " + e.Reason }

// InvalidRow returns the row's position and the reason it is invalid.
func (e *RowError) InvalidRow() (position, reason string) { return e.Position, e.Reason }

// RowCells returns Cells (nil when the row's values could not be told apart).
func (e *RowError) RowCells() []diff.Cell { return e.Cells }

// IsRowError reports whether err is (or wraps) a *RowError.
func IsRowError(err error) bool {
	var re *RowError
	return errors.As(err, &re)
}

// ordered wraps a Reader with the caller's promise that it is sorted.
type ordered struct {
	diff.Reader
	by []string
}

func (o *ordered) OrderedBy() []string { return o.by }

// Unwrap returns the reader with the promise (the engine looks for what else it can do).
func (o *ordered) Unwrap() diff.Reader { return o.Reader }

// Ordered returns r as a diff.OrderedReader promising ascending order of the given
// columns (the engine verifies it). The columns must be among r.Columns().
func Ordered(r diff.Reader, by []string) (diff.OrderedReader, error) {
	if len(by) == 0 {
		return nil, errors.New("source: Ordered needs at least one column")
	}
	cols := r.Columns()
	for _, c := range by {
		if !slices.Contains(cols, c) {
			return nil, fmt.Errorf("source: ordered-by column %q is not a column of the file (columns: %q)", c, cols)
		}
	}
	if rs, ok := r.(diff.RangeSplitter); ok {
		return &orderedSplitter{RangeSplitter: rs, by: slices.Clone(by)}, nil
	}
	return &ordered{Reader: r, by: slices.Clone(by)}, nil
}

// orderedSplitter is ordered for a reader that can also split by byte range.
type orderedSplitter struct {
	diff.RangeSplitter
	by []string
}

func (o *orderedSplitter) OrderedBy() []string { return o.by }

// Unwrap returns the reader with the promise.
func (o *orderedSplitter) Unwrap() diff.Reader { return o.RangeSplitter }

// bstr returns a string sharing b's memory. The caller guarantees b is not modified
// while the string is in use (here: until the next call to Next).
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// position caches "<name> <unit> <n>" for the current row.
type position struct {
	name string
	unit string // " line " or " row "
	n    int64
	s    string
	sn   int64
}

func (p *position) String() string {
	if p.n == 0 {
		return p.name
	}
	if p.sn != p.n || p.s == "" {
		b := make([]byte, 0, len(p.name)+len(p.unit)+20)
		b = append(b, p.name...)
		b = append(b, p.unit...)
		b = strconv.AppendInt(b, p.n, 10)
		p.s, p.sn = string(b), p.n
	}
	return p.s
}

// cloneCells copies cells so that they no longer share the reader's buffers.
func cloneCells(cells []diff.Cell) []diff.Cell {
	out := make([]diff.Cell, len(cells))
	for i, c := range cells {
		out[i] = diff.Cell{Text: strings.Clone(c.Text), Null: c.Null}
	}
	return out
}
