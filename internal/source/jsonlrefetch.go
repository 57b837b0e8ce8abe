package source

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Reading a line of a local uncompressed JSON Lines file again by its byte offset
// (diff.Refetcher), and handing over the line as read (diff.RawRecorder): see
// csvrefetch.go.

var (
	_ diff.SessionRefetcher = (*JSONLReader)(nil)
	_ diff.RawRecorder      = (*JSONLReader)(nil)
)

// enableRefetch lets j read its lines again from f: call it right after NewJSONLReader.
// It does nothing when f is not a regular file read from its start.
func (j *JSONLReader) enableRefetch(f *os.File) error {
	size, next, ok, err := readFrom(f, j.br)
	if ok && next == j.off {
		j.file, j.size = f, size
	}
	return err
}

// CanRefetch reports whether lines can be read again.
func (j *JSONLReader) CanRefetch() bool { return j.file != nil }

// Locator returns the byte offset of the line Next last returned.
func (j *JSONLReader) Locator() uint64 { return uint64(j.recOff) }

// Refetch reads the line at byte offset loc again, with its bytes, with a reader of its
// own (safe while Next is called, and from several goroutines).
func (j *JSONLReader) Refetch(loc uint64) ([]diff.Cell, []byte, error) {
	var r jsonlRefetch
	return r.read(j, loc)
}

// RefetchSession implements diff.SessionRefetcher: Refetch for one goroutine, with one
// reader and its buffers for every line it reads again.
func (j *JSONLReader) RefetchSession() func(loc uint64) ([]diff.Cell, []byte, error) {
	var r jsonlRefetch
	return func(loc uint64) ([]diff.Cell, []byte, error) { return r.read(j, loc) }
}

// jsonlRefetch reads lines again, reusing its reader from one line to the next.
type jsonlRefetch struct {
	sec io.SectionReader
	ch  *JSONLReader
}

func (r *jsonlRefetch) read(j *JSONLReader, loc uint64) ([]diff.Cell, []byte, error) {
	if j.file == nil {
		return nil, nil, errors.New("jsonl: cannot read lines again")
	}
	off := int64(loc)
	if off < 0 || off >= j.size {
		return nil, nil, fmt.Errorf("%s: no line at byte %d", j.pos.name, off)
	}
	r.sec = *io.NewSectionReader(j.file, off, j.size-off)
	if r.ch == nil {
		r.ch = &JSONLReader{br: bufio.NewReaderSize(&r.sec, refetchBuffer),
			cols: j.cols, index: j.index, cells: make([]diff.Cell, len(j.cols)), seen: make([]uint32, len(j.cols)), pos: position{name: j.pos.name, unit: j.pos.unit},
			learned: j.learned}
	} else {
		r.ch.br.Reset(&r.sec)
		r.ch.line, r.ch.off, r.ch.recOff, r.ch.err = 0, 0, 0, nil
	}
	ch := r.ch
	line, err := ch.readLine()
	if err != nil {
		if err == io.EOF {
			return nil, nil, fmt.Errorf("%s: no line at byte %d", j.pos.name, off)
		}
		return nil, nil, err
	}
	if err := ch.parse(line); err != nil {
		return nil, nil, fmt.Errorf("%s: line at byte %d: %w", j.pos.name, off, err)
	}
	return ch.cells, line, nil
}

// RawFormat implements diff.RawRecorder: equal lines have equal cells for the same
// columns (JSON values are read the same way whatever the file).
func (j *JSONLReader) RawFormat() string { return fmt.Sprintf("jsonl columns=%q", j.cols) }

// RawRecord returns the line last returned, without surrounding white space at its end.
func (j *JSONLReader) RawRecord() ([]byte, bool) { return j.rawLine, j.rawLine != nil }
