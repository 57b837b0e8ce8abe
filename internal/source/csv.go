package source

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// CSVOptions configure a CSV reader.
//
// The dialect is RFC 4180 with PostgreSQL's CSV COPY NULL convention:
//
//   - Records end with LF or CRLF. A UTF-8 byte order mark at the start of the file
//     is skipped. Completely empty lines are skipped.
//   - A field that starts with the quote character is quoted: it runs to the next
//     quote not doubled, and may hold delimiters, doubled quotes (one quote) and line
//     breaks (kept byte for byte, CRLF included). After the closing quote only a
//     delimiter or the end of the record may follow; anything else makes the record
//     a RowError. A quote inside an unquoted field is an ordinary character.
//   - An unquoted field equal to NullMarker is NULL; every other field is text. With
//     the default NullMarker "" an unquoted empty field is NULL and a quoted empty
//     field ("") is the empty string. With NullMarker `\N`, `\N` unquoted is NULL,
//     `"\N"` is the two-character text, and an unquoted empty field is "".
//   - No trimming: spaces are part of the field.
//   - A record with a number of fields other than the header's is a RowError.
type CSVOptions struct {
	// Delimiter separates fields; default ','. Must be a single-byte character other
	// than the quote, CR or LF.
	Delimiter byte
	// Quote quotes fields; default '"'.
	Quote byte
	// NullMarker is the unquoted text read as NULL; default "" (unquoted empty).
	NullMarker string
	// NoHeader says the file has no header row; Columns then names the fields in
	// order and is required.
	NoHeader bool
	// Columns, with a header, selects and orders the columns Next returns (each must
	// be in the header; other fields are ignored). Empty means all of the header's.
	Columns []string
	// Name is used in positions and errors ("bank.csv line 12").
	Name string
	// BufferSize of the underlying bufio.Reader; default 256 KiB.
	BufferSize int
}

const defaultBufferSize = 256 << 10

// CSVReader reads a CSV file. It implements diff.Reader.
type CSVReader struct {
	// Written per record by its goroutine: the padding keeps another reader's fields
	// (read by another core, allocated next to this one) off its cache lines.
	_        [128]byte
	br       *bufio.Reader
	closer   io.Closer
	delim    byte
	quote    byte
	null     string
	nullable bool // null != "": an unquoted empty field is "" rather than NULL

	cols     []string
	fileCols int   // fields per record in the file
	proj     []int // column i of the output is field proj[i]; nil when identity

	line  int64 // physical lines consumed so far
	pos   position
	buf   []byte // the current record, when it needed copying
	offs  []fieldOff
	raw   []diff.Cell // fields of the current record
	cells []diff.Cell // projected cells (raw when proj is nil)
	err   error       // sticky fatal error
	split *splitFile  // set when the reader reads a local file it can split (csvsplit.go)

	// Byte offsets in the input (csvrefetch.go): of the next byte to read, of the record
	// last returned, and of the first record.
	off, recOff, dataOff int64
	// The record last returned as read, when it is one line (diff.RawRecorder).
	rawRec    []byte
	rawBuf    []byte // rawRec of a quoted record longer than the bufio buffer
	rawFormat string
	delimStr  []byte  // the delimiter, for bytes.Count
	cut       cutLine // NextLine returned rawRec without parsing it into c.raw
	nl        []int32 // NextLinesLoose's line ends
	_         [128]byte
}

// paddedReader is a bufio.Reader off other objects' cache lines: its indexes are
// written per line, by the goroutine reading it.
type paddedReader struct {
	_ [128]byte
	bufio.Reader
	_ [128]byte
}

type fieldOff struct {
	start, end int
	quoted     bool
}

