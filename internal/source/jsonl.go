package source

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// JSONLOptions configure a JSON Lines reader.
//
// Each non-blank line is one JSON object. Its members map to columns by key:
//
//   - a missing key and JSON null are NULL;
//   - a string is its decoded text ("" is the empty string);
//   - a number is its literal text exactly as written ("10.50" stays "10.50",
//     "1e3" stays "1e3"; never converted to float64);
//   - true/false are the texts "true"/"false";
//   - an object or array is its compact JSON text (insignificant whitespace
//     removed, member order and number literals kept).
//
// When the columns are declared, keys that are not columns are ignored. When they are
// learned, a key that is not one of them makes its line a RowError: no value is left
// out unseen. A column's key repeated in one object makes its line a RowError: which of
// the two values is the row's is anybody's guess (RFC 8259 leaves it open), and a
// reconciliation must not pick one silently. A line that is not a well-formed JSON
// object is a RowError.
type JSONLOptions struct {
	// Columns declares the columns. Empty means they are learned: the keys of the first
	// object (the first non-blank line must then be a valid object), then those of the
	// valid objects in the next 256 KiB (up to 10,000 lines), in order of appearance,
	// so that keys that some rows leave out are columns too.
	Columns []string
	// Name is used in positions and errors ("bank.jsonl line 12").
	Name string
	// BufferSize of the underlying bufio.Reader; default 256 KiB.
	BufferSize int
}

// JSONLReader reads a JSON Lines file. It implements diff.Reader.
type JSONLReader struct {
	br     *bufio.Reader
	closer io.Closer
	cols   []string
	index  map[string]int
	line   int64
	pos    position
	long   []byte // a line longer than the bufio buffer
	keybuf []byte // an escaped key, decoded
	arena  []byte // decoded strings and compacted nested values of this row
	nested bytes.Buffer
	cells  []diff.Cell
	seen   []uint32 // per column: the parse (gen) that last set it
	gen    uint32
	hint   []int // column of the n-th key of the previous line (-1: not a column)
	// learned is how many lines the columns were learned from (0: declared).
	learned int
	err     error
	held    bool // the first row was read by the constructor and not yet returned
	heldE   error

	// Reading lines again (jsonlrefetch.go): byte offsets of the next byte to read and of
	// the line last read, the line last read, and the file when it can be read again.
	off, recOff int64
	rawLine     []byte
	file        *os.File
	size        int64
}

// NewJSONLReader returns a reader over r. Without declared columns it reads the
// first object to learn them (and returns that row first). If r is an io.Closer,
// Close closes it.
func NewJSONLReader(r io.Reader, opts JSONLOptions) (*JSONLReader, error) {
	j := &JSONLReader{pos: position{name: opts.Name, unit: " line "}}
	if cl, ok := r.(io.Closer); ok {
		j.closer = cl
	}
	size := opts.BufferSize
	if size <= 0 {
		size = defaultBufferSize
	}
	j.br = bufio.NewReaderSize(r, size)
	if b, err := j.br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		_, _ = j.br.Discard(3)
		j.off = 3
	}
	if len(opts.Columns) > 0 {
		if d := firstDuplicate(opts.Columns); d != "" {
			return nil, fmt.Errorf("%s: column %q declared twice", opts.Name, d)
		}
		j.setColumns(slices.Clone(opts.Columns))
		return j, nil
	}
	line, err := j.readLine()
	if err == io.EOF {
		j.setColumns(nil)
		j.heldE, j.held = io.EOF, true
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	// keys in order of first appearance
	var order []string
	seen := make(map[string]bool)
	add := func(key string) {
		if !seen[key] {
			seen[key] = true
			order = append(order, key)
		}
	}
	if err := j.scanObject(line, func(key []byte) { add(string(key)) }); err != nil {
		return nil, fmt.Errorf("%s: %s (the first object defines the columns; declare them to read this file)", j.pos.String(), err)
	}
	line = bytes.Clone(line) // learnAhead's Peek may move the buffer under it
	j.rawLine = line
	j.learned = 1 + j.learnAhead(func(key []byte) bool { return seen[string(key)] }, add)
	j.setColumns(order)
	if err := j.parse(line); err != nil {
		// Only a repeated key fails here (scanObject read the line): a row error.
		j.heldE = j.rowError(err)
	}
	j.held = true
	return j, nil
}

