package source

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

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
	_         [128]byte // reads is written per line: keep other objects off its lines
	f         *os.File
	dataStart int64 // offset of the first record (after the header and a BOM)
	size      int64
	bufSize   int
	line0     int64 // c.line when the split was enabled: rows read since when it differs

	// Every 256th line read, where it starts and the line ends before it (PositionAt).
	marks []lineMark
	reads int64
	_     [128]byte
}

// lineMark is a point of the file: line ends before off.
type lineMark struct{ off, lines int64 }

// readFrom says where a reader of f through br is: f's size and the offset of the next
// byte br would return; ok false (with the error, if any) when f is not a regular file.
func readFrom(f *os.File, br *bufio.Reader) (size, next int64, ok bool, err error) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0, 0, false, err
	}
	cur, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, 0, false, err
	}
	return st.Size(), cur - int64(br.Buffered()), true, nil
}

// enableSplit lets c split f: call it right after NewCSVReader, before any Next.
func (c *CSVReader) enableSplit(f *os.File, bufSize int) error {
	size, next, ok, err := readFrom(f, c.br)
	if !ok {
		return err
	}
	if bufSize <= 0 {
		bufSize = defaultBufferSize
	}
	c.split = &splitFile{f: f, dataStart: next, size: size, bufSize: bufSize, line0: c.line}
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
	n := &CSVReader{}
	c.initChild(n, line)
	n.br = bufio.NewReaderSize(r, bufSize)
	if n.proj != nil {
		n.cells = make([]diff.Cell, len(n.cols))
	}
	return n
}

// initChild makes n a reader of c's dialect and columns, lines counted from line,
// without a bufio.Reader.
func (c *CSVReader) initChild(n *CSVReader, line int64) {
	*n = CSVReader{delim: c.delim, quote: c.quote, null: c.null, nullable: c.nullable,
		cols: c.cols, fileCols: c.fileCols, proj: c.proj, line: line, delimStr: c.delimStr,
		pos: position{name: c.pos.name, unit: c.pos.unit}}
}

// rechild makes a child reader of c (from child) read r from its start, as a new child
// would, keeping its bufio.Reader and the buffers it has grown.
func (c *CSVReader) rechild(n *CSVReader, r io.Reader) {
	br, buf, offs, raw, cells, rawBuf := n.br, n.buf[:0], n.offs[:0], n.raw[:0], n.cells, n.rawBuf[:0]
	c.initChild(n, 0)
	br.Reset(r)
	n.br, n.buf, n.offs, n.raw, n.cells, n.rawBuf = br, buf, offs, raw, cells, rawBuf
}

// section is a sectionReader of c's dialect and columns over r, lines counted from line.
// The halves of a split are read on two cores, each writing its readers' state per
// record: the reader, its bufio.Reader and its cells are kept off the cache lines of
// whatever was allocated next to them (the other half's reader, allocated just before
// or after), or both cores would keep taking the same lines from each other.
func (c *CSVReader) section(r io.Reader, line int64, bufSize int) *sectionReader {
	s := &sectionReader{}
	c.initChild(&s.CSVReader, line)
	s.rd = *bufio.NewReaderSize(r, bufSize)
	s.br = &s.rd
	s.raw = paddedCells(s.fileCols)[:0]
	if s.proj != nil {
		s.cells = paddedCells(len(s.cols))
	}
	return s
}