// NewCSVReader reads the header (unless NoHeader) from r and returns a reader
// positioned at the first record. If r is an io.Closer, Close closes it.
func NewCSVReader(r io.Reader, opts CSVOptions) (*CSVReader, error) {
	c := &CSVReader{delim: opts.Delimiter, quote: opts.Quote, null: opts.NullMarker}
	if c.delim == 0 {
		c.delim = ','
	}
	if c.quote == 0 {
		c.quote = '"'
	}
	if c.delim == c.quote || c.delim == '\r' || c.delim == '\n' || c.quote == '\r' || c.quote == '\n' {
		return nil, fmt.Errorf("%s: invalid CSV dialect: delimiter %q, quote %q", opts.Name, c.delim, c.quote)
	}
	if strings.IndexFunc(c.null, func(r rune) bool {
		return r == rune(c.delim) || r == rune(c.quote) || r == '\r' || r == '\n'
	}) >= 0 || indexByteString(c.null, c.delim) >= 0 || indexByteString(c.null, c.quote) >= 0 {
		return nil, fmt.Errorf("%s: invalid CSV null marker %q: it holds the delimiter, the quote or a line break", opts.Name, c.null)
	}
	c.nullable = c.null != ""
	c.delimStr = []byte{c.delim}
	c.pos = position{name: opts.Name, unit: " line "}
	if cl, ok := r.(io.Closer); ok {
		c.closer = cl
	}
	size := opts.BufferSize
	if size <= 0 {
		size = defaultBufferSize
	}
	pr := &paddedReader{Reader: *bufio.NewReaderSize(r, size)}
	c.br = &pr.Reader
	if b, err := c.br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		_, _ = c.br.Discard(3)
		c.off = 3
	}

	if opts.NoHeader {
		c.dataOff = c.off
		if len(opts.Columns) == 0 {
			return nil, fmt.Errorf("%s: a CSV file without a header needs declared columns", opts.Name)
		}
		if d := firstDuplicate(opts.Columns); d != "" {
			return nil, fmt.Errorf("%s: column %q declared twice", opts.Name, d)
		}
		c.cols = slices.Clone(opts.Columns)
		c.fileCols = len(c.cols)
		c.rawFormat = rawFormat(c, c.cols)
		return c, nil
	}

	n, reason, err := c.readRecord()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, no header row", opts.Name)
	}
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return nil, fmt.Errorf("%s: header: %s", c.pos.String(), reason)
	}
	c.dataOff = c.off
	header := make([]string, n)
	for i, f := range c.raw[:n] {
		if f.Text == "" {
			return nil, fmt.Errorf("%s: header: field %d has no column name", c.pos.String(), i+1)
		}
		header[i] = strings.Clone(f.Text)
	}
	c.fileCols = n
	if len(opts.Columns) == 0 {
		if d := firstDuplicate(header); d != "" {
			return nil, fmt.Errorf("%s: header: column %q appears twice", c.pos.String(), d)
		}
		c.cols = header
		c.rawFormat = rawFormat(c, header)
		return c, nil
	}
	if d := firstDuplicate(opts.Columns); d != "" {
		return nil, fmt.Errorf("%s: column %q declared twice", opts.Name, d)
	}
	c.cols = slices.Clone(opts.Columns)
	c.proj = make([]int, len(c.cols))
	for i, name := range c.cols {
		j := slices.Index(header, name)
		if j < 0 {
			return nil, fmt.Errorf("%s: declared column %q is not in the header %q", opts.Name, name, header)
		}
		if slices.Index(header[j+1:], name) >= 0 {
			return nil, fmt.Errorf("%s: header: column %q appears twice", opts.Name, name)
		}
		c.proj[i] = j
	}
	c.cells = make([]diff.Cell, len(c.cols))
	c.rawFormat = rawFormat(c, header)
	return c, nil
}

func firstDuplicate(names []string) string {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return n
		}
		seen[n] = true
	}
	return ""
}

// Columns returns the column names, in the order of the cells Next returns.
func (c *CSVReader) Columns() []string { return c.cols }

// Position names the record last returned by Next: "<name> line <n>".
func (c *CSVReader) Position() string { return c.pos.String() }

// Name implements diff.Namer: the file, as in positions.
func (c *CSVReader) Name() string { return c.pos.name }

// Close closes the underlying reader if it is an io.Closer.
func (c *CSVReader) Close() error {
	if c.closer != nil {
		err := c.closer.Close()
		c.closer = nil
		return err
	}
	return nil
}

// Next returns the next record. See the package documentation for the lifetime of
// the cells, and CSVOptions for the dialect.
func (c *CSVReader) Next() ([]diff.Cell, error) {
	if c.err != nil {
		return nil, c.err
	}
	c.cut = cutLine{}
	n, reason, err := c.readRecord()
	return c.record(n, reason, err)
}

