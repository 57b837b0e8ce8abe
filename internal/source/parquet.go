package source

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// ParquetOptions configure a Parquet reader.
//
// Columns are the top-level fields of the schema (flat schemas only: a group,
// list, map or repeated field is an error unless Columns leaves it out). A NULL
// (or missing optional) value is NULL. Values are rendered as text:
//
//   - DECIMAL (over INT32, INT64, FIXED_LEN_BYTE_ARRAY or BYTE_ARRAY) as exact
//     decimal text with exactly <scale> fractional digits ("-0.05", "12.50", "7");
//   - TIMESTAMP (millis, micros, nanos) and legacy INT96 as RFC 3339 with
//     nanoseconds in UTC ("2026-03-01T09:00:00.5Z"); a timestamp not adjusted to UTC
//     (a local date-time) without a zone ("2026-03-01T09:00:00.5");
//   - DATE as 2006-01-02; TIME as 15:04:05 with as many fractional digits as needed;
//   - integers in base 10 (unsigned when annotated unsigned); FLOAT/DOUBLE as the
//     shortest text that reads back to the same float; BOOLEAN as true/false;
//   - UUID as 8-4-4-4-12 lowercase hex; FLOAT16 as a float;
//   - strings, enums, JSON and un-annotated byte arrays as their bytes.
//
// INTERVAL is not supported (an error unless Columns leaves it out).
type ParquetOptions struct {
	// Columns selects and orders the columns (each must be a top-level field).
	// Empty means every top-level field.
	Columns []string
	// Name is used in positions and errors ("bank.parquet row 12").
	Name string
	// BatchRows is the number of rows decoded at a time; default 1024.
	BatchRows int
}

// ParquetReader reads a Parquet file one row group at a time, a batch of rows at a
// time. It implements diff.Reader.
type ParquetReader struct {
	file   *parquet.File
	closer io.Closer
	cols   []string
	out    []int        // out[leafColumnIndex] = cell index, or -1
	render []renderFunc // by cell index
	groups []parquet.RowGroup
	group  int
	rows   parquet.Rows
	batch  []parquet.Row
	bi, bn int
	row    int64
	pos    position
	buf    []byte
	spans  []span
	cells  []diff.Cell
	err    error
}

type span struct{ start, end int }

type renderFunc func(dst []byte, v parquet.Value) []byte

// NewParquetReader opens the Parquet file in r (size bytes). Only the footer is
// read here; row groups are read as Next reaches them. If closer is not nil, Close
// closes it.
func NewParquetReader(r io.ReaderAt, size int64, closer io.Closer, opts ParquetOptions) (*ParquetReader, error) {
	if err := checkParquetTail(r, size); err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", opts.Name, err)
	}
	f, err := openParquet(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", opts.Name, err)
	}
	p := &ParquetReader{file: f, closer: closer, pos: position{name: opts.Name, unit: " row "}}
	schema := f.Schema()
	var fields []string
	for _, fld := range schema.Fields() {
		fields = append(fields, fld.Name())
	}
	cols := opts.Columns
	if len(cols) == 0 {
		cols = fields
	} else if d := firstDuplicate(cols); d != "" {
		return nil, fmt.Errorf("%s: column %q declared twice", opts.Name, d)
	}
	p.cols = slices.Clone(cols)
	p.out = make([]int, len(schema.Columns()))
	for i := range p.out {
		p.out[i] = -1
	}
	p.render = make([]renderFunc, len(cols))
	fileLogical := topLevelLogicalTypes(f.Metadata().Schema)
	for i, name := range cols {
		if !slices.Contains(fields, name) {
			return nil, fmt.Errorf("%s: column %q is not in the Parquet schema (fields: %q)", opts.Name, name, fields)
		}
		leaf, ok := schema.Lookup(name)
		if !ok || leaf.MaxRepetitionLevel > 0 || !leaf.Node.Leaf() {
			return nil, fmt.Errorf("%s: column %q is a nested or repeated Parquet field, which is not supported; declare the columns to leave it out", opts.Name, name)
		}
		p.out[leaf.ColumnIndex] = i
		p.render[i], err = renderer(leaf.Node.Type(), fileLogical[name])
		if err != nil {
			return nil, fmt.Errorf("%s: column %q: %w", opts.Name, name, err)
		}
	}
	p.groups = f.RowGroups()
	n := opts.BatchRows
	if n <= 0 {
		n = 1024
	}
	p.batch = make([]parquet.Row, n)
	p.cells = make([]diff.Cell, len(cols))
	p.spans = make([]span, len(cols))
	return p, nil
}

