package source

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Splitting a local CSV file by byte range (diff.RangeSplitter): the engine's sorted
// merge runs on two halves of the key range at once, each half read by its own readers
// over a section of the file, so no row crosses cores. The probes resync on line starts
// and may land inside a quoted field that spans lines; the engine verifies the halves and
// falls back to the in-step merge when they do not join exactly (a split inside a quoted
// field makes the first half end in an unterminated quoted field, an error).

// splitFile is what a CSV reader over a local uncompressed file keeps to split it.
type splitFile struct {
	f         *os.File
	dataStart int64 // offset of the first record (after the header and a BOM)
	size      int64
	bufSize   int
	line0     int64 // c.line when the split was enabled: rows read since when it differs
}

// enableSplit lets c split f: call it right after NewCSVReader, before any Next.
func (c *CSVReader) enableSplit(f *os.File, bufSize int) error {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return err
	}
	cur, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if bufSize <= 0 {
		bufSize = defaultBufferSize
	}
	c.split = &splitFile{f: f, dataStart: cur - int64(c.br.Buffered()), size: st.Size(), bufSize: bufSize, line0: c.line}
	return nil
}

// SplitRange returns the byte range of the file's records, ok false when the reader
// cannot split (not a local uncompressed file, or rows were read already).
func (c *CSVReader) SplitRange() (start, end int64, ok bool) {
	if c.split == nil || c.line != c.split.line0 || c.err != nil {
		return 0, 0, false
	}
	return c.split.dataStart, c.split.size, true
}

// child is a reader of c's dialect and columns over r, lines counted from line.
func (c *CSVReader) child(r io.Reader, line int64, bufSize int) *CSVReader {
	n := &CSVReader{delim: c.delim, quote: c.quote, null: c.null, nullable: c.nullable,
		cols: c.cols, fileCols: c.fileCols, proj: c.proj, line: line,
		pos: position{name: c.pos.name, unit: c.pos.unit}}
	n.br = bufio.NewReaderSize(r, bufSize)
	if n.proj != nil {
		n.cells = make([]diff.Cell, len(n.cols))
	}
	return n
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	return n, err
}

// RowAt reads the first record starting on a line at or after off (off itself when the
// byte before it ends a line): its cells (valid until the next call), where its line
// starts and where the next one starts. io.EOF when there is none; a malformed record
// is returned with its diff.InvalidRowError.
func (c *CSVReader) RowAt(off int64) ([]diff.Cell, int64, int64, error) {
	s := c.split
	if s == nil {
		return nil, 0, 0, errors.New("csv: not splittable")
	}
	start := max(off, s.dataStart)
	if start > s.dataStart {
		// Resync: the line after the first '\n' at or after start-1.
		var b [4096]byte
		at := start - 1
		for {
			n, err := s.f.ReadAt(b[:], at)
			if i := bytes.IndexByte(b[:n], '\n'); i >= 0 {
				start = at + int64(i) + 1
				break
			}
			at += int64(n)
			if err != nil {
				if err == io.EOF {
					return nil, 0, 0, io.EOF
				}
				return nil, 0, 0, err
			}
		}
	}
	if start >= s.size {
		return nil, 0, 0, io.EOF
	}
	cr := &countingReader{r: io.NewSectionReader(s.f, start, s.size-start)}
	ch := c.child(cr, 0, 4096)
	cells, err := ch.Next()
	next := start + cr.n - int64(ch.br.Buffered())
	if err == io.EOF {
		return nil, 0, 0, io.EOF
	}
	return cells, start, next, err
}

// SplitAt returns a reader over the records before off and one over the records from
// off, which must be a line start, with the positions the whole file's reader gives.
// They read the file c reads; closing c closes it.
func (c *CSVReader) SplitAt(off int64) (diff.Reader, diff.Reader, error) {
	s := c.split
	if s == nil || off < s.dataStart || off > s.size {
		return nil, nil, errors.New("csv: cannot split here")
	}
	lines, err := countLines(s.f, s.dataStart, off)
	if err != nil {
		return nil, nil, err
	}
	first := c.child(io.NewSectionReader(s.f, s.dataStart, off-s.dataStart), c.line, s.bufSize)
	second := c.child(io.NewSectionReader(s.f, off, s.size-off), c.line+lines, s.bufSize)
	return first, second, nil
}

// countLines counts the '\n' bytes of f in [from, to).
func countLines(f *os.File, from, to int64) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for from < to {
		k, err := f.ReadAt(buf[:min(int64(len(buf)), to-from)], from)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		from += int64(k)
		if err != nil && from < to {
			return 0, err
		}
	}
	return n, nil
}
