package gen

import (
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// The payments ledger. Key: id, or (region, id) when composite. All values are
// written as text: amount a plain decimal with 2 digits, value_date 2006-01-02,
// booked_at RFC 3339 in UTC with whole seconds.
var ledgerColumns = []string{"amount", "currency", "value_date", "booked_at", "status", "account", "memo"}

var (
	currencies = []string{"EUR", "USD", "GBP", "CHF", "JPY"}
	statuses   = []string{"booked", "settled", "pending", "reversed"}
	regions    = []string{"amer", "apac", "emea"} // sorted
)

const epoch2026 = 1767225600 // 2026-01-01T00:00:00Z

type colType int

const (
	tString colType = iota
	tDecimal
	tDate
	tTimestamp
)

// generator holds everything but the plain base rows, which are computed from
// their index when written.
type generator struct {
	cfg      Config
	cols     []string
	nkey     int
	amount   int // column indexes
	currency int
	vdate    int
	booked   int
	status   int
	account  int
	memo     int
	types    []colType
	tolMilli int64 // amount tolerance in thousandths
	tolSecs  int64
	seed     uint64
	dates    []string // "2026-01-01" + k days

	entities []*entity          // every non-plain entity, in creation order
	injected map[uint64]*entity // base index → entity
	ds       []*Discrepancy
	matched  int64
}

// entity is one key (or one invalid-key row) with its rows on each side.
type entity struct {
	kind string
	base int64 // base index, -1 for extra keys
	rows [2][]*row
}

type row struct {
	cells []diff.Cell
	pos   *string // receives the row's position when it is reported (invalid_row)
	slot  uint64  // shuffled order: the base slot this floating row is written before
}

func newGenerator(cfg Config) *generator {
	g := &generator{cfg: cfg, seed: mix(cfg.Seed ^ 0x636c656172686f75)}
	if cfg.Composite {
		g.cols = append(g.cols, "region")
	}
	g.cols = append(g.cols, "id")
	g.nkey = len(g.cols)
	g.cols = append(g.cols, ledgerColumns...)
	k := g.nkey
	g.amount, g.currency, g.vdate, g.booked, g.status, g.account, g.memo = k, k+1, k+2, k+3, k+4, k+5, k+6
	g.types = make([]colType, len(g.cols))
	g.types[g.amount], g.types[g.vdate], g.types[g.booked] = tDecimal, tDate, tTimestamp
	g.tolMilli, _ = parseMillis(cfg.AmountTolerance)
	g.tolSecs = int64(cfg.BookedAtTolerance / time.Second)
	for d := range 800 {
		g.dates = append(g.dates, time.Unix(epoch2026+int64(d)*86400, 0).UTC().Format("2006-01-02"))
	}
	return g
}

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *generator) hash(i, salt uint64) uint64 { return mix(g.seed ^ mix(i<<2|salt)) }

// fields are the values of one row before they are text.
type fields struct {
	cents   int64
	cur     int
	day     int
	secs    int64 // booked_at seconds of the day
	status  int
	account uint64
	memo    int // 0..99, see appendMemo
	inv     uint64
}

func (g *generator) fieldsOf(i uint64) fields {
	h1, h2 := g.hash(i, 1), g.hash(i, 2)
	return fields{
		cents:   int64(h1%2_000_000) - 200_000,
		cur:     int(h1>>24) % len(currencies),
		day:     int(h1>>32) % 365,
		secs:    int64(h2 % 86400),
		status:  int(h2>>20) % len(statuses),
		account: (h2 >> 24) % 1_000_000_000_000,
		memo:    int(h1>>48) % 100,
		inv:     (h2 >> 5) % 100_000_000,
	}
}

func (f fields) bookedUnix() int64 { return epoch2026 + int64(f.day)*86400 + f.secs }