// learnLines and learnBytes bound what the columns are learned from after the first
// line: whole lines within the first learnBytes after it (or the read buffer, if
// smaller). The amount does not depend on how the input arrives (a file, gzip, HTTP),
// so neither do the columns.
const (
	learnLines = 10000
	learnBytes = 256 << 10
)

// learnAhead calls add with the keys not yet known of the objects on the lines after the
// current one (see learnLines), without consuming them, and returns how many lines it
// looked at. A line that does not parse adds nothing (it is a RowError when read).
func (j *JSONLReader) learnAhead(known func(key []byte) bool, add func(key string)) int {
	ahead, err := j.br.Peek(min(j.br.Size(), learnBytes))
	atEOF := errors.Is(err, io.EOF)
	var keys []string
	n := 0
	for n < learnLines && len(ahead) > 0 {
		i := bytes.IndexByte(ahead, '\n')
		if i < 0 && !atEOF {
			break // a line cut by the window
		}
		line := ahead
		if i >= 0 {
			line, ahead = ahead[:i], ahead[i+1:]
		} else {
			ahead = nil // the last line of the input
		}
		n++
		line = bytes.TrimFunc(line, func(r rune) bool { return r < utf8.RuneSelf && isJSONSpace(byte(r)) })
		if len(line) == 0 {
			continue
		}
		keys = keys[:0]
		if j.scanObject(line, func(key []byte) {
			if !known(key) {
				keys = append(keys, string(key))
			}
		}) == nil {
			for _, k := range keys {
				add(k)
			}
		}
	}
	return n
}

func (j *JSONLReader) setColumns(cols []string) {
	j.cols = cols
	j.index = make(map[string]int, len(cols))
	for i, c := range cols {
		j.index[c] = i
	}
	j.cells = make([]diff.Cell, len(cols))
	j.seen = make([]uint32, len(cols))
}

// Columns returns the column names.
func (j *JSONLReader) Columns() []string { return j.cols }

// Position names the line last returned by Next: "<name> line <n>".
func (j *JSONLReader) Position() string { return j.pos.String() }

// Name implements diff.Namer: the file, as in positions.
func (j *JSONLReader) Name() string { return j.pos.name }

// Close closes the underlying reader if it is an io.Closer.
func (j *JSONLReader) Close() error {
	if j.closer != nil {
		err := j.closer.Close()
		j.closer = nil
		return err
	}
	return nil
}

// Next returns the next object's cells.
func (j *JSONLReader) Next() ([]diff.Cell, error) {
	if j.held {
		j.held = false
		if j.heldE != nil {
			return nil, j.heldE
		}
		return j.cells, nil
	}
	if j.err != nil {
		return nil, j.err
	}
	line, err := j.readLine()
	if err != nil {
		if err != io.EOF {
			j.err = err
		}
		return nil, err
	}
	if err := j.parse(line); err != nil {
		return nil, j.rowError(err)
	}
	return j.cells, nil
}

// repeatedKeyError is a line whose object names a column twice: it parsed, so its other
// values are known.
type repeatedKeyError struct {
	col  int
	name string
}

func (e repeatedKeyError) Error() string {
	return fmt.Sprintf("key %q appears twice in the object", e.name)
}

// rowError makes a line that parse refused a RowError. A line refused only for a
// repeated key keeps its values, that column's NULL (which of its values is the row's
// is unknown), so that its invalid_row outcome shows its key.
func (j *JSONLReader) rowError(err error) *RowError {
	re := &RowError{Position: j.pos.String(), Reason: err.Error()}
	var rep repeatedKeyError
	if errors.As(err, &rep) {
		re.Cells = cloneCells(j.cells)
		re.Cells[rep.col] = diff.Cell{Null: true}
	}
	return re
}

// readLine returns the next non-blank line (without its line break).
func (j *JSONLReader) readLine() ([]byte, error) {
	for {
		j.pos.n = j.line + 1
		j.recOff = j.off
		line, err := j.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			j.long = append(j.long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = j.br.ReadSlice('\n')
				j.long = append(j.long, line...)
			}
			line = j.long
		}
		j.off += int64(len(line))
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: %w", j.pos.String(), err)
		}
		if len(line) == 0 {
			return nil, io.EOF
		}
		if line[len(line)-1] == '\n' {
			j.line++
		}
		for len(line) > 0 && isJSONSpace(line[len(line)-1]) {
			line = line[:len(line)-1]
		}
		k := 0
		for k < len(line) && isJSONSpace(line[k]) {
			k++
		}
		if k == len(line) {
			continue
		}
		j.rawLine = line
		return line, nil
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

