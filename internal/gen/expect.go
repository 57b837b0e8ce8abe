package gen

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Outcome kinds (SEMANTICS.md).
const (
	KindMissingInTarget = "missing_in_target"
	KindMissingInSource = "missing_in_source"
	KindMismatch        = "mismatch"
	KindDuplicateKey    = "duplicate_key"
	KindInvalidRow      = "invalid_row"
)

// Expected is the content of expected.json.
type Expected struct {
	Summary       Summary        `json:"summary"`
	Discrepancies []*Discrepancy `json:"discrepancies"`
}

// Summary counts the outcomes; its JSON form is the engine's (diff.Summary).
type Summary struct {
	Compared        int64 `json:"compared"` // matched + every discrepancy
	Matched         int64 `json:"matched"`
	MissingInTarget int64 `json:"missingInTarget"`
	MissingInSource int64 `json:"missingInSource"`
	Mismatched      int64 `json:"mismatched"`
	DuplicateKeys   int64 `json:"duplicateKeys"`
	InvalidRows     int64 `json:"invalidRows"`
	Truncated       bool  `json:"truncated"`
}

// KeyValue is one key component: the source key column and the value as read.
type KeyValue struct {
	Name  string
	Value diff.Cell
}

// ColumnDiff is one differing column of a mismatch, values as read (masked when
// the column is sensitive).
type ColumnDiff struct {
	Name   string
	Source diff.Cell
	Target diff.Cell
}

// Discrepancy is one expected outcome other than matched, in the JSON form of
// SEMANTICS.md (fields kind, key, side, count, columns, reason, position, each only
// when it applies; key components in key column order).
type Discrepancy struct {
	Kind     string
	Key      []KeyValue
	Side     string // duplicate_key, invalid_row: "source" or "target"
	Count    int64  // duplicate_key
	Columns  []ColumnDiff
	Reason   string // invalid_row
	Position string // invalid_row

	Injection string `json:"-"` // the injection kind that produced it (not in the JSON)
}

func jsonCell(b []byte, c diff.Cell) []byte {
	if c.Null {
		return append(b, "null"...)
	}
	enc, _ := json.Marshal(c.Text)
	return append(b, enc...)
}

func jsonString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}