// paddedCells returns n cells with cells' worth of padding on each side.
func paddedCells(n int) []diff.Cell {
	const pad = 8 // 8 × 24 bytes
	return make([]diff.Cell, n+2*pad)[pad : pad+n : pad+n]
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
// off, which must be a line start. The first gives the positions the whole file's
// reader gives; the second counts lines from off (Rebase makes them the whole file's
// once the first has read its section: counting the lines before off up front would
// read them twice, and before either half could start). They read the file c reads;
// closing c closes it.
func (c *CSVReader) SplitAt(off int64) (diff.Reader, diff.Reader, error) {
	s := c.split
	if s == nil || off < s.dataStart || off > s.size {
		return nil, nil, errors.New("csv: cannot split here")
	}
	first := c.section(io.NewSectionReader(s.f, s.dataStart, off-s.dataStart), c.line, s.bufSize)
	second := c.section(io.NewSectionReader(s.f, off, s.size-off), 0, s.bufSize)
	return first, second, nil
}

// Rebase returns the whole file's position of a position the second reader of SplitAt
// gave ("name line n", n counted from the split offset), first being the first reader
// after it read its whole section: its lines are the lines before the offset.
func (c *CSVReader) Rebase(first diff.Reader, pos string) string {
	f, ok := first.(*sectionReader)
	prefix := c.pos.name + c.pos.unit
	if !ok || !strings.HasPrefix(pos, prefix) {
		return pos
	}
	n, err := strconv.ParseInt(pos[len(prefix):], 10, 64)
	if err != nil {
		return pos
	}
	return prefix + strconv.FormatInt(f.line+n, 10)
}

// sectionReader reads a section of a split file. It implements diff.SameRecordReader:
// in a reconciliation most target records are byte for byte the source's, and such a
// record need not be parsed again. The bytes are compared, not the cells: parsing is a
// function of the bytes (and of the dialect and columns, which must be the same).
type sectionReader struct {
	_ [128]byte
	CSVReader
	rd    bufio.Reader // CSVReader.br
	ok    bool         // the last record was returned as cells (its RawRecord are its bytes)
	peer  *sectionReader
	same  bool // peer reads as this one does, and often enough the same records
	tries int  // records compared in this window of sameWindow
	hits  int  // records that were the same
	_     [128]byte
}

// sameWindow is how many records NextSame compares before it looks at how many were the
// same: when few were, comparing costs more than it saves (the peer's keeping its
// bytes, and a compare of each record that then has to be parsed), and it stops.
const sameWindow = 1 << 14

// Next is CSVReader.Next, noting whether it returned cells (RawRecord is kept for a
// malformed record, and left as it was at the end).
func (s *sectionReader) Next() ([]diff.Cell, error) {
	cells, err := s.CSVReader.Next()
	s.ok = err == nil
	return cells, err
}

// NextSame reads the next record without parsing it when its bytes are those of the
// record other's Next last returned (other a sectionReader of the same dialect and
// columns): Next would return the same cells. False leaves the reader where it was.
func (s *sectionReader) NextSame(other diff.Reader) bool {
	o, ok := other.(*sectionReader)
	if !ok {
		return false
	}
	if s.peer != o {
		s.peer, s.same = o, sameLayout(&s.CSVReader, &o.CSVReader)
	}
	c := &s.CSVReader
	body := o.rawRec // the record other last returned, one line, without its line end
	if !s.same || !o.ok || body == nil || c.err != nil {
		return false
	}
	if s.tries++; s.tries == sameWindow {
		if s.hits < sameWindow/8 {
			s.same = false
			return false
		}
		s.tries, s.hits = 0, 0
	}
	// The next line must be body and a line end that reading strips to leave body: "\n"
	// (unless body ends in '\r', which "\n" would take with it) or "\r\n".
	k := len(body)
	b, _ := c.br.Peek(k + 2)
	if len(b) <= k || string(b[:k]) != string(body) {
		return false
	}
	n := k + 1
	switch {
	case b[k] == '\n' && body[k-1] != '\r':
	case b[k] == '\r' && len(b) == k+2 && b[k+1] == '\n':
		n = k + 2
	default:
		return false
	}
	s.hits++
	_, _ = c.br.Discard(n)
	c.pos.n = c.line + 1
	c.line++
	c.recOff = c.off
	c.off += int64(n)
	c.rawRec = b[:k]
	s.ok = true
	return true
}

// sameLayout reports whether a and b turn the same bytes into the same cells.
func sameLayout(a, b *CSVReader) bool {
	return a.delim == b.delim && a.quote == b.quote && a.null == b.null && a.nullable == b.nullable &&
		a.fileCols == b.fileCols && slices.Equal(a.proj, b.proj) && slices.Equal(a.cols, b.cols)
}
