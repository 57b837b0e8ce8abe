package gen

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Expected is the content of expected.json.
type Expected struct {
	Summary       diff.Summary   `json:"summary"`
	Discrepancies []*Discrepancy `json:"discrepancies"`
}

// Discrepancy is one expected outcome other than matched, with the injection kind
// that produced it. Its JSON form is the embedded diff.Discrepancy's (SEMANTICS.md),
// without Injection.
type Discrepancy struct {
	diff.Discrepancy
	Injection string
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

// compareDiscrepancies is the order of expected.json: diff.CompareDiscrepancies.
func compareDiscrepancies(a, b *Discrepancy) int {
	return diff.CompareDiscrepancies(a.Discrepancy, b.Discrepancy)
}

func (g *generator) show(col int, c diff.Cell) diff.Cell {
	if c.Null || !slices.Contains(g.cfg.Sensitive, g.cols[col]) {
		return c
	}
	return text(diff.Mask(g.cfg.MaskKey, c.Text))
}

func (g *generator) keyOf(r []diff.Cell) []diff.KeyValue {
	kv := make([]diff.KeyValue, g.nkey)
	for i := range kv {
		kv[i] = diff.KeyValue{Name: g.cols[i], Value: g.show(i, r[i])}
	}
	return kv
}

var sideNames = [2]diff.Side{diff.SideSource, diff.SideTarget}

// evaluate applies SEMANTICS.md to one entity, adding its discrepancies (or
// counting it matched). Invalid rows get their position when written.
func (g *generator) evaluate(e *entity) {
	add := func(d diff.Discrepancy) *Discrepancy {
		p := &Discrepancy{Discrepancy: d, Injection: e.kind}
		g.ds = append(g.ds, p)
		return p
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
				d := add(diff.Discrepancy{Kind: diff.KindInvalidRow, Key: g.keyOf(r.cells), Side: sideNames[side], Reason: reason})
				r.pos = &d.Position
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
				add(diff.Discrepancy{Kind: diff.KindDuplicateKey, Key: g.keyOf(e.rows[side][0].cells), Side: sideNames[side], Count: int64(n)})
			}
		}
		return
	}
	// 3. Unparsable values suppress everything else.
	invalid := false
	for side, rs := range e.rows {
		if len(rs) == 1 {
			if probs := g.problems(rs[0].cells); len(probs) > 0 {
				d := add(diff.Discrepancy{Kind: diff.KindInvalidRow, Key: g.keyOf(rs[0].cells), Side: sideNames[side], Reason: strings.Join(probs, "; ")})
				rs[0].pos = &d.Position
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
		add(diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: g.keyOf(e.rows[src][0].cells)})
		return
	case ns == 0:
		add(diff.Discrepancy{Kind: diff.KindMissingInSource, Key: g.keyOf(e.rows[tgt][0].cells)})
		return
	}
	// 5. Compare.
	s, t := e.rows[src][0].cells, e.rows[tgt][0].cells
	var cols []diff.ColumnDiff
	for k := g.nkey; k < len(g.cols); k++ {
		if !g.equal(k, s[k], t[k]) {
			cols = append(cols, diff.ColumnDiff{Name: g.cols[k], Source: g.show(k, s[k]), Target: g.show(k, t[k])})
		}
	}
	if cols == nil {
		g.matched++
		return
	}
	add(diff.Discrepancy{Kind: diff.KindMismatch, Key: g.keyOf(s), Columns: cols})
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
func (g *generator) summarize() diff.Summary {
	s := diff.Summary{Matched: g.matched}
	for _, d := range g.ds {
		switch d.Kind {
		case diff.KindMissingInTarget:
			s.MissingInTarget++
		case diff.KindMissingInSource:
			s.MissingInSource++
		case diff.KindMismatch:
			s.Mismatched++
		case diff.KindDuplicateKey:
			s.DuplicateKeys++
		case diff.KindInvalidRow:
			s.InvalidRows++
		}
	}
	s.Compared = s.Matched + int64(len(g.ds))
	return s
}