// MarshalJSON writes the SEMANTICS.md form.
func (d *Discrepancy) MarshalJSON() ([]byte, error) {
	b := append([]byte(`{"kind":`), jsonString(nil, d.Kind)...)
	b = append(b, `,"key":{`...)
	for i, kv := range d.Key {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonString(b, kv.Name)
		b = append(b, ':')
		b = jsonCell(b, kv.Value)
	}
	b = append(b, '}')
	if d.Side != "" {
		b = append(b, `,"side":`...)
		b = jsonString(b, d.Side)
	}
	if d.Kind == KindDuplicateKey {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, d.Count, 10)
	}
	if d.Kind == KindMismatch {
		b = append(b, `,"columns":[`...)
		for i, c := range d.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = jsonString(b, c.Name)
			b = append(b, `,"source":`...)
			b = jsonCell(b, c.Source)
			b = append(b, `,"target":`...)
			b = jsonCell(b, c.Target)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if d.Kind == KindInvalidRow {
		b = append(b, `,"reason":`...)
		b = jsonString(b, d.Reason)
		b = append(b, `,"position":`...)
		b = jsonString(b, d.Position)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the SEMANTICS.md form, keeping the key's order.
func (d *Discrepancy) UnmarshalJSON(data []byte) error {
	var raw struct {
		Kind     string          `json:"kind"`
		Key      json.RawMessage `json:"key"`
		Side     string          `json:"side"`
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
	cell := func(p *string) diff.Cell {
		if p == nil {
			return null
		}
		return text(*p)
	}
	*d = Discrepancy{Kind: raw.Kind, Side: raw.Side, Count: raw.Count, Reason: raw.Reason, Position: raw.Position}
	for _, c := range raw.Columns {
		d.Columns = append(d.Columns, ColumnDiff{Name: c.Name, Source: cell(c.Source), Target: cell(c.Target)})
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Key))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("gen: discrepancy key is not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var v *string
		if err := dec.Decode(&v); err != nil {
			return err
		}
		d.Key = append(d.Key, KeyValue{Name: name, Value: cell(v)})
	}
	return nil
}

// ReadExpected reads an expected.json.
func ReadExpected(path string) (*Expected, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e Expected
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &e, nil
}

func kindRank(k string) int {
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

func compareCell(a, b diff.Cell) int {
	switch {
	case a.Null && b.Null:
		return 0
	case a.Null:
		return -1
	case b.Null:
		return 1
	}
	return strings.Compare(a.Text, b.Text)
}

// CompareDiscrepancies is the order of expected.json: kind (in SEMANTICS.md
// order), side, key (component by component, NULL first, then byte order), count,
// columns, reason, position — the order of diff.CompareDiscrepancies.
func CompareDiscrepancies(a, b *Discrepancy) int {
	if c := cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)); c != 0 {
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

// Mask is the engine's masking of a sensitive value whose canonical text is s
// (for an untrimmed, case-sensitive string column: the text itself).
func Mask(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "***" + hex.EncodeToString(sum[:4])
}

func (g *generator) show(col int, c diff.Cell) diff.Cell {
	if c.Null || !slices.Contains(g.cfg.Sensitive, g.cols[col]) {
		return c
	}
	return text(Mask(c.Text))
}

func (g *generator) keyOf(r []diff.Cell) []KeyValue {
	kv := make([]KeyValue, g.nkey)
	for i := range kv {
		kv[i] = KeyValue{Name: g.cols[i], Value: g.show(i, r[i])}
	}
	return kv
}

var sideNames = [2]string{"source", "target"}

// evaluate applies SEMANTICS.md to one entity, adding its discrepancies (or
// counting it matched). Invalid rows get their position when written.
func (g *generator) evaluate(e *entity) {
	add := func(d *Discrepancy) {
		d.Injection = e.kind
		g.ds = append(g.ds, d)
	}
	// 1. NULL or empty key components: every row is its own invalid_row.
	badKey := false
	for side, rs := range e.rows {
		for _, r := range rs {
			for k := range g.nkey {
				c := r.cells[k]
				if !c.Null && c.Text != "" {
					continue
				}
				reason := "key column " + g.cols[k] + " is empty"
				if c.Null {
					reason = "key column " + g.cols[k] + " is NULL"
				}
				d := &Discrepancy{Kind: KindInvalidRow, Key: g.keyOf(r.cells), Side: sideNames[side], Reason: reason}
				r.pos = &d.Position
				add(d)
				badKey = true
				break
			}
		}
	}
	if badKey {
		return // such entities hold nothing else
	}
	ns, nt := len(e.rows[src]), len(e.rows[tgt])
	// 2. Duplicates suppress everything else.
	if ns > 1 || nt > 1 {
		for side, n := range []int{ns, nt} {
			if n > 1 {
				add(&Discrepancy{Kind: KindDuplicateKey, Key: g.keyOf(e.rows[side][0].cells), Side: sideNames[side], Count: int64(n)})
			}
		}
		return
	}
	// 3. Unparsable values suppress everything else.
	invalid := false
	for side, rs := range e.rows {
		if len(rs) == 1 {
			if probs := g.problems(rs[0].cells); len(probs) > 0 {
				d := &Discrepancy{Kind: KindInvalidRow, Key: g.keyOf(rs[0].cells), Side: sideNames[side], Reason: strings.Join(probs, "; ")}
				rs[0].pos = &d.Position
				add(d)
				invalid = true
			}
		}
	}
	if invalid {
		return
	}
	// 4. Missing.
	switch {
	case nt == 0:
		add(&Discrepancy{Kind: KindMissingInTarget, Key: g.keyOf(e.rows[src][0].cells)})
		return
	case ns == 0:
		add(&Discrepancy{Kind: KindMissingInSource, Key: g.keyOf(e.rows[tgt][0].cells)})
		return
	}
	// 5. Compare.
	s, t := e.rows[src][0].cells, e.rows[tgt][0].cells
	var cols []ColumnDiff
	for k := g.nkey; k < len(g.cols); k++ {
		if !g.equal(k, s[k], t[k]) {
			cols = append(cols, ColumnDiff{Name: g.cols[k], Source: g.show(k, s[k]), Target: g.show(k, t[k])})
		}
	}
	if cols == nil {
		g.matched++
		return
	}
	add(&Discrepancy{Kind: KindMismatch, Key: g.keyOf(s), Columns: cols})
}

// problems lists the values of r that do not parse, as the engine words them.
func (g *generator) problems(r []diff.Cell) []string {
	var out []string
	for k := g.nkey; k < len(g.cols); k++ {
		c := r[k]
		if c.Null {
			continue
		}
		p := ""
		switch g.types[k] {
		case tDecimal:
			if _, ok := parseDecimal(c.Text); !ok {
				p = "is not a valid decimal"
			}
		case tDate:
			if _, err := time.Parse("2006-01-02", c.Text); err != nil {
				p = "is not a valid date"
			}
		case tTimestamp:
			if _, err := time.Parse(time.RFC3339, c.Text); err != nil {
				p = "is not a valid timestamp"
			}
		}
		if p != "" {
			out = append(out, "column "+g.cols[k]+": "+strconv.Quote(c.Text)+" "+p)
		}
	}
	return out
}

// plainDecimal reports whether s is [-]digits[.digits].
func plainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	digits := func(x string) bool {
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return false
			}
		}
		return x != ""
	}
	return digits(intPart) && (!hasDot || digits(frac))
}

func parseDecimal(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if !plainDecimal(s) {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

// equal compares two values of column k under the assumed rules and tolerances.
func (g *generator) equal(k int, a, b diff.Cell) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	switch g.types[k] {
	case tDecimal:
		x, _ := parseDecimal(a.Text)
		y, _ := parseDecimal(b.Text)
		d := new(big.Rat).Sub(x, y)
		d.Abs(d)
		return d.Cmp(big.NewRat(g.tolMilli, 1000)) <= 0
	case tTimestamp:
		x, _ := time.Parse(time.RFC3339, a.Text)
		y, _ := time.Parse(time.RFC3339, b.Text)
		d := x.Sub(y)
		if d < 0 {
			d = -d
		}
		return d <= g.cfg.BookedAtTolerance
	case tDate:
		x, _ := time.Parse("2006-01-02", a.Text)
		y, _ := time.Parse("2006-01-02", b.Text)
		return x.Equal(y)
	}
	return a.Text == b.Text
}

// summarize counts the outcomes.
func (g *generator) summarize() Summary {
	s := Summary{Matched: g.matched}
	for _, d := range g.ds {
		switch d.Kind {
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
	s.Compared = s.Matched + int64(len(g.ds))
	return s
}