// record is Next's result for a record read with readRecord.
func (c *CSVReader) record(n int, reason string, err error) ([]diff.Cell, error) {
	if err != nil {
		if err != io.EOF {
			c.err = err
		}
		return nil, err
	}
	if reason == "" && n != c.fileCols {
		reason = "expected " + strconv.Itoa(c.fileCols) + " fields, got " + strconv.Itoa(n)
	}
	if reason != "" {
		return nil, &RowError{Position: c.pos.String(), Reason: reason, Cells: c.rowErrorCells(n)}
	}
	if c.proj == nil {
		return c.raw[:n], nil
	}
	for i, j := range c.proj {
		c.cells[i] = c.raw[j]
	}
	return c.cells, nil
}

// LineDelimiter implements diff.LineReader: lines can be split at the delimiter when
// every field is a column, in order, and an empty field is NULL.
func (c *CSVReader) LineDelimiter() (byte, bool) { return c.delim, c.splittable() }

// splittable reports whether a line's fields are its columns, an empty one NULL.
func (c *CSVReader) splittable() bool { return c.proj == nil && !c.nullable }

// NextLine implements diff.LineReader: a record on one line with the header's number
// of fields, none of the first split of them quoted, is returned as its line, unsplit.
func (c *CSVReader) NextLine(split int) ([]byte, []diff.Cell, error) {
	line, _, cells, err := c.nextLine(split, true)
	return line, cells, err
}

// LooseLines implements diff.LooseLineReader: lines when every field is a column, in
// order; NULL is the null marker.
func (c *CSVReader) LooseLines() (byte, string, bool) { return c.delim, c.null, c.proj == nil }

// NextLineLoose implements diff.LooseLineReader: NextLine, except that a line without
// quotes is returned without its fields counted (counted false), and that a reader
// with a NULL marker returns lines too (what a field means is LooseLines').
func (c *CSVReader) NextLineLoose(split int) (line []byte, counted bool, cells []diff.Cell, err error) {
	return c.nextLine(split, false)
}

// NextLinesLoose implements diff.LineBatcher: the lines NextLineLoose would return next
// uncounted (whole lines in the buffer, neither empty nor quoted), up to len(lines), with
// their locators; it stops before any other line, and within the buffer's next
// batchBytes. Reading them one call for many saves the calls and bookkeeping of a line
// each.
func (c *CSVReader) NextLinesLoose(lines [][]byte, locs []uint64) int {
	if c.err != nil || c.proj != nil {
		return 0
	}
	buf, _ := c.br.Peek(c.br.Buffered()) // no read: only what is buffered
	// Lines before the first quote, in the next few KiB (one line in a few has one: the
	// quote's line is NextLineLoose's), their ends found all at once (newlineEnds).
	limit := min(len(buf), batchBytes)
	if q := bytes.IndexByte(buf[:limit], c.quote); q >= 0 {
		limit = q
	}
	if cap(c.nl) < len(lines) {
		c.nl = make([]int32, len(lines))
	}
	ends := c.nl[:len(lines)]
	ends = ends[:newlineEnds(buf[:limit], ends)]
	locs = locs[:len(lines)]
	n, i := 0, 0
	for _, e := range ends {
		j := int(e) - i
		body := trimEOL(buf[i : i+j+1])
		if len(body) == 0 {
			break
		}
		c.markLine() // readLine's bookkeeping, line by line
		lines[n], locs[n] = body, uint64(c.off)
		n++
		c.off += int64(j + 1)
		c.line++
		i += j + 1
	}
	if n > 0 {
		_, _ = c.br.Discard(i)
		c.pos.n = c.line
		c.recOff = int64(locs[n-1])
		c.rawRec = lines[n-1]
		c.cut = cutLine{}
	}
	return n
}

// batchBytes is how far into the buffer NextLinesLoose looks for lines (and a quote).
const batchBytes = 8 << 10

func (c *CSVReader) nextLine(split int, count bool) ([]byte, bool, []diff.Cell, error) {
	if c.err != nil {
		return nil, false, nil, c.err
	}
	line, body, copied, err := c.readLine()
	if err == nil && (c.splittable() || !count && c.proj == nil) {
		q := bytes.IndexByte(body, c.quote)
		if !count && q < 0 {
			c.rawRec = body
			c.cut = cutLine{} // LineCells is not for a line whose fields were not counted
			return body, false, nil, nil
		}
		if c.oneLine(body, q, split) {
			c.rawRec = body
			c.cut = cutLine{line: line, copied: copied, ok: true}
			return body, true, nil, nil
		}
	}
	c.cut = cutLine{}
	var n int
	var reason string
	if err == nil {
		n, reason, err = c.parseRecord(line, body, copied)
	}
	cells, err := c.record(n, reason, err)
	return nil, false, cells, err
}

