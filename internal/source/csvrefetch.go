package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Reading a record again by its byte offset (diff.Refetcher), for a local uncompressed
// file: the hash strategy then keeps fingerprints of rows instead of their values and
// reads again the few rows it must compare column by column.

var (
	_ diff.SessionRefetcher = (*CSVReader)(nil)
	_ diff.RawRecorder      = (*CSVReader)(nil)
)

// rawFormat names a reader's records as bytes: two files whose records on one line
// are equal hold equal cells when their dialect, fields and projection are the same.
func rawFormat(c *CSVReader, fields []string) string {
	return fmt.Sprintf("csv delimiter=%q quote=%q null=%q fields=%q columns=%v", c.delim, c.quote, c.null, fields, c.proj)
}

// RawFormat implements diff.RawRecorder.
func (c *CSVReader) RawFormat() string { return c.rawFormat }

// RawRecord returns the record last returned as it is in the file (quotes and all),
// without its line end, when it is one line of the file.
func (c *CSVReader) RawRecord() ([]byte, bool) { return c.rawRec, c.rawRec != nil }

// CanRefetch reports whether records can be read again: the reader reads a local
// regular file from its start.
func (c *CSVReader) CanRefetch() bool {
	return c.split != nil && c.split.dataStart == c.dataOff
}

// refetchBuffer is the read buffer of a record read again: one read of a typical
// record, little garbage per record (a longer one is read on, as always).
const refetchBuffer = 512

// A session reads rows that come close after each other (rows read again in the order
// of their offsets, many of them) from one read: when a row starts at most
// refetchNear bytes after the last, the next read from the file is refetchAhead bytes,
// and a row already in the buffer is not read again from the file.
const (
	refetchNear  = 4 << 10
	refetchAhead = 32 << 10
)

// Locator returns the byte offset of the record Next last returned.
func (c *CSVReader) Locator() uint64 { return uint64(c.recOff) }

// Refetch reads the record at byte offset loc (a Locator) again, with its raw form. It
// reads the file with ReadAt and a reader of its own, so it is safe while Next is called
// and from several goroutines.
func (c *CSVReader) Refetch(loc uint64) ([]diff.Cell, []byte, error) {
	var r csvRefetch
	return r.read(c, loc)
}

// RefetchSession implements diff.SessionRefetcher: Refetch for one goroutine, with one
// reader and its buffers for every record it reads again.
func (c *CSVReader) RefetchSession() func(loc uint64) ([]diff.Cell, []byte, error) {
	r := csvRefetch{session: true, last: -1}
	return func(loc uint64) ([]diff.Cell, []byte, error) { return r.read(c, loc) }
}

// csvRefetch reads records again, reusing its reader from one record to the next.
type csvRefetch struct {
	at      fileAt
	ch      *CSVReader
	session bool
	start   int64 // offset where ch started reading
	last    int64 // offset of the record read last (-1: none)
}

func (r *csvRefetch) read(c *CSVReader, loc uint64) ([]diff.Cell, []byte, error) {
	s := c.split
	if !c.CanRefetch() {
		return nil, nil, errors.New("csv: cannot read records again")
	}
	off := int64(loc)
	if off < s.dataStart || off >= s.size {
		return nil, nil, fmt.Errorf("%s: no record at byte %d", c.pos.name, off)
	}
	gap := off - r.last
	r.last = off
	if ch := r.ch; r.session && ch != nil && ch.err == nil {
		// Already in the buffer: skip to it.
		if d := off - (r.start + ch.off); d >= 0 && d <= int64(ch.br.Buffered()) {
			_, _ = ch.br.Discard(int(d))
			ch.off += d
			ch.line = 0 // as a new reader's: the record is named by its offset
			return r.next(c, off)
		}
	}
	r.at = fileAt{f: s.f, off: off, end: s.size, first: refetchBuffer}
	if r.session && gap > 0 && gap <= refetchNear {
		r.at.first = refetchAhead
	}
	r.start = off
	if r.ch == nil {
		size := refetchBuffer
		if r.session {
			size = refetchAhead
		}
		r.ch = c.child(&r.at, 0, size)
	} else {
		c.rechild(r.ch, &r.at)
	}
	return r.next(c, off)
}

// next reads the record ch is at, at byte off of the file.
func (r *csvRefetch) next(c *CSVReader, off int64) ([]diff.Cell, []byte, error) {
	cells, err := r.ch.Next()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%s: no record at byte %d", c.pos.name, off)
	}
	raw, _ := r.ch.RawRecord()
	if err != nil {
		// A record that is not a row (a ragged one) still has its bytes: the line join
		// checks that they are those it read first.
		return nil, raw, fmt.Errorf("%s: record at byte %d: %w", c.pos.name, off, err)
	}
	return cells, raw, nil
}

// fileAt reads f from off to end, its first read at most first bytes (a record read
// again far from the last needs one short read; more is read on when it is longer).
type fileAt struct {
	f        *os.File
	off, end int64
	first    int
}

func (a *fileAt) Read(p []byte) (int, error) {
	if a.off >= a.end {
		return 0, io.EOF
	}
	if a.first > 0 && len(p) > a.first {
		p = p[:a.first]
	}
	a.first = 0
	if rest := a.end - a.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := a.f.ReadAt(p, a.off)
	a.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

var _ diff.Positioner = (*CSVReader)(nil)

// PositionAt names the record at byte offset loc (a Locator of a record Next returned)
// as Position did when it returned it: the line ends before loc are counted from the
// nearest of the points noted every 256 lines while reading. Not to be called
// concurrently with Next.
func (c *CSVReader) PositionAt(loc uint64) (string, error) {
	s := c.split
	if !c.CanRefetch() || len(s.marks) == 0 || int64(loc) < s.marks[0].off || int64(loc) > c.off {
		return "", fmt.Errorf("%s: no record read at byte %d", c.pos.name, loc)
	}
	i := sort.Search(len(s.marks), func(i int) bool { return s.marks[i].off > int64(loc) }) - 1
	m := s.marks[i]
	lines := m.lines
	var buf [32 << 10]byte
	for off := m.off; off < int64(loc); {
		n, err := s.f.ReadAt(buf[:min(int64(len(buf)), int64(loc)-off)], off)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		off += int64(n)
		if err != nil && (!errors.Is(err, io.EOF) || off != int64(loc)) {
			return "", fmt.Errorf("%s: reading back to byte %d: %w", c.pos.name, loc, err)
		}
	}
	p := position{name: c.pos.name, unit: c.pos.unit, n: lines + 1}
	return p.String(), nil
}