var errJSONEnd = errors.New("unexpected end of line")

// parse fills j.cells from one line.
func (j *JSONLReader) parse(line []byte) error {
	for i := range j.cells {
		j.cells[i] = diff.Cell{Null: true}
	}
	j.arena = j.arena[:0]
	j.nested.Reset()
	p := jsonParser{b: line, j: j}
	n := 0
	var unknown string
	repeated := -1
	if j.gen++; j.gen == 0 {
		clear(j.seen)
		j.gen = 1
	}
	set := func(k int, val diff.Cell) {
		if j.seen[k] == j.gen && repeated < 0 {
			repeated = k
		}
		j.seen[k] = j.gen
		j.cells[k] = val
	}
	err := p.object(func(key []byte, val diff.Cell) {
		// Lines usually repeat the previous line's key order: try that first.
		if n < len(j.hint) {
			if k := j.hint[n]; k >= 0 && string(key) == j.cols[k] {
				set(k, val)
				n++
				return
			}
		}
		k, ok := j.index[string(key)]
		if !ok {
			k = -1
			if j.learned > 0 && unknown == "" {
				unknown = string(key)
			}
		} else {
			set(k, val)
		}
		if n < len(j.hint) {
			j.hint[n] = k
		} else if n < 4*len(j.cols)+16 {
			j.hint = append(j.hint, k)
		}
		n++
	})
	if err == nil && repeated >= 0 {
		return repeatedKeyError{col: repeated, name: j.cols[repeated]}
	}
	if err == nil && unknown != "" {
		return fmt.Errorf("key %q is not a column: the columns were learned from the first %d lines; declare the file's columns to read it", unknown, j.learned)
	}
	return err
}

// scanObject parses line and calls fn with every key.
func (j *JSONLReader) scanObject(line []byte, fn func(key []byte)) error {
	j.arena = j.arena[:0]
	j.nested.Reset()
	p := jsonParser{b: line, j: j}
	return p.object(func(key []byte, _ diff.Cell) { fn(key) })
}

type jsonParser struct {
	b []byte
	i int
	j *JSONLReader
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at column %d: "+format, append([]any{p.i + 1}, args...)...)
}

func (p *jsonParser) object(fn func(key []byte, val diff.Cell)) error {
	p.ws()
	if p.i >= len(p.b) {
		return errJSONEnd
	}
	if p.b[p.i] != '{' {
		return p.errorf("a line must hold a JSON object, found %q", p.b[p.i])
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return p.end()
	}
	for {
		p.ws()
		if p.i >= len(p.b) {
			return errJSONEnd
		}
		if p.b[p.i] != '"' {
			return p.errorf("expected a member name, found %q", p.b[p.i])
		}
		key, err := p.str(true)
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return errJSONEnd
		}
		if p.b[p.i] != ':' {
			return p.errorf("expected ':'") // what was found may be a (sensitive) value
		}
		p.i++
		p.ws()
		val, err := p.value()
		if err != nil {
			return err
		}
		fn(key, val)
		p.ws()
		if p.i >= len(p.b) {
			return errJSONEnd
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return p.end()
		default:
			return p.errorf("expected ',' or '}'") // what was found may be part of a (sensitive) value
		}
	}
}

func (p *jsonParser) end() error {
	p.ws()
	if p.i < len(p.b) {
		return p.errorf("unexpected text after the object") // not quoted: it may be sensitive
	}
	return nil
}

func (p *jsonParser) value() (diff.Cell, error) {
	if p.i >= len(p.b) {
		return diff.Cell{}, errJSONEnd
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, err := p.str(false)
		return diff.Cell{Text: bstr(s)}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == '{' || c == '[':
		return p.nestedValue()
	case c == 'n':
		return diff.Cell{Null: true}, p.literal("null")
	case c == 't':
		return diff.Cell{Text: "true"}, p.literal("true")
	case c == 'f':
		return diff.Cell{Text: "false"}, p.literal("false")
	default:
		return diff.Cell{}, p.errorf("invalid value") // its text is not quoted: it may be sensitive
	}
}

