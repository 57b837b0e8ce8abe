package diff

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

const probNotBoolean = "is not a valid boolean (want true/false, t/f, 1/0, yes/no)"

type kind uint8

const (
	kString kind = iota
	kInteger
	kDecimal
	kTimestamp
	kDate
	kBoolean
	kJSON
)

var kinds = map[Type]kind{TypeString: kString, TypeInteger: kInteger, TypeDecimal: kDecimal,
	TypeTimestamp: kTimestamp, TypeDate: kDate, TypeBoolean: kBoolean, TypeJSON: kJSON}

// column is a compiled Column.
type column struct {
	Column
	typ        Type
	kind       kind
	prec       int64 // timestamp precision, ns
	abs, rel   decimal.Decimal
	hasAbs     bool
	hasRel     bool
	absSmall   *smallDec // abs (rel) when it fits int64 arithmetic, else nil
	relSmall   *smallDec
	timeTol    int64 // ns, > 0 when set
	identity   bool  // canonical bytes are the text as read (plain strings)
	bytewise   bool  // canonical bytes order like values (everything but numbers)
	srcIdx     int   // index in the source reader's columns
	tgtIdx     int   // index in the target reader's columns
	sideName   [2]string
	keyOrdinal int    // position in Spec.Keys or Spec.Compare
	maskKey    []byte // the run's mask key (sensitive columns)
}

func compileColumn(c Column) (*column, error) {
	cc := &column{Column: c, typ: c.Type.normalized(), prec: int64(c.Precision)}
	if !c.Type.valid() {
		return nil, fmt.Errorf("unknown type %q", c.Type)
	}
	if cc.prec <= 0 {
		cc.prec = int64(DefaultPrecision)
	}
	if p := time.Duration(cc.prec); (p < time.Second && time.Second%p != 0) || (p > time.Second && p%time.Second != 0) {
		return nil, fmt.Errorf("precision %s must divide a second or be a whole number of seconds", p)
	}
	if c.AbsTolerance != "" {
		d, err := decimal.NewFromString(strings.TrimSpace(c.AbsTolerance))
		if err != nil || d.Sign() < 0 {
			return nil, fmt.Errorf("absTolerance %q must be a decimal >= 0", c.AbsTolerance)
		}
		cc.abs, cc.hasAbs = d, true
		cc.absSmall = smallTolerance(d)
	}
	if c.RelTolerance != "" {
		d, err := decimal.NewFromString(strings.TrimSpace(c.RelTolerance))
		if err != nil || d.Sign() < 0 {
			return nil, fmt.Errorf("relTolerance %q must be a decimal >= 0", c.RelTolerance)
		}
		cc.rel, cc.hasRel = d, true
		cc.relSmall = smallTolerance(d)
	}
	if c.TimeTolerance > 0 {
		cc.timeTol = int64(c.TimeTolerance)
	}
	cc.kind = kinds[cc.typ]
	cc.identity = cc.kind == kString && !c.Trim && !c.IgnoreCase
	cc.bytewise = cc.kind != kInteger && cc.kind != kDecimal
	cc.sideName = [2]string{c.Name, c.TargetName()}
	return cc, nil
}

// isEmpty reports whether a key value is empty: "" for strings ("" after trimming when
// the column trims), blank for typed columns (which are always trimmed).
func (c *column) isEmpty(s string) bool {
	if c.kind == kString && !c.Trim {
		return s == ""
	}
	return strings.TrimSpace(s) == ""
}

// appendCanon appends the canonical bytes of a non-NULL value, or returns a problem
// ("is not a valid decimal") with dst unchanged.
func (c *column) appendCanon(dst []byte, s string) ([]byte, string) {
	out, _, p := c.canon(dst, s)
	return out, p
}

// trimSpace is strings.TrimSpace with a fast path for values without surrounding space.
func trimSpace(s string) string {
	if n := len(s); n > 0 && s[0] > ' ' && s[0] < utf8.RuneSelf && s[n-1] > ' ' && s[n-1] < utf8.RuneSelf {
		return s
	}
	return strings.TrimSpace(s)
}

// isCanon reports cheaply whether a non-NULL value is valid and its own canonical form,
// for the common cases: plain strings, canonical decimals and integers, plain dates.
// false means that canon has to say.
func (c *column) isCanon(s string) bool {
	switch c.kind {
	case kString:
		return c.identity
	case kInteger, kDecimal:
		return isCanonDecimal(s, c.kind == kInteger)
	case kDate:
		return isPlainDate(s)
	}
	return false
}

// validPlain reports cheaply whether a non-NULL value is valid, for the common cases,
// every plain decimal among them, canonical or not ("10.50"), without canonicalizing
// it; false means that problem has to say.
func (c *column) validPlain(s string) bool {
	return plainValid(c.kind, s) || c.kind == kTimestamp && validTimestampFast(s, c.Location)
}