// cutLine is the line NextLine returned unsplit, for LineCells.
type cutLine struct {
	line   []byte
	copied bool
	ok     bool
}

// oneLine reports whether body, whose first quote is at q (-1: none), is a whole record
// of c.fileCols fields whose first split fields are not quoted. Quoted fields after
// those are checked to end on this line, as the parser would read them, without being
// unescaped.
func (c *CSVReader) oneLine(body []byte, q, split int) bool {
	if q < 0 {
		return bytes.Count(body, c.delimStr)+1 == c.fileCols
	}
	pre := bytes.Count(body[:q], c.delimStr) // fields before the one holding the quote
	if pre < split {
		return false
	}
	n, ok := c.tailFields(body[bytes.LastIndexByte(body[:q], c.delim)+1:])
	return ok && pre+n == c.fileCols
}

// tailFields counts the fields of b, from a field's start to the record's end, and
// reports whether they are well formed on this line (false: a quoted field goes on to
// another line, or has something after its closing quote; the parser says which).
func (c *CSVReader) tailFields(b []byte) (int, bool) {
	n, i := 0, 0
	for {
		n++
		if i < len(b) && b[i] == c.quote {
			i++
			for {
				j := bytes.IndexByte(b[i:], c.quote)
				if j < 0 {
					return 0, false
				}
				i += j + 1
				if i < len(b) && b[i] == c.quote {
					i++
					continue
				}
				break
			}
			if i == len(b) {
				return n, true
			}
			if b[i] != c.delim {
				return 0, false
			}
			i++
			continue
		}
		k := bytes.IndexByte(b[i:], c.delim)
		if k < 0 {
			return n, true
		}
		i += k + 1
	}
}

// LineCells implements diff.LineReader: the cells of the line NextLine last returned.
func (c *CSVReader) LineCells() []diff.Cell {
	if cut := c.cut; cut.ok {
		c.cut = cutLine{}
		_, _, _ = c.parseRecord(cut.line, c.rawRec, cut.copied) // checked by oneLine: no error
	}
	return c.raw[:c.fileCols]
}

func (c *CSVReader) rowErrorCells(n int) []diff.Cell {
	out := make([]diff.Cell, len(c.cols))
	for i := range out {
		j := i
		if c.proj != nil {
			j = c.proj[i]
		}
		if j < n {
			out[i] = c.raw[j]
		} else {
			out[i] = diff.Cell{Null: true}
		}
	}
	return cloneCells(out)
}

// cell makes the cell of an unquoted field.
func (c *CSVReader) cell(b []byte) diff.Cell {
	if len(b) == 0 {
		return diff.Cell{Null: !c.nullable}
	}
	if c.nullable && string(b) == c.null {
		return diff.Cell{Null: true}
	}
	return diff.Cell{Text: bstr(b)}
}

// readRecord reads one record into c.raw and returns its number of fields, or a
// reason when the record is malformed but the reader can go on, or an error (io.EOF
// at the end).
func (c *CSVReader) readRecord() (int, string, error) {
	line, body, copied, err := c.readLine()
	if err != nil {
		return 0, "", err
	}
	return c.parseRecord(line, body, copied)
}

// markLine counts a physical line read from c.off, noting where every 256th starts when
// the reader can split (RowAt and PositionAt start from those marks).
func (c *CSVReader) markLine() {
	if s := c.split; s != nil {
		if s.reads&255 == 0 {
			s.marks = append(s.marks, lineMark{off: c.off, lines: c.line})
		}
		s.reads++
	}
}