func (p *jsonParser) literal(lit string) error {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return p.errorf("invalid literal")
	}
	p.i += len(lit)
	return nil
}

func (p *jsonParser) number() (diff.Cell, error) {
	b, start := p.b, p.i
	i := p.i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		p.i = i
		return diff.Cell{}, p.errorf("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			p.i = i
			return diff.Cell{}, p.errorf("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.i = i
			return diff.Cell{}, p.errorf("invalid number")
		}
	}
	p.i = i
	return diff.Cell{Text: bstr(b[start:i])}, nil
}

// str parses a string at p.i (which holds '"'). Without escapes it returns a slice
// of the line; otherwise the decoded text in the arena (or keybuf for keys).
func (p *jsonParser) str(key bool) ([]byte, error) {
	b := p.b
	p.i++
	start := p.i
	i := start
	ascii := true
	const qm, bm, hi = uint64('"') * ones, uint64('\\') * ones, 0x8080808080808080
	for {
		// Eight bytes at a time to the first quote, backslash, control character
		// or non-ASCII byte.
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			m := ((w - 0x20*ones) & ^w & hi) | (w & hi) | zeroBytes(w^qm) | zeroBytes(w^bm)
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			p.i = i
			return nil, errJSONEnd
		}
		switch c := b[i]; {
		case c == '"':
			p.i = i + 1
			if !ascii && !utf8.Valid(b[start:i]) {
				return p.decode(start, key)
			}
			return b[start:i], nil
		case c == '\\':
			return p.decode(start, key)
		case c < 0x20:
			p.i = i
			return nil, p.errorf("control character in string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		i++
	}
}

// decode decodes the string starting at start (after its opening quote) with
// escapes. Unlike encoding/json, which makes them U+FFFD (and so two different values
// equal), invalid UTF-8 and a lone surrogate escape are errors.
func (p *jsonParser) decode(start int, key bool) ([]byte, error) {
	var out []byte
	if key {
		out = p.j.keybuf[:0]
	} else {
		out = p.j.arena
	}
	mark := len(out)
	b := p.b
	i := start
	for {
		if i >= len(b) {
			p.i = i
			return nil, errJSONEnd
		}
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			if key {
				p.j.keybuf = out
			} else {
				p.j.arena = out
			}
			return out[mark:], nil
		case c == '\\':
			if i+1 >= len(b) {
				p.i = i
				return nil, errJSONEnd
			}
			e := b[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b, i)
				if !ok {
					p.i = i
					return nil, p.errorf("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if x, ok := hex4(b, i+2); ok {
							r2 = x
						}
					}
					dec := utf16.DecodeRune(r, r2)
					if dec == utf8.RuneError {
						p.i = i - 6
						return nil, p.errorf("lone surrogate escape in string: it stands for no character")
					}
					i += 6
					r = dec
				}
				out = utf8.AppendRune(out, r)
			default:
				p.i = i - 1
				return nil, p.errorf("invalid escape") // not quoted: part of a value, maybe sensitive
			}
		case c < 0x20:
			p.i = i
			return nil, p.errorf("control character in string")
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				p.i = i
				return nil, p.errorf("invalid UTF-8 in string")
			}
			out = append(out, b[i:i+size]...)
			i += size
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// nestedValue finds the end of the object or array at p.i and returns its compact
// text (validated by json.Compact).
func (p *jsonParser) nestedValue() (diff.Cell, error) {
	b := p.b
	start := p.i
	depth := 0
	i := start
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				p.i = i
				return diff.Cell{}, errJSONEnd
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				i++
				buf := &p.j.nested
				mark := buf.Len()
				if err := json.Compact(buf, b[start:i]); err != nil {
					buf.Truncate(mark)
					p.i = start
					_ = err // its message quotes a character of the value, which may be sensitive
					return diff.Cell{}, p.errorf("invalid nested JSON value")
				}
				p.i = i
				return diff.Cell{Text: bstr(buf.Bytes()[mark:])}, nil
			}
		}
		i++
	}
	p.i = i
	return diff.Cell{}, errJSONEnd
}