// checkParquetTail checks that r ends as a Parquet file does, with a footer that fits in
// it: the library would allocate a corrupt footer length (up to 4 GiB) before failing.
func checkParquetTail(r io.ReaderAt, size int64) error {
	const magic = "PAR1"
	if size < 12 {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != magic {
		return fmt.Errorf("it does not end with %q", magic)
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return fmt.Errorf("its footer says %d bytes, more than the file holds", n)
	}
	return nil
}

// openParquet is parquet.OpenFile with a panic of the library (a corrupt footer) made an
// error.
func openParquet(r io.ReaderAt, size int64) (f *parquet.File, err error) {
	defer func() {
		if v := recover(); v != nil {
			f, err = nil, fmt.Errorf("corrupt footer: %v", v)
		}
	}()
	return parquet.OpenFile(r, size,
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(1<<20),
	)
}

// Columns returns the column names.
func (p *ParquetReader) Columns() []string { return p.cols }

// Position names the row last returned: "<name> row <n>" (1-based).
func (p *ParquetReader) Position() string { return p.pos.String() }

// Close releases the current row group and closes the file.
func (p *ParquetReader) Close() error {
	var err error
	if p.rows != nil {
		err = p.rows.Close()
		p.rows = nil
	}
	if p.closer != nil {
		if e := p.closer.Close(); err == nil {
			err = e
		}
		p.closer = nil
	}
	return err
}

// Next returns the next row.
func (p *ParquetReader) Next() ([]diff.Cell, error) {
	if p.err != nil {
		return nil, p.err
	}
	for p.bi >= p.bn {
		if err := p.fill(); err != nil {
			if err != io.EOF {
				p.err = err
			}
			return nil, err
		}
	}
	row := p.batch[p.bi]
	p.bi++
	p.row++
	p.pos.n = p.row
	// Render every value first, then make the strings: the buffer may grow.
	buf := p.buf[:0]
	for i := range p.spans {
		p.spans[i] = span{-1, -1}
	}
	for _, v := range row {
		k := p.out[v.Column()]
		if k < 0 {
			continue
		}
		if v.IsNull() {
			p.spans[k] = span{-2, -2}
			continue
		}
		start := len(buf)
		buf = p.render[k](buf, v)
		p.spans[k] = span{start, len(buf)}
	}
	p.buf = buf
	for k, s := range p.spans {
		if s.start == -1 {
			// A column chunk with fewer values than the others (a corrupt file): the
			// row has no value, not even a NULL, for this column.
			p.err = fmt.Errorf("%s: corrupt Parquet data: column %q has no value for this row", p.pos.String(), p.cols[k])
			return nil, p.err
		}
		if s.start < 0 {
			p.cells[k] = diff.Cell{Null: true}
		} else {
			p.cells[k] = diff.Cell{Text: bstr(buf[s.start:s.end])}
		}
	}
	return p.cells, nil
}

// fill reads the next batch, moving to the next row group when one ends. The library
// panics on some corrupt pages: that is an error naming the row, not a crash (of the
// manager, for a job run in it), and the reader is done.
func (p *ParquetReader) fill() (err error) {
	defer func() {
		if v := recover(); v != nil {
			p.rows = nil // in an unknown state: not used, not even closed
			err = fmt.Errorf("%s: corrupt Parquet data: %v", (&position{name: p.pos.name, unit: " row ", n: p.row + 1}).String(), v)
		}
	}()
	for {
		if p.rows == nil {
			if p.group >= len(p.groups) {
				return io.EOF
			}
			p.rows = p.groups[p.group].Rows()
			p.group++
		}
		n, err := p.rows.ReadRows(p.batch)
		p.bi, p.bn = 0, n
		if err == io.EOF || (err == nil && n == 0) {
			_ = p.rows.Close()
			p.rows = nil
			if n > 0 {
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", (&position{name: p.pos.name, unit: " row ", n: p.row + 1}).String(), err)
		}
		return nil
	}
}

// topLevelLogicalTypes returns the logical type annotations of top-level fields that
// the library leaves out when it reads a file's schema (FLOAT16), by field name.
func topLevelLogicalTypes(elems []format.SchemaElement) map[string]format.LogicalTypeValue {
	m := make(map[string]format.LogicalTypeValue)
	if len(elems) == 0 {
		return m
	}
	// Walk the tree (depth first, each group followed by its children).
	var stack []int32 // children left at each depth below the root
	stack = append(stack, elems[0].NumChildren.V)
	for i := 1; i < len(elems) && len(stack) > 0; i++ {
		e := &elems[i]
		if _, ok := e.LogicalType.Value.(*format.Float16Type); ok && len(stack) == 1 {
			m[e.Name] = e.LogicalType.Value
		}
		stack[len(stack)-1]--
		if n := e.NumChildren.V; e.NumChildren.Valid && n > 0 {
			stack = append(stack, n)
		}
		for len(stack) > 0 && stack[len(stack)-1] <= 0 {
			stack = stack[:len(stack)-1]
		}
	}
	return m
}

// renderer returns how to render values of type t; fileLT is the field's logical type
// as the file says it when the library's type has lost it (FLOAT16), or nil.
func renderer(t parquet.Type, fileLT format.LogicalTypeValue) (renderFunc, error) {
	kind := t.Kind()
	if ct := t.ConvertedType(); ct != nil && *ct == deprecated.Interval {
		// Three little-endian counts (months, days, milliseconds): no text of its own,
		// and its bytes are not text.
		return nil, fmt.Errorf("INTERVAL is not supported; declare the columns to leave it out")
	}
	lt := fileLT
	if l := t.LogicalType(); l != nil && l.Value != nil {
		lt = l.Value
	}
	switch l := lt.(type) {
	case *format.DecimalType:
		scale := int(l.Scale)
		switch kind {
		case parquet.Int32:
			return func(dst []byte, v parquet.Value) []byte { return appendScaled(dst, int64(v.Int32()), scale) }, nil
		case parquet.Int64:
			return func(dst []byte, v parquet.Value) []byte { return appendScaled(dst, v.Int64(), scale) }, nil
		case parquet.ByteArray, parquet.FixedLenByteArray:
			return func(dst []byte, v parquet.Value) []byte { return appendScaledBytes(dst, v.ByteArray(), scale) }, nil
		}
		return nil, fmt.Errorf("DECIMAL over %s is not supported", kind)
	case *format.DateType:
		return func(dst []byte, v parquet.Value) []byte {
			return time.Unix(int64(v.Int32())*86400, 0).UTC().AppendFormat(dst, "2006-01-02")
		}, nil
	case *format.TimestampType:
		unit := l.Unit.Value
		if unit == nil {
			return nil, fmt.Errorf("TIMESTAMP without a unit")
		}
		d := int64(unit.Duration())
		layout := time.RFC3339Nano
		if !l.IsAdjustedToUTC {
			layout = "2006-01-02T15:04:05.999999999"
		}
		return func(dst []byte, v parquet.Value) []byte {
			x := v.Int64()
			sec, frac := x/(int64(time.Second)/d), x%(int64(time.Second)/d)
			if frac < 0 {
				sec--
				frac += int64(time.Second) / d
			}
			return time.Unix(sec, frac*d).UTC().AppendFormat(dst, layout)
		}, nil
	case *format.TimeType:
		unit := l.Unit.Value
		if unit == nil {
			return nil, fmt.Errorf("TIME without a unit")
		}
		d := int64(unit.Duration())
		return func(dst []byte, v parquet.Value) []byte {
			var x int64
			if v.Kind() == parquet.Int32 {
				x = int64(v.Int32())
			} else {
				x = v.Int64()
			}
			return appendTimeOfDay(dst, time.Duration(x*d))
		}, nil
	case *format.IntType:
		if !l.IsSigned {
			if kind == parquet.Int32 {
				return func(dst []byte, v parquet.Value) []byte {
					return strconv.AppendUint(dst, uint64(uint32(v.Int32())), 10)
				}, nil
			}
			return func(dst []byte, v parquet.Value) []byte { return strconv.AppendUint(dst, uint64(v.Int64()), 10) }, nil
		}
	case *format.UUIDType:
		return func(dst []byte, v parquet.Value) []byte { return appendUUID(dst, v.ByteArray()) }, nil
	case *format.Float16Type:
		return func(dst []byte, v parquet.Value) []byte {
			b := v.ByteArray()
			if len(b) != 2 {
				return append(dst, b...)
			}
			return strconv.AppendFloat(dst, float64(float16(binary.LittleEndian.Uint16(b))), 'f', -1, 32)
		}, nil
	}
	switch kind {
	case parquet.Boolean:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendBool(dst, v.Boolean()) }, nil
	case parquet.Int32:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendInt(dst, int64(v.Int32()), 10) }, nil
	case parquet.Int64:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendInt(dst, v.Int64(), 10) }, nil
	case parquet.Int96:
		return func(dst []byte, v parquet.Value) []byte {
			x := v.Int96()
			nanos := int64(uint64(x[1])<<32 | uint64(x[0]))
			days := int64(x[2]) - 2440588 // Julian day of 1970-01-01
			return time.Unix(days*86400, nanos).UTC().AppendFormat(dst, time.RFC3339Nano)
		}, nil
	// Floats: the shortest text that reads back as the same value, never with an exponent
	// (1000000, not 1e+06: the text other sources give, and an integer's).
	case parquet.Float:
		return func(dst []byte, v parquet.Value) []byte {
			return strconv.AppendFloat(dst, float64(v.Float()), 'f', -1, 32)
		}, nil
	case parquet.Double:
		return func(dst []byte, v parquet.Value) []byte { return strconv.AppendFloat(dst, v.Double(), 'f', -1, 64) }, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return func(dst []byte, v parquet.Value) []byte { return append(dst, v.ByteArray()...) }, nil
	}
	return nil, fmt.Errorf("unsupported Parquet type %s", t)
}