// readLine reads the next non-empty physical line: as read, and its body without the
// line end; copied says whether it is in c.buf (longer than the bufio buffer) rather
// than in the buffer.
func (c *CSVReader) readLine() (line, body []byte, copied bool, err error) {
	for {
		c.pos.n = c.line + 1
		c.recOff = c.off
		c.markLine()
		line, err = c.br.ReadSlice('\n')
		copied = false
		if err == bufio.ErrBufferFull {
			c.buf = append(c.buf[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = c.br.ReadSlice('\n')
				c.buf = append(c.buf, line...)
			}
			line, copied = c.buf, true
		}
		c.off += int64(len(line))
		if err != nil && err != io.EOF {
			return nil, nil, false, fmt.Errorf("%s: %w", c.pos.String(), err)
		}
		if len(line) == 0 {
			return nil, nil, false, io.EOF
		}
		if line[len(line)-1] == '\n' {
			c.line++
		}
		if body = trimEOL(line); len(body) > 0 {
			return line, body, copied, nil
		}
	}
}

// parseRecord parses the record starting with a line from readLine into c.raw.
func (c *CSVReader) parseRecord(line, body []byte, copied bool) (int, string, error) {
	if bytes.IndexByte(body, c.quote) < 0 {
		c.splitFast(body)
		c.rawRec = body
		return len(c.raw), "", nil
	}
	c.rawRec = nil
	// Quotes are unescaped in c.buf: keep the line as read (in the bufio buffer, or
	// in rawBuf when it was longer than the buffer) unless the record goes on over
	// more lines. Whether a record has a raw form must not depend on the buffer size
	// (a record read again with a smaller buffer must have the same).
	if copied {
		c.rawBuf = append(c.rawBuf[:0], body...)
		body = c.rawBuf
	} else {
		c.buf = append(c.buf[:0], line...)
	}
	before := c.off // moreLine moves it when the record goes on (even to a last line without '\n')
	n, reason, err := c.parseQuoted()
	if c.off == before {
		c.rawRec = body
	}
	return n, reason, err
}

const (
	ones = 0x0101010101010101
	lo7  = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes has the high bit of each byte of x that is zero set, and no other bit.
func zeroBytes(x uint64) uint64 {
	t := ((x & lo7) + lo7) | x
	return ^(t | lo7)
}

// splitFast splits a record without quotes into c.raw, finding the delimiters
// eight bytes at a time (faster than one IndexByte call per short field).
func (c *CSVReader) splitFast(body []byte) {
	dm := uint64(c.delim) * ones
	raw := c.raw[:0]
	start, i := 0, 0
	for ; i+8 <= len(body); i += 8 {
		w := binary.LittleEndian.Uint64(body[i:])
		for m := zeroBytes(w ^ dm); m != 0; m &= m - 1 {
			p := i + bits.TrailingZeros64(m)>>3
			raw = append(raw, c.cell(body[start:p]))
			start = p + 1
		}
	}
	for ; i < len(body); i++ {
		if body[i] == c.delim {
			raw = append(raw, c.cell(body[start:i]))
			start = i + 1
		}
	}
	c.raw = append(raw, c.cell(body[start:]))
}

// trimEOL strips a trailing LF or CRLF (and a lone CR at the end of the file).
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// moreLine appends the next physical line to c.buf; false at the end of input.
func (c *CSVReader) moreLine() (bool, error) {
	got := false
	for {
		line, err := c.br.ReadSlice('\n')
		c.buf = append(c.buf, line...)
		c.off += int64(len(line))
		got = got || len(line) > 0
		if len(line) > 0 && line[len(line)-1] == '\n' {
			c.line++
		}
		switch err {
		case nil:
			return true, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return got, nil
		default:
			return false, fmt.Errorf("%s: %w", c.pos.String(), err)
		}
	}
}

// parseQuoted parses the record in c.buf (one physical line so far, more are read
// while a quoted field spans lines). Quoted fields are unescaped in place.
func (c *CSVReader) parseQuoted() (int, string, error) {
	q, d := c.quote, c.delim
	offs := c.offs[:0]
	reason := ""
	i := 0
	eol := -1 // index of the '\n' ending the physical line holding i (or len(buf))
	for {
		buf := c.buf
		if i < len(buf) && buf[i] == q {
			i++
			start, w := i, i
			for {
				j := bytes.IndexByte(buf[i:], q)
				if j < 0 {
					copy(buf[w:], buf[i:])
					w += len(buf) - i
					i = len(buf)
					ok, err := c.moreLine()
					if err != nil {
						return 0, "", err
					}
					if !ok {
						return 0, "", fmt.Errorf("%s: unterminated quoted field", c.pos.String())
					}
					buf = c.buf
					continue
				}
				copy(buf[w:], buf[i:i+j])
				w += j
				i += j + 1
				if i < len(buf) && buf[i] == q {
					buf[w] = q
					w++
					i++
					continue
				}
				break
			}
			offs = append(offs, fieldOff{start, w, true})
			if i >= len(buf) {
				break
			}
			ch := buf[i]
			if ch == d {
				i++
				continue
			}
			if ch == '\n' || (ch == '\r' && (i+1 == len(buf) || buf[i+1] == '\n')) {
				break
			}
			if reason == "" {
				// The character is not quoted: it is part of a value, which may be sensitive.
				reason = fmt.Sprintf("field %d: unexpected character after the closing quote", len(offs))
			}
			for i < len(buf) && buf[i] != d && buf[i] != '\n' {
				i++
			}
			if i < len(buf) && buf[i] == d {
				i++
				continue
			}
			break
		}
		if eol < i {
			if k := bytes.IndexByte(buf[i:], '\n'); k >= 0 {
				eol = i + k
			} else {
				eol = len(buf)
			}
		}
		start := i
		end := eol
		atEnd := true
		if k := bytes.IndexByte(buf[i:eol], d); k >= 0 {
			end, atEnd = i+k, false
		}
		i = end
		if atEnd && end > start && buf[end-1] == '\r' {
			end--
		}
		offs = append(offs, fieldOff{start, end, false})
		if atEnd {
			break
		}
		i++ // delimiter
	}
	c.offs = offs
	raw := c.raw[:0]
	for _, f := range offs {
		b := c.buf[f.start:f.end]
		if f.quoted {
			raw = append(raw, diff.Cell{Text: bstr(b)})
		} else {
			raw = append(raw, c.cell(b))
		}
	}
	c.raw = raw
	return len(raw), reason, nil
}

// AppendCSVField appends the CSV encoding of one cell, in the dialect CSVReader
// reads: NULL is written as the unquoted null marker (unquoted empty by default);
// a text is quoted when it is empty, equals the null marker, or holds the delimiter, the quote, CR or LF. It returns an error-free result for
// any text; reading the field back yields the same cell.
func AppendCSVField(dst []byte, cell diff.Cell, delim, quote byte, nullMarker string) []byte {
	if cell.Null {
		return append(dst, nullMarker...)
	}
	s := cell.Text
	need := s == "" || s == nullMarker || needsQuotes(s, delim, quote)
	if !need {
		return append(dst, s...)
	}
	dst = append(dst, quote)
	for {
		i := indexByteString(s, quote)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, quote)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, quote)
}

// needsQuotes reports whether s holds the delimiter, the quote, CR or LF, eight
// bytes at a time.
func needsQuotes(s string, delim, quote byte) bool {
	dm, qm := uint64(delim)*ones, uint64(quote)*ones
	const crm, lfm = uint64('\r') * ones, uint64('\n') * ones
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if zeroBytes(w^dm)|zeroBytes(w^qm)|zeroBytes(w^crm)|zeroBytes(w^lfm) != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if ch := s[i]; ch == delim || ch == quote || ch == '\n' || ch == '\r' {
			return true
		}
	}
	return false
}

