package diff

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
)

// Kind is the kind of an outcome (SEMANTICS.md).
type Kind string

const (
	KindMatched         Kind = "matched" // counted in Summary, never sent to a Sink
	KindMissingInTarget Kind = "missing_in_target"
	KindMissingInSource Kind = "missing_in_source"
	KindMismatch        Kind = "mismatch"
	KindDuplicateKey    Kind = "duplicate_key"
	KindInvalidRow      Kind = "invalid_row"
)

func (k Kind) rank() int {
	switch k {
	case KindMissingInTarget:
		return 0
	case KindMissingInSource:
		return 1
	case KindMismatch:
		return 2
	case KindDuplicateKey:
		return 3
	case KindInvalidRow:
		return 4
	}
	return 5
}

// Side is the side an outcome belongs to (duplicate_key, invalid_row); empty otherwise.
type Side string

const (
	SideSource Side = "source"
	SideTarget Side = "target"
)

// KeyValue is one component of a key: the source key column name and the value as read
// (masked when the column is sensitive).
type KeyValue struct {
	Name  string
	Value Cell
}

// ColumnDiff is one differing column of a mismatch: the source column name and both
// values as read (masked when the column is sensitive).
type ColumnDiff struct {
	Name   string
	Source Cell
	Target Cell
}

// Discrepancy is one outcome other than matched. Its JSON form is the one in
// SEMANTICS.md: fields in the order kind, key, side, count, columns, reason, position,
// each present only when it applies.
type Discrepancy struct {
	Kind     Kind
	Key      []KeyValue   // in key column order
	Side     Side         // duplicate_key, invalid_row
	Count    int64        // duplicate_key: rows with that key on Side
	Columns  []ColumnDiff // mismatch: every differing column, in spec order
	Reason   string       // invalid_row
	Position string       // invalid_row
}

func appendJSONText(b []byte, s string) []byte {
	// encoding/json escaping (valid JSON for any input, HTML-safe).
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}

