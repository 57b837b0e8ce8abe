package gen

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// sink writes one file. write returns the row's position number (the line the
// record starts on, or the 1-based Parquet row).
type sink interface {
	header(cols []string) error
	write(cells []diff.Cell) (int64, error)
	close() error
}

// fileOut is a buffered (optionally gzip-compressed) file.
type fileOut struct {
	f  *os.File
	z  *gzip.Writer
	bw *bufio.Writer
}

func createOut(path string, gz bool) (*fileOut, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	o := &fileOut{f: f}
	var w io.Writer = f
	if gz {
		o.z, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		w = o.z
	}
	o.bw = bufio.NewWriterSize(w, 1<<20)
	return o, nil
}

func (o *fileOut) close() error {
	err := o.bw.Flush()
	if o.z != nil {
		if e := o.z.Close(); err == nil {
			err = e
		}
	}
	if e := o.f.Close(); err == nil {
		err = e
	}
	return err
}

// csvSink writes records with source.CSVWriter, in the dialect source reads.
type csvSink struct {
	out  *fileOut
	w    *source.CSVWriter
	line int64 // physical lines written
}

func newCSVSink(out *fileOut, delim byte, null string) *csvSink {
	return &csvSink{out: out, w: source.NewCSVWriter(out.bw, source.CSVOptions{Delimiter: delim, NullMarker: null})}
}

func (s *csvSink) header(cols []string) error {
	err := s.w.WriteHeader(cols)
	s.line++
	for _, c := range cols {
		s.line += int64(strings.Count(c, "\n"))
	}
	return err
}

// write returns the line the record starts on. A record spans one line plus the
// line breaks inside its (quoted) texts: the delimiter, the quote and the null
// marker hold none.
func (s *csvSink) write(cells []diff.Cell) (int64, error) {
	err := s.w.Write(cells)
	n := s.line + 1
	s.line++
	for _, c := range cells {
		if !c.Null {
			s.line += int64(strings.Count(c.Text, "\n"))
		}
	}
	return n, err
}

func (s *csvSink) close() error {
	err := s.w.Flush()
	if e := s.out.close(); err == nil {
		err = e
	}
	return err
}

type jsonlSink struct {
	out    *fileOut
	buf    []byte
	names  [][]byte // `"name":` per column
	number int      // the column written as a JSON number when it is one
	line   int64
}

func (s *jsonlSink) header(cols []string) error {
	for i, c := range cols {
		var b []byte
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
		s.names = append(s.names, append(b, ':'))
	}
	return nil
}

func (s *jsonlSink) write(cells []diff.Cell) (int64, error) {
	b := append(s.buf[:0], '{')
	for i, c := range cells {
		b = append(b, s.names[i]...)
		switch {
		case c.Null:
			b = append(b, "null"...)
		case i == s.number && jsonNumber(c.Text):
			b = append(b, c.Text...)
		default:
			b = appendJSONString(b, c.Text)
		}
	}
	b = append(b, '}', '\n')
	s.buf = b
	s.line++
	_, err := s.out.bw.Write(b)
	return s.line, err
}

func (s *jsonlSink) close() error { return s.out.close() }

// jsonNumber reports whether s follows the JSON number grammar.
func jsonNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (s is valid UTF-8).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

type parquetSink struct {
	out   *fileOut
	w     *parquet.GenericWriter[any]
	batch []parquet.Row
	n     int // rows in batch
	arena []byte
	rows  int64
}

func newParquetSink(out *fileOut, cols []string) *parquetSink {
	fields := make([]reflect.StructField, len(cols))
	for i, c := range cols {
		fields[i] = reflect.StructField{
			Name: "F" + strconv.Itoa(i),
			Type: reflect.TypeFor[*string](),
			Tag:  reflect.StructTag(`parquet:"` + c + `,optional"`),
		}
	}
	schema := parquet.SchemaOf(reflect.Zero(reflect.StructOf(fields)).Interface())
	w := parquet.NewGenericWriter[any](out.bw, schema,
		parquet.Compression(&parquet.Snappy),
		parquet.MaxRowsPerRowGroup(128<<10),
		parquet.CreatedBy("clearhouse-gen", "1", ""),
	)
	return &parquetSink{out: out, w: w}
}

func (s *parquetSink) header([]string) error { return nil }