func indexByteString(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// CSVWriter writes records with AppendCSVField, LF-terminated.
type CSVWriter struct {
	w     *bufio.Writer
	delim byte
	quote byte
	null  string
	buf   []byte
}

// NewCSVWriter returns a writer in the dialect that NewCSVReader with the same
// options reads (Delimiter, Quote and NullMarker are used).
func NewCSVWriter(w io.Writer, opts CSVOptions) *CSVWriter {
	cw := &CSVWriter{w: bufio.NewWriterSize(w, 64<<10), delim: opts.Delimiter, quote: opts.Quote, null: opts.NullMarker}
	if cw.delim == 0 {
		cw.delim = ','
	}
	if cw.quote == 0 {
		cw.quote = '"'
	}
	return cw
}

// Write writes one record.
func (w *CSVWriter) Write(cells []diff.Cell) error {
	if len(cells) == 1 && cells[0].Null && w.null == "" {
		return errors.New("source: a one-column record holding NULL would be an empty line; use a null marker")
	}
	b := w.buf[:0]
	for i, cell := range cells {
		if i > 0 {
			b = append(b, w.delim)
		}
		b = AppendCSVField(b, cell, w.delim, w.quote, w.null)
	}
	b = append(b, '\n')
	w.buf = b
	_, err := w.w.Write(b)
	return err
}

// WriteHeader writes the column names as a record.
func (w *CSVWriter) WriteHeader(cols []string) error {
	cells := make([]diff.Cell, len(cols))
	for i, c := range cols {
		cells[i] = diff.Cell{Text: c}
	}
	return w.Write(cells)
}

// Flush flushes buffered records.
func (w *CSVWriter) Flush() error { return w.w.Flush() }