// plainValid is validPlain's first look, by kind alone: true for the forms nearly every
// value takes (a plain decimal, a date, a UTC timestamp to the second), false when the
// whole check has to say. The line join calls it on its hot path, without a column.
func plainValid(k kind, s string) bool {
	switch k {
	case kString:
		return true
	case kInteger, kDecimal:
		return isPlainDecimal(s, k == kInteger)
	case kDate:
		return isPlainDate(s)
	case kTimestamp:
		return len(s) == 20 && isUTCSecond(s)
	}
	return false
}

// problem returns what is wrong with a non-NULL value ("" when it parses), with buf as
// scratch.
func (c *column) problem(buf []byte, s string) ([]byte, string) {
	switch {
	case c.validPlain(s):
		return buf, ""
	case c.kind == kTimestamp:
		_, _, p := parseTimestamp(trimSpace(s), c.Location, c.prec)
		return buf, p
	}
	buf, _, p := c.canon(buf[:0], s)
	return buf, p
}

// canon is appendCanon that also reports whether the canonical bytes are s itself.
func (c *column) canon(dst []byte, s string) (out []byte, same bool, problem string) {
	switch c.kind {
	case kString:
		if c.Trim {
			s = trimSpace(s)
		}
		if c.IgnoreCase {
			return appendFold(dst, s), false, ""
		}
		return append(dst, s...), false, ""
	case kInteger, kDecimal:
		t := trimSpace(s)
		if isCanonDecimal(t, c.kind == kInteger) {
			return append(dst, t...), len(t) == len(s), ""
		}
		out, p := appendCanonDecimal(dst, t, c.kind == kInteger, false)
		return out, false, p
	case kTimestamp:
		sec, nsec, p := parseTimestamp(trimSpace(s), c.Location, c.prec)
		if p != "" {
			return dst, false, p
		}
		return appendTimestampBytes(dst, sec, nsec), false, ""
	case kDate:
		out, p := appendDate(dst, trimSpace(s))
		return out, false, p
	case kBoolean:
		switch s = trimSpace(s); {
		case s == "1" || strings.EqualFold(s, "true") || strings.EqualFold(s, "t") || strings.EqualFold(s, "yes"):
			return append(dst, "true"...), false, ""
		case s == "0" || strings.EqualFold(s, "false") || strings.EqualFold(s, "f") || strings.EqualFold(s, "no"):
			return append(dst, "false"...), false, ""
		}
		return dst, false, probNotBoolean
	case kJSON:
		out, p := appendCanonJSON(dst, trimSpace(s))
		return out, false, p
	}
	return dst, false, "has an unknown type"
}

// canonText is the canonical text of canonical bytes (what masking hashes and what
// Normalize returns).
func (c *column) canonText(canon []byte) string {
	if c.kind == kTimestamp && len(canon) == 12 {
		return formatTimestamp(decodeTimestampBytes(canon))
	}
	return string(canon)
}

// mask returns the masked form of a value as read: Mask of its canonical text (of the
// text itself when it does not parse).
func (c *column) mask(raw string) string {
	text := raw
	if canon, p := c.appendCanon(nil, raw); p == "" {
		text = c.canonText(canon)
	}
	key := c.maskKey
	if len(key) == 0 {
		// A column compiled outside a run (Column.Normalize, Column.Equal) has no run
		// key: an empty one would make the mask computable by anyone, so a fresh key
		// (the mask then links to nothing).
		key = NewMaskKey()
	}
	return maskText(key, text)
}

// maskBytes is how much of the HMAC a mask shows: 64 bits, so that distinct values
// practically never share a mask (a store keeps one case per masked key; at 32 bits two
// accounts of 100,000 would more likely than not have shared one). Without the key, more
// bits do not make a mask easier to undo.
const maskBytes = 8

// maskText is Mask.
func maskText(key []byte, text string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(text))
	var sum [sha256.Size]byte
	return "***" + hex.EncodeToString(m.Sum(sum[:0])[:maskBytes])
}

// show returns a cell as it goes into an outcome: masked when sensitive.
func (c *column) show(raw string, null bool) Cell {
	if null {
		return Cell{Null: true}
	}
	if c.Sensitive {
		return Cell{Text: c.mask(raw)}
	}
	return Cell{Text: raw}
}

// quote renders a value for a reason: quoted (and shortened) or masked.
func (c *column) quote(raw string) string {
	if c.Sensitive {
		return c.mask(raw)
	}
	if len(raw) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(raw[cut]) {
			cut--
		}
		return strconv.Quote(raw[:cut]) + "..."
	}
	return strconv.Quote(raw)
}