// AppendJSON appends the JSON form of d to b.
func (d Discrepancy) AppendJSON(b []byte) []byte {
	b = append(b, `{"kind":`...)
	b = appendJSONText(b, string(d.Kind))
	b = append(b, `,"key":{`...)
	for i, kv := range d.Key {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONText(b, kv.Name)
		b = append(b, ':')
		if kv.Value.Null {
			b = append(b, "null"...)
		} else {
			b = appendJSONText(b, kv.Value.Text)
		}
	}
	b = append(b, '}')
	if d.Side != "" {
		b = append(b, `,"side":`...)
		b = appendJSONText(b, string(d.Side))
	}
	if d.Kind == KindDuplicateKey || d.Count != 0 {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, d.Count, 10)
	}
	if d.Kind == KindMismatch || len(d.Columns) > 0 {
		b = append(b, `,"columns":[`...)
		for i, c := range d.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONText(b, c.Name)
			b = append(b, `,"source":`...)
			if c.Source.Null {
				b = append(b, "null"...)
			} else {
				b = appendJSONText(b, c.Source.Text)
			}
			b = append(b, `,"target":`...)
			if c.Target.Null {
				b = append(b, "null"...)
			} else {
				b = appendJSONText(b, c.Target.Text)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if d.Reason != "" || d.Kind == KindInvalidRow {
		b = append(b, `,"reason":`...)
		b = appendJSONText(b, d.Reason)
	}
	if d.Position != "" {
		b = append(b, `,"position":`...)
		b = appendJSONText(b, d.Position)
	}
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler.
func (d Discrepancy) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler, keeping the order of the key columns.
func (d *Discrepancy) UnmarshalJSON(data []byte) error {
	var raw struct {
		Kind     Kind            `json:"kind"`
		Key      json.RawMessage `json:"key"`
		Side     Side            `json:"side"`
		Count    int64           `json:"count"`
		Reason   string          `json:"reason"`
		Position string          `json:"position"`
		Columns  []struct {
			Name   string  `json:"name"`
			Source *string `json:"source"`
			Target *string `json:"target"`
		} `json:"columns"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*d = Discrepancy{Kind: raw.Kind, Side: raw.Side, Count: raw.Count, Reason: raw.Reason, Position: raw.Position}
	cell := func(p *string) Cell {
		if p == nil {
			return Cell{Null: true}
		}
		return Cell{Text: *p}
	}
	for _, c := range raw.Columns {
		d.Columns = append(d.Columns, ColumnDiff{Name: c.Name, Source: cell(c.Source), Target: cell(c.Target)})
	}
	if len(raw.Key) == 0 || string(raw.Key) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Key))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("diff: discrepancy key is not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var v *string
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("diff: discrepancy key %q: %w", name, err)
		}
		d.Key = append(d.Key, KeyValue{Name: name, Value: cell(v)})
	}
	return nil
}

func compareCell(a, b Cell) int {
	switch {
	case a.Null && b.Null:
		return 0
	case a.Null:
		return -1
	case b.Null:
		return 1
	}
	return cmp.Compare(a.Text, b.Text)
}

// CompareDiscrepancies orders discrepancies by kind (in SEMANTICS.md order), side, key
// (component by component, NULL first, then byte order), then the remaining fields, so
// that sorting gives one deterministic order whatever the strategy.
func CompareDiscrepancies(a, b Discrepancy) int {
	if c := cmp.Compare(a.Kind.rank(), b.Kind.rank()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Side, b.Side); c != 0 {
		return c
	}
	if c := slices.CompareFunc(a.Key, b.Key, func(x, y KeyValue) int {
		if c := cmp.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return compareCell(x.Value, y.Value)
	}); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Count, b.Count); c != 0 {
		return c
	}
	if c := slices.CompareFunc(a.Columns, b.Columns, func(x, y ColumnDiff) int {
		if c := cmp.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		if c := compareCell(x.Source, y.Source); c != 0 {
			return c
		}
		return compareCell(x.Target, y.Target)
	}); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Reason, b.Reason); c != 0 {
		return c
	}
	return cmp.Compare(a.Position, b.Position)
}

// SortDiscrepancies sorts ds by CompareDiscrepancies, stably.
//
// Most comparisons are settled by a 16-byte prefix of each discrepancy held in one array
// (kind, side, the start of the first key value), rather than by chasing each one's key
// strings: sorting 300,000 took ~1 s that way. The prefix is used only when it orders as
// CompareDiscrepancies does: known kinds and sides, and the same key columns throughout.
func SortDiscrepancies(ds []Discrepancy) {
	if len(ds) < 64 || !prefixOrdered(ds) {
		slices.SortStableFunc(ds, CompareDiscrepancies)
		return
	}
	type item struct {
		p [sortPrefixLen]byte
		i int32
	}
	items := make([]item, len(ds))
	for i := range ds {
		items[i] = item{sortPrefix(&ds[i]), int32(i)}
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := bytes.Compare(a.p[:], b.p[:]); c != 0 {
			return c
		}
		if c := CompareDiscrepancies(ds[a.i], ds[b.i]); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i) // stable
	})
	// Put ds in that order, in place, one cycle of the permutation at a time.
	for i := range items {
		if items[i].i < 0 {
			continue
		}
		d, k := ds[i], i
		for {
			j := int(items[k].i)
			items[k].i = -1
			if j == i {
				ds[k] = d
				break
			}
			ds[k] = ds[j]
			k = j
		}
	}
}

const sortPrefixLen = 16

// sideRank orders the sides as their names do; false for a side of no known name.
func sideRank(s Side) (byte, bool) {
	switch s {
	case "":
		return 0, true
	case SideSource:
		return 1, true
	case SideTarget:
		return 2, true
	}
	return 0, false
}

// prefixOrdered reports whether sortPrefix orders ds as CompareDiscrepancies does: every
// kind known (one rank each), every side known, and the same key column names in each.
func prefixOrdered(ds []Discrepancy) bool {
	names := ds[0].Key
	for i := range ds {
		d := &ds[i]
		if _, ok := sideRank(d.Side); !ok || d.Kind.rank() > KindInvalidRow.rank() || len(d.Key) != len(names) {
			return false
		}
		for k := range d.Key {
			if d.Key[k].Name != names[k].Name {
				return false
			}
		}
	}
	return true
}

// sortPrefix is d's kind rank, side, and first key value (0 for NULL, else 1 and its
// first bytes, zero-padded): in byte order, a prefix less than another's is a
// discrepancy CompareDiscrepancies puts first (under prefixOrdered).
func sortPrefix(d *Discrepancy) (p [sortPrefixLen]byte) {
	p[0] = byte(d.Kind.rank())
	p[1], _ = sideRank(d.Side)
	if len(d.Key) > 0 && !d.Key[0].Value.Null {
		p[2] = 1
		copy(p[3:], d.Key[0].Value.Text)
	}
	return p
}

// Summary counts the outcomes of a run. Its JSON form is
// {"compared":N,"matched":N,"missingInTarget":N,"missingInSource":N,"mismatched":N,
// "duplicateKeys":N,"invalidRows":N,"truncated":false}.
type Summary struct {
	Compared        int64 `json:"compared"` // every outcome: matched + discrepancies
	Matched         int64 `json:"matched"`
	MissingInTarget int64 `json:"missingInTarget"`
	MissingInSource int64 `json:"missingInSource"`
	Mismatched      int64 `json:"mismatched"`
	DuplicateKeys   int64 `json:"duplicateKeys"` // duplicate_key outcomes (one per key and side)
	InvalidRows     int64 `json:"invalidRows"`   // invalid_row outcomes
	Truncated       bool  `json:"truncated"`

	// Not part of the JSON form.
	SourceRows int64    `json:"-"` // rows read from the source
	TargetRows int64    `json:"-"` // rows read from the target
	Strategy   Strategy `json:"-"` // the strategy that ran (merge or hash)
	Split      bool     `json:"-"` // merge ran split by key range on two goroutines (split.go)
}

// Discrepancies is the number of outcomes other than matched.
func (s Summary) Discrepancies() int64 { return s.Compared - s.Matched }

func (s *Summary) count(k Kind) {
	s.Compared++
	switch k {
	case KindMatched:
		s.Matched++
	case KindMissingInTarget:
		s.MissingInTarget++
	case KindMissingInSource:
		s.MissingInSource++
	case KindMismatch:
		s.Mismatched++
	case KindDuplicateKey:
		s.DuplicateKeys++
	case KindInvalidRow:
		s.InvalidRows++
	}
}

// Sink receives each discrepancy as soon as it is found, from one goroutine at a time.
// The Discrepancy is the sink's to keep. An error stops the run and is returned by Run.
type Sink interface {
	Emit(d Discrepancy) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(d Discrepancy) error

// Emit calls f(d).
func (f SinkFunc) Emit(d Discrepancy) error { return f(d) }

// Collect is a Sink that keeps every discrepancy in memory (tests, small runs).
type Collect struct {
	mu            sync.Mutex
	Discrepancies []Discrepancy
}

// Emit appends d.
func (c *Collect) Emit(d Discrepancy) error {
	c.mu.Lock()
	c.Discrepancies = append(c.Discrepancies, d)
	c.mu.Unlock()
	return nil
}

// JSONLines is a Sink writing one JSON discrepancy per line to a buffered writer; call
// Flush when the run is over.
type JSONLines struct {
	w   *bufio.Writer
	buf []byte
}

// NewJSONLines returns a JSONLines sink writing to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: bufio.NewWriter(w)} }

// Emit writes d as one line.
func (j *JSONLines) Emit(d Discrepancy) error {
	j.buf = append(d.AppendJSON(j.buf[:0]), '\n')
	_, err := j.w.Write(j.buf)
	return err
}

// Flush flushes the underlying writer.
func (j *JSONLines) Flush() error { return j.w.Flush() }