func (s *parquetSink) write(cells []diff.Cell) (int64, error) {
	k := s.n
	if k == len(s.batch) {
		s.batch = append(s.batch, make(parquet.Row, 0, len(cells)))
	}
	row := s.batch[k][:0]
	for i, c := range cells {
		if c.Null {
			row = append(row, parquet.NullValue().Level(0, 0, i))
			continue
		}
		start := len(s.arena)
		s.arena = append(s.arena, c.Text...)
		row = append(row, parquet.ByteArrayValue(s.arena[start:len(s.arena):len(s.arena)]).Level(0, 1, i))
	}
	s.batch[k] = row
	s.n++
	s.rows++
	if s.n == 1024 {
		return s.rows, s.flush()
	}
	return s.rows, nil
}

// flush writes the batch; parquet-go copies the values, so the rows and the arena
// are reused.
func (s *parquetSink) flush() error {
	_, err := s.w.WriteRows(s.batch[:s.n])
	s.n = 0
	s.arena = s.arena[:0]
	return err
}

func (s *parquetSink) close() error {
	err := s.flush()
	if e := s.w.Close(); err == nil {
		err = e
	}
	if e := s.out.close(); err == nil {
		err = e
	}
	return err
}

// compareKeys orders key tuples: component by component, byte order, NULL last.
func compareKeys(a, b []diff.Cell) int {
	for i := range a {
		x, y := a[i], b[i]
		switch {
		case x.Null && y.Null:
			continue
		case x.Null:
			return 1
		case y.Null:
			return -1
		}
		if c := cmp.Compare(x.Text, y.Text); c != 0 {
			return c
		}
	}
	return 0
}

// writeSide streams one side's file: plain base rows computed on the fly, the
// injected entities' rows at their base key, extra rows merged in by key (sorted)
// or at their slot (shuffled).
func (g *generator) writeSide(side int, s sink, name, unit string) (int64, error) {
	var count int64
	emit := func(r *row) error {
		n, err := s.write(r.cells)
		if r.pos != nil {
			*r.pos = name + unit + strconv.FormatInt(n, 10)
		}
		count++
		return err
	}
	if err := s.header(g.cols); err != nil {
		return 0, err
	}
	var floats []*row
	for _, e := range g.entities {
		rs := e.rows[side]
		if e.base >= 0 {
			if g.cfg.Sorted || len(rs) < 2 {
				continue
			}
			rs = rs[1:]
		}
		floats = append(floats, rs...)
	}
	N := uint64(g.cfg.Rows)
	if g.cfg.Sorted {
		slices.SortStableFunc(floats, func(a, b *row) int { return compareKeys(a.cells[:g.nkey], b.cells[:g.nkey]) })
	} else {
		rng := rand.New(rand.NewPCG(g.seed, 0x736c6f74+uint64(side)))
		for _, r := range floats {
			r.slot = rng.Uint64N(N + 1)
		}
		slices.SortStableFunc(floats, func(a, b *row) int { return cmp.Compare(a.slot, b.slot) })
	}
	var rb rowBuf
	key := make([]diff.Cell, g.nkey)
	fi := 0
	order := newPerm(N, g.seed^(0x6f72646572+uint64(side)))
	for j := range N {
		i := j
		if !g.cfg.Sorted {
			i = order.at(j)
			for fi < len(floats) && floats[fi].slot == j {
				if err := emit(floats[fi]); err != nil {
					return count, err
				}
				fi++
			}
		}
		e := g.injected[i]
		var cells []diff.Cell
		if e == nil {
			cells = g.plain(&rb, i)
		}
		if g.cfg.Sorted {
			copy(key, cells)
			if e != nil {
				key = g.baseKey(i)
			}
			for fi < len(floats) && compareKeys(floats[fi].cells[:g.nkey], key) < 0 {
				if err := emit(floats[fi]); err != nil {
					return count, err
				}
				fi++
			}
		}
		if e == nil {
			if _, err := s.write(cells); err != nil {
				return count, err
			}
			count++
			continue
		}
		rs := e.rows[side]
		if !g.cfg.Sorted && len(rs) > 1 {
			rs = rs[:1]
		}
		for _, r := range rs {
			if err := emit(r); err != nil {
				return count, err
			}
		}
	}
	for ; fi < len(floats); fi++ {
		if err := emit(floats[fi]); err != nil {
			return count, err
		}
	}
	return count, nil
}