// baseKeyParts returns the region (composite only) and writes the id of base row i
// into buf.
func (g *generator) baseID(buf []byte, i uint64) []byte {
	buf = append(buf, 'P')
	var d [20]byte
	s := strconv.AppendUint(d[:0], i, 10)
	for k := len(s); k < 10; k++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

func (g *generator) baseRegion(i uint64) string {
	return regions[int(i*uint64(len(regions))/uint64(max(g.cfg.Rows, 1)))]
}

// appendAmount appends cents as a 2-digit decimal.
func appendCents(dst []byte, c int64) []byte { return appendScaled(dst, c, 2) }

// appendScaled appends v×10^-scale.
func appendScaled(dst []byte, v int64, scale int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var d [24]byte
	s := strconv.AppendInt(d[:0], v, 10)
	for len(s) <= scale {
		s = append([]byte{'0'}, s...)
	}
	k := len(s) - scale
	dst = append(dst, s[:k]...)
	if scale > 0 {
		dst = append(dst, '.')
		dst = append(dst, s[k:]...)
	}
	return dst
}

// millisText renders thousandths with 2 digits when possible, else 3.
func millisText(m int64) string {
	if m%10 == 0 {
		return string(appendScaled(nil, m/10, 2))
	}
	return string(appendScaled(nil, m, 3))
}

func appendTwo(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

// appendBooked appends the UTC timestamp of day d at secs: 2026-03-01T09:00:00Z.
func (g *generator) appendBooked(dst []byte, day int, secs int64) []byte {
	dst = append(dst, g.dates[day]...)
	dst = append(dst, 'T')
	dst = appendTwo(dst, secs/3600)
	dst = append(dst, ':')
	dst = appendTwo(dst, secs/60%60)
	dst = append(dst, ':')
	dst = appendTwo(dst, secs%60)
	return append(dst, 'Z')
}

func appendAccount(dst []byte, a uint64) []byte {
	dst = append(dst, "CH"...)
	dst = appendTwo(dst, int64(a%90+10))
	var d [20]byte
	s := strconv.AppendUint(d[:0], a, 10)
	for k := len(s); k < 12; k++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendMemo appends the memo text; null reports a NULL memo.
func appendMemo(dst []byte, f fields) (out []byte, null bool) {
	switch m := f.memo; {
	case m < 60:
		dst = append(dst, "INV-"...)
		return strconv.AppendUint(dst, f.inv, 10), false
	case m < 70:
		return append(dst, "salary"...), false
	case m < 75:
		return append(dst, "refund, partial"...), false
	case m < 78:
		return append(dst, `said "hi"`...), false
	case m < 80:
		return append(dst, "two\nlines"...), false
	case m < 85:
		return dst, false // the empty string
	case m < 90:
		return dst, true
	case m < 93:
		return append(dst, "zürich café ☕"...), false
	case m < 95:
		return append(dst, "tab\tsep"...), false
	case m < 97:
		return append(dst, `\N`...), false
	default:
		return append(dst, "fee; monthly"...), false
	}
}

// rowBuf renders rows into one reused buffer; the cells point into it and are
// valid until the next call.
type rowBuf struct {
	buf   []byte
	ends  []int
	nulls []bool
	cells []diff.Cell
}

func (b *rowBuf) field(null bool) {
	b.ends = append(b.ends, len(b.buf))
	b.nulls = append(b.nulls, null)
}

func (b *rowBuf) finish() []diff.Cell {
	b.cells = b.cells[:0]
	start := 0
	for k, end := range b.ends {
		if b.nulls[k] {
			b.cells = append(b.cells, diff.Cell{Null: true})
		} else if end == start {
			b.cells = append(b.cells, diff.Cell{})
		} else {
			b.cells = append(b.cells, diff.Cell{Text: unsafe.String(&b.buf[start], end-start)})
		}
		start = end
	}
	return b.cells
}

// plain renders base row i (the same on both sides) without allocating.
func (g *generator) plain(b *rowBuf, i uint64) []diff.Cell {
	b.buf, b.ends, b.nulls = b.buf[:0], b.ends[:0], b.nulls[:0]
	if g.cfg.Composite {
		b.buf = append(b.buf, g.baseRegion(i)...)
		b.field(false)
	}
	b.buf = g.baseID(b.buf, i)
	b.field(false)
	g.appendValues(b, g.fieldsOf(i))
	return b.finish()
}

func (g *generator) appendValues(b *rowBuf, f fields) {
	b.buf = appendCents(b.buf, f.cents)
	b.field(false)
	b.buf = append(b.buf, currencies[f.cur]...)
	b.field(false)
	b.buf = append(b.buf, g.dates[f.day]...)
	b.field(false)
	b.buf = g.appendBooked(b.buf, f.day, f.secs)
	b.field(false)
	b.buf = append(b.buf, statuses[f.status]...)
	b.field(false)
	b.buf = appendAccount(b.buf, f.account)
	b.field(false)
	var null bool
	b.buf, null = appendMemo(b.buf, f)
	b.field(null)
}

// rowOf returns an owned row with the given key cells and values.
func (g *generator) rowOf(key []diff.Cell, f fields) []diff.Cell {
	var b rowBuf
	for _, k := range key {
		b.buf = append(b.buf, k.Text...)
		b.field(k.Null)
	}
	g.appendValues(&b, f)
	cells := b.finish()
	out := make([]diff.Cell, len(cells))
	for i, c := range cells {
		out[i] = diff.Cell{Text: strings.Clone(c.Text), Null: c.Null}
	}
	return out
}

func (g *generator) baseKey(i uint64) []diff.Cell {
	var key []diff.Cell
	if g.cfg.Composite {
		key = append(key, diff.Cell{Text: g.baseRegion(i)})
	}
	return append(key, diff.Cell{Text: string(g.baseID(nil, i))})
}

func cloneRow(r []diff.Cell) []diff.Cell { return append([]diff.Cell(nil), r...) }

func text(s string) diff.Cell { return diff.Cell{Text: s} }

var null = diff.Cell{Null: true}