// appendScaled appends unscaled×10^-scale as exact decimal text.
func appendScaled(dst []byte, unscaled int64, scale int) []byte {
	var tmp [24]byte
	neg := unscaled < 0
	u := uint64(unscaled)
	if neg {
		u = -u
	}
	digits := strconv.AppendUint(tmp[:0], u, 10)
	return appendDigits(dst, neg, digits, scale)
}

// appendScaledBytes appends a big-endian two's complement unscaled value.
func appendScaledBytes(dst []byte, b []byte, scale int) []byte {
	if len(b) == 0 {
		return appendDigits(dst, false, []byte{'0'}, scale)
	}
	if len(b) <= 8 {
		var x int64
		if b[0]&0x80 != 0 {
			x = -1
		}
		for _, c := range b {
			x = x<<8 | int64(c)
		}
		return appendScaled(dst, x, scale)
	}
	n := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	neg := n.Sign() < 0
	digits := n.Abs(n).Append(nil, 10)
	return appendDigits(dst, neg, digits, scale)
}

func appendDigits(dst []byte, neg bool, digits []byte, scale int) []byte {
	if neg && (len(digits) != 1 || digits[0] != '0') {
		dst = append(dst, '-')
	}
	if scale <= 0 {
		dst = append(dst, digits...)
		for ; scale < 0; scale++ {
			dst = append(dst, '0')
		}
		return dst
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	k := len(digits) - scale
	dst = append(dst, digits[:k]...)
	dst = append(dst, '.')
	return append(dst, digits[k:]...)
}

func appendTimeOfDay(dst []byte, d time.Duration) []byte {
	if d < 0 {
		dst = append(dst, '-')
		d = -d
	}
	h, m, s, ns := int64(d/time.Hour), int64(d/time.Minute%60), int64(d/time.Second%60), int64(d%time.Second)
	dst = append(dst, byte('0'+h/10%10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	if ns != 0 {
		var f [10]byte
		x := strconv.AppendInt(f[:0], 1_000_000_000+ns, 10)[1:]
		for len(x) > 0 && x[len(x)-1] == '0' {
			x = x[:len(x)-1]
		}
		dst = append(dst, '.')
		dst = append(dst, x...)
	}
	return dst
}

func appendUUID(dst []byte, b []byte) []byte {
	if len(b) != 16 {
		return append(dst, b...)
	}
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:16])
	return append(dst, s[:]...)
}

// float16 converts an IEEE 754 half-precision value.
func float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
