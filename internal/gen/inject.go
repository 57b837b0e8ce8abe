package gen

import (
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

const (
	src = 0
	tgt = 1
)

// build creates every injected entity.
func (g *generator) build() {
	in := g.cfg.Inject
	g.injected = make(map[uint64]*entity, in.BaseTotal())
	pick := newPerm(uint64(g.cfg.Rows), g.seed^0x7069636b)
	next := uint64(0)
	for _, f := range in.all() {
		for ord := range *f.n {
			if f.base {
				i := pick.at(next)
				next++
				e := g.baseEntity(f.name, ord, i)
				g.injected[i] = e
				g.entities = append(g.entities, e)
				continue
			}
			g.entities = append(g.entities, g.extraEntities(f.name, ord)...)
		}
	}
}

func one(cells []diff.Cell) []*row { return []*row{{cells: cells}} }

func rows(cells ...[]diff.Cell) []*row {
	out := make([]*row, len(cells))
	for i, c := range cells {
		out[i] = &row{cells: c}
	}
	return out
}

func (g *generator) setMillis(r []diff.Cell, m int64) { r[g.amount] = text(millisText(m)) }

func (g *generator) setBooked(r []diff.Cell, unix int64, offsetMin int, plusZero bool) {
	t := time.Unix(unix, 0).In(time.FixedZone("", offsetMin*60))
	layout := time.RFC3339
	if plusZero {
		layout = "2006-01-02T15:04:05-07:00"
	}
	r[g.booked] = text(t.Format(layout))
}

// baseEntity makes the injection kind/ord on base key i.
func (g *generator) baseEntity(kind string, ord int, i uint64) *entity {
	f := g.fieldsOf(i)
	s := g.rowOf(g.baseKey(i), f)
	t := cloneRow(s)
	e := &entity{kind: kind, base: int64(i)}
	cents := f.cents
	milli := cents * 10
	tol, tolS := g.tolMilli, g.tolSecs
	booked := f.bookedUnix()
	sign := int64(1)
	if ord%2 == 1 {
		sign = -1
	}
	switch kind {
	case "missingInTarget":
		e.rows = [2][]*row{one(s), nil}
		return e
	case "missingInSource":
		e.rows = [2][]*row{nil, one(t)}
		return e
	case "mismatch":
		switch ord % 12 {
		case 0:
			g.setMillis(t, milli+1000+tol)
		case 1:
			t[g.currency] = text(currencies[(f.cur+1)%len(currencies)])
		case 2:
			t[g.status] = text(statuses[(f.status+1)%len(statuses)])
		case 3:
			t[g.vdate] = text(g.dates[f.day+1])
		case 4:
			g.setBooked(t, booked+3600+tolS, 0, false)
		case 5:
			t[g.memo] = text("corrected " + strconv.Itoa(ord))
		case 6:
			t[g.account] = text(string(appendAccount(nil, (f.account+1)%1_000_000_000_000)))
		case 7: // NULL is not the empty string
			s[g.memo], t[g.memo] = null, text("")
		case 8:
			t[g.amount] = null
		case 9:
			t[g.status] = text(statuses[(f.status+1)%len(statuses)])
			t[g.memo] = text("changed, " + strconv.Itoa(ord))
			g.setMillis(t, milli-2000-tol)
		case 10: // no case folding
			s[g.currency] = text(currencies[f.cur])
			t[g.currency] = text(strings.ToLower(currencies[f.cur]))
		case 11: // no trimming of strings
			s[g.memo], t[g.memo] = text("note "+strconv.Itoa(ord)), text("note "+strconv.Itoa(ord)+" ")
		}
	case "withinTolerance":
		switch ord % 4 {
		case 0:
			g.setMillis(t, milli+tol/2)
		case 1:
			g.setBooked(t, booked+tolS/2, 0, false)
		case 2:
			g.setMillis(t, milli-tol/2)
			g.setBooked(t, booked-tolS/2, 0, false)
		case 3:
			g.setMillis(s, milli+3) // a third digit on the source
			g.setMillis(t, milli+3-tol+1)
		}
	case "edgeOn":
		switch ord % 4 {
		case 0, 1:
			g.setMillis(t, milli+sign*tol)
		default:
			g.setBooked(t, booked+sign*tolS, 0, false)
		}
	case "edgePast":
		switch ord % 4 {
		case 0, 1:
			g.setMillis(t, milli+sign*(tol+10))
		default:
			g.setBooked(t, booked+sign*(tolS+1), 0, false)
		}
	case "duplicateSource", "duplicateTarget":
		var a, b []*row
		switch ord % 4 {
		case 0: // identical copies, the other side matches
			a, b = rows(s, cloneRow(s)), one(t)
		case 1: // different copies, the other side missing
			s2 := cloneRow(s)
			g.setMillis(s2, milli+5000)
			a, b = rows(s, s2), nil
		case 2: // three copies, the other side unparsable
			t[g.amount] = text("12,5x")
			a, b = rows(s, cloneRow(s), cloneRow(s)), one(t)
		case 3: // one copy unparsable, the other side mismatching
			s2 := cloneRow(s)
			s2[g.vdate] = text("2026-02-30")
			t[g.status] = text(statuses[(f.status+1)%len(statuses)])
			a, b = rows(s, s2), one(t)
		}
		if kind == "duplicateSource" {
			e.rows = [2][]*row{a, b}
		} else {
			e.rows = [2][]*row{b, a}
		}
		return e
	case "duplicateBoth":
		if ord%2 == 0 {
			e.rows = [2][]*row{rows(s, cloneRow(s)), rows(t, cloneRow(t))}
		} else {
			t2 := cloneRow(t)
			g.setMillis(t2, milli+100)
			e.rows = [2][]*row{rows(s, cloneRow(s)), rows(t, cloneRow(t), t2)}
		}
		return e
	case "unparsable":
		switch ord % 6 {
		case 0:
			s[g.amount] = text("12,5x")
		case 1: // the other side differs too: still only invalid_row
			t[g.booked] = text(g.dates[f.day] + "T25:00:00Z")
			t[g.memo] = text("other " + strconv.Itoa(ord))
		case 2: // the other side is missing: still only invalid_row
			s[g.vdate] = text("2026-02-30")
			e.rows = [2][]*row{one(s), nil}
			return e
		case 3: // the empty string is not NULL
			t[g.amount] = text("")
		case 4: // both sides
			s[g.amount] = text("abc")
			t[g.vdate] = text("01/03/2026")
		case 5: // two problems in one row
			s[g.amount] = text("1.2.3")
			s[g.booked] = text("yesterday")
			g.setMillis(t, milli+700)
		}
	case "numericFormat":
		c := cents
		var a, b string
		switch ord % 5 {
		case 0:
			c -= c % 10
			a = string(appendCents(nil, c))
			b = strings.TrimSuffix(strings.TrimRight(a, "0"), ".")
		case 1:
			c -= c % 100
			a = string(appendCents(nil, c))
			b = strings.TrimSuffix(a, ".00")
		case 2:
			abs := c
			sg := ""
			if c < 0 {
				abs, sg = -c, "-"
			}
			a = sg + "00" + string(appendCents(nil, abs))
			b = string(appendCents(nil, c))
		case 3:
			a = string(appendCents(nil, c)) + "0"
			b = string(appendCents(nil, c))
		case 4:
			a, b = "-0.00", "0"
		}
		s[g.amount], t[g.amount] = text(a), text(b)
	case "timezoneEqual":
		pairs := [][2]int{{60, 0}, {-300, 0}, {330, 0}, {840, -720}, {0, 60}}
		p := pairs[ord%len(pairs)]
		g.setBooked(s, booked, p[0], false)
		g.setBooked(t, booked, p[1], ord%len(pairs) == 2)
	default:
		panic("gen: unknown base injection " + kind)
	}
	e.rows = [2][]*row{one(s), one(t)}
	return e
}

var unicodeNames = []string{
	"zürich-ß-東京-🙂", "Ελλάδα-Ω", "naïve", "café", "עברית-ש", "emoji-👩\u200d👩\u200d👧", "Ǆ-ǅ-ǆ", "日本語キー", "nbsp\u00a0inside",
}

// extraEntities makes the extra-key injection kind/ord.
func (g *generator) extraEntities(kind string, ord int) []*entity {
	kindNo := map[string]uint64{"nullKey": 1, "emptyKey": 2, "unicodeKeys": 3, "separatorKeys": 4}[kind]
	values := func(k int) fields { return g.fieldsOf(1<<40 | kindNo<<32 | uint64(k)) }
	keyed := func(region, id string) []diff.Cell {
		if g.cfg.Composite {
			return []diff.Cell{text(region), text(id)}
		}
		return []diff.Cell{text(id)}
	}
	// outcome builds an entity with key on both sides, then removes or changes a side.
	outcome := func(key []diff.Cell, f fields, what int) *entity {
		s := g.rowOf(key, f)
		t := cloneRow(s)
		e := &entity{kind: kind, base: -1}
		switch what {
		case 0: // matched
			e.rows = [2][]*row{one(s), one(t)}
		case 1: // mismatch
			g.setMillis(t, f.cents*10+1000+g.tolMilli)
			t[g.memo] = text("changed")
			e.rows = [2][]*row{one(s), one(t)}
		case 2:
			e.rows = [2][]*row{one(s), nil}
		case 3:
			e.rows = [2][]*row{nil, one(t)}
		}
		return e
	}
	sfx := "-" + strconv.Itoa(ord)
	switch kind {
	case "nullKey", "emptyKey":
		bad := null
		if kind == "emptyKey" {
			bad = text("")
		}
		f := values(ord / 4)
		var key []diff.Cell
		if g.cfg.Composite {
			switch ord % 3 {
			case 0:
				key = []diff.Cell{bad, text("K" + sfx)}
			case 1:
				key = []diff.Cell{text("emea"), bad}
			case 2:
				key = []diff.Cell{bad, bad}
			}
		} else {
			key = []diff.Cell{bad}
		}
		r := g.rowOf(key, f)
		if ord%4 == 3 {
			r[g.amount] = text("12,5x") // the key problem wins
		}
		e := &entity{kind: kind, base: -1}
		e.rows[ord%2] = one(r)
		return []*entity{e}
	case "unicodeKeys":
		name := unicodeNames[ord%len(unicodeNames)]
		region := "zürich"
		if ord%2 == 1 {
			region = "東京"
		}
		what := ord % 4
		if name == "café" { // NFC and NFD are different keys
			return []*entity{
				outcome(keyed(region, "café"+sfx), values(ord), what),
				outcome(keyed(region, "cafe\u0301"+sfx), values(ord+1<<20), what),
			}
		}
		return []*entity{outcome(keyed(region, name+sfx), values(ord), what)}
	case "separatorKeys":
		switch ord % 4 {
		case 0: // one side each: a concatenated key would match them
			a := outcome(keyed("a|b", "c"+sfx), values(ord), 2)
			b := outcome(keyed("a", "b|c"+sfx), values(ord), 3)
			if !g.cfg.Composite {
				a = outcome(keyed("", "a|b"+sfx), values(ord), 2)
				b = outcome(keyed("", "a,b"+sfx), values(ord), 3)
			}
			return []*entity{a, b}
		case 2:
			a := outcome(keyed("x,y", "z"+sfx), values(ord), 2)
			b := outcome(keyed("x", "y,z"+sfx), values(ord), 3)
			if !g.cfg.Composite {
				a = outcome(keyed("", "x\ty"+sfx), values(ord), 2)
				b = outcome(keyed("", "x y"+sfx), values(ord), 3)
			}
			return []*entity{a, b}
		case 1:
			if g.cfg.Composite {
				return []*entity{outcome(keyed(`q"1`, "line\nbreak"+sfx), values(ord), 0)}
			}
			return []*entity{outcome(keyed("", `q"1;line`+"\nbreak"+sfx), values(ord), 0)}
		default:
			if g.cfg.Composite {
				return []*entity{outcome(keyed(`back\slash`, "t\tab,"+sfx), values(ord), 1)}
			}
			return []*entity{outcome(keyed("", `back\slash`+"\tt,"+sfx), values(ord), 1)}
		}
	}
	panic("gen: unknown extra injection " + kind)
}