// equal compares two canonical values under the column's tolerances (inclusive).
func (c *column) equal(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	switch {
	case c.hasAbs || c.hasRel:
		return c.withinNumeric(a, b)
	case c.timeTol > 0 && c.kind == kTimestamp && len(a) == 12 && len(b) == 12:
		sa, na := decodeTimestampBytes(a)
		sb, nb := decodeTimestampBytes(b)
		ds, dn := sa-sb, na-nb
		if ds > 9e9 || ds < -9e9 { // ~285 years: beyond any Duration
			return false
		}
		d := ds*1e9 + dn
		if d < 0 {
			d = -d
		}
		return d <= c.timeTol
	case c.timeTol > 0 && c.kind == kDate:
		d := dateDays(a) - dateDays(b)
		if d < 0 {
			d = -d
		}
		return d <= c.timeTol/int64(24*time.Hour)
	}
	return false
}

// smallTolerance returns a tolerance as a smallDec when it is one exactly.
func smallTolerance(d decimal.Decimal) *smallDec {
	canon, p := appendCanonDecimal(nil, d.String(), false, false)
	if p != "" {
		return nil
	}
	sd, ok := parseSmallDec(canon)
	if !ok || sd.m < 0 || sd.scale >= len(pow10) {
		return nil
	}
	if back, err := decimal.NewFromString(string(canon)); err != nil || !back.Equal(d) {
		return nil
	}
	return &sd
}

func (c *column) withinNumeric(a, b []byte) bool {
	if (c.hasAbs == (c.absSmall != nil)) && (c.hasRel == (c.relSmall != nil)) {
		if within, ok := withinSmall(a, b, c.absSmall, c.relSmall); ok {
			return within
		}
	}
	return c.withinNumericSlow(a, b)
}

// withinNumericSlow is withinNumeric in arbitrary precision.
func (c *column) withinNumericSlow(a, b []byte) bool {
	da, err1 := decimal.NewFromString(string(a))
	db, err2 := decimal.NewFromString(string(b))
	if err1 != nil || err2 != nil {
		return false
	}
	diff := da.Sub(db).Abs()
	if c.hasAbs && diff.Cmp(c.abs) <= 0 {
		return true
	}
	if c.hasRel {
		m := da.Abs()
		if bm := db.Abs(); bm.Cmp(m) > 0 {
			m = bm
		}
		if diff.Cmp(c.rel.Mul(m)) <= 0 {
			return true
		}
	}
	return false
}

// cmpCanon orders two canonical values of a key column by their natural order.
func (c *column) cmpCanon(a, b []byte) int {
	if c.bytewise {
		return bytes.Compare(a, b)
	}
	return cmpDecimal(a, b)
}

// appendFold appends s case-folded: every rune mapped to lower(upper(r)), so that
// e.g. "ß"-free Unicode letters, final sigma and the Kelvin sign fold like EqualFold.
// Invalid UTF-8 bytes are kept as they are.
func appendFold(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= utf8.RuneSelf {
			return appendFoldSlow(dst, s[i:])
		}
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		dst = append(dst, ch)
	}
	return dst
}

func appendFoldSlow(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			dst = append(dst, s[i])
			i++
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(unicode.ToUpper(r)))
		i += size
	}
	return dst
}

// ValueError is returned by Column.Normalize for a value that does not parse.
type ValueError struct {
	Column  string
	Value   string // masked when the column is sensitive
	Problem string // e.g. "is not a valid decimal"
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("column %s: %s %s", e.Column, e.Value, e.Problem)
}

// Normalize returns the canonical text of a (non-NULL) value under the column's rules:
// what the engine compares (without tolerances) and what masking hashes. Normalize is
// idempotent: normalizing a canonical text returns it unchanged.
func (c Column) Normalize(text string) (string, error) {
	cc, err := compileColumn(c)
	if err != nil {
		return "", fmt.Errorf("column %s: %w", c.Name, err)
	}
	canon, p := cc.appendCanon(nil, text)
	if p != "" {
		return "", &ValueError{Column: c.Name, Value: cc.quote(text), Problem: p}
	}
	return cc.canonText(canon), nil
}

// Equal reports whether two (non-NULL) values are equal under the column's rules,
// tolerances included; an error names a value that does not parse.
func (c Column) Equal(a, b string) (bool, error) {
	cc, err := compileColumn(c)
	if err != nil {
		return false, fmt.Errorf("column %s: %w", c.Name, err)
	}
	ca, p := cc.appendCanon(nil, a)
	if p != "" {
		return false, &ValueError{Column: c.Name, Value: cc.quote(a), Problem: p}
	}
	cb, p := cc.appendCanon(nil, b)
	if p != "" {
		return false, &ValueError{Column: c.Name, Value: cc.quote(b), Problem: p}
	}
	return cc.equal(ca, cb), nil
}
