package sqlsource

import (
	"fmt"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Canonical text of values inside the databases, for checksums (ChecksumPlan).
//
// Every compared value becomes a text computed by SQL, identical in PostgreSQL and
// MySQL/MariaDB for the same value, and written into the row's checksum text as
//
//	N                 NULL
//	V<len>:<text>     an exact canonical text: two values with the same text are equal
//	                  for the engine, and (for the types below) values the engine finds
//	                  equal have the same text, whichever database they come from
//	T<len>:<tag>:<raw> the value's text as the server sends it, tagged with how this
//	                  package renders it (driver, rendering, time zone): the same tag
//	                  and text give the same rendered value, so equal again means equal;
//	                  values that are equal for the engine may differ here (and are
//	                  then compared row by row)
//
// <len> is the text's length in bytes, so that no two rows share a checksum text by
// shifting characters between columns. Exact texts:
//
//	string     the text this package renders (bytes as hex; booleans true/false),
//	           trimmed of spaces when the column is trimmed (a space-trimmed text equal
//	           on both sides is equal after the engine's trim too)
//	integer    the digits
//	decimal    no trailing fraction zeros: 10.50, 10.5000 → 10.5 (trim_scale in
//	           PostgreSQL, string trimming in MySQL), -0 → 0
//	date       YYYY-MM-DD
//	timestamp  YYYY-MM-DD HH:MM:SS.ffffff cut to the column's precision (a power of ten
//	           of a second), in UTC — or, when a side holds wall-clock times of a zone
//	           other than UTC, in that zone (the other side converting its instants
//	           with AT TIME ZONE, PostgreSQL only)
//	boolean    true/false
//
// Each compared value also has a "sure" predicate: true when the value certainly parses
// as its declared type. A row for which it is not true is suspect: the bucket that holds
// it is compared row by row even when its checksums are equal, so that an unparsable
// value identical on both sides (an invalid_row outcome on each side) is never hidden.
// Text columns declared numeric are checked with a conservative pattern; declared
// dates, timestamps and JSON values in text or JSON columns are always suspect.

// canonForm is how one column's non-NULL values appear in a checksum.
type canonForm struct {
	expr  string // SQL text expression
	exact bool   // V (exact) or T (tagged raw text)
	sure  string // SQL predicate that the value parses; "" always; "FALSE" never
}

// tsZone is the zone in which a pair of timestamp columns is canonicalized.
type tsZone struct {
	ok   bool           // false: no exact form, use tagged text
	name string         // "UTC" or an IANA zone name
	loc  *time.Location // the zone
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// isUTC reports whether loc is UTC.
func isUTC(loc *time.Location) bool { return loc == nil || loc == time.UTC || loc.String() == "UTC" }

// tsKind says whether a timestamp column holds instants, or wall-clock times in a zone
// other than UTC (wall != nil), and whether its instants can be shown in another zone.
func tsKind(d Driver, c colInfo, loc *time.Location) (wall *time.Location, convertible bool) {
	switch {
	case d == Postgres && c.render == rTimestampZ:
		return nil, true
	case c.utc || isUTC(loc):
		return nil, d == Postgres
	}
	return loc, false
}

// chooseZone picks the zone a timestamp column pair is canonicalized in: UTC when both
// sides hold instants; the zone of the wall-clock side(s) when there is one such zone
// and the other side can convert its instants to it; else none.
func chooseZone(ds [2]Driver, cs [2]colInfo, locs [2]*time.Location) tsZone {
	var wall *time.Location
	for i := range cs {
		if cs[i].order != oTimestamp {
			return tsZone{}
		}
		w, _ := tsKind(ds[i], cs[i], locs[i])
		if w != nil {
			if wall != nil && wall.String() != w.String() {
				return tsZone{}
			}
			wall = w
		}
	}
	if wall == nil {
		return tsZone{ok: true, name: "UTC", loc: time.UTC}
	}
	if wall.String() == "Local" || wall.String() == "" {
		return tsZone{}
	}
	for i := range cs {
		if w, conv := tsKind(ds[i], cs[i], locs[i]); w == nil && !conv {
			return tsZone{}
		}
	}
	return tsZone{ok: true, name: wall.String(), loc: wall}
}

// precisionDigits is the number of fraction digits a timestamp precision keeps, when
// it is a power of ten of a second (1µs or finer: 6).
func precisionDigits(p time.Duration) (int, bool) {
	if p <= 0 || (p <= time.Microsecond && time.Microsecond%p == 0) {
		return 6, true
	}
	d := 6
	for q := time.Microsecond; q <= time.Second; q *= 10 {
		if q == p {
			return d, true
		}
		d--
	}
	return 0, false
}

// dbText is the server's text of a column, in UTF-8: for text types, numbers and
// dates the text this package renders; bytes as lower-case hex.
func dbText(d Driver, c colInfo) string {
	q := valueExpr(d, c)
	if d == Postgres {
		switch {
		case c.order == oBinary:
			return "encode(" + q + ", 'hex')"
		case c.base == "bpchar":
			return "format('%s', " + q + ")" // a cast to text would drop the padding
		}
		return q + "::text"
	}
	switch c.order {
	case oBinary:
		return "LOWER(HEX(" + q + "))"
	case oText:
		return "CONVERT(" + q + " USING utf8mb4)"
	}
	return "CONVERT(CAST(" + q + " AS CHAR) USING utf8mb4)"
}

// renderedText is an SQL expression for the exact text this package renders for c, or
// "" when only Go can render it (floats, timestamps).
func renderedText(d Driver, c colInfo) string {
	q := valueExpr(d, c)
	switch c.render {
	case rText, rPGHex, rHex:
		return dbText(d, c)
	case rPGBool:
		return "(CASE WHEN " + q + " THEN 'true' ELSE 'false' END)"
	case rTinyBool:
		return "(CASE WHEN " + q + " = 0 THEN 'false' WHEN " + q + " = 1 THEN 'true' ELSE CONVERT(CAST(" + q + " AS CHAR) USING utf8mb4) END)"
	case rBitBool:
		return "(CASE WHEN " + q + " = 0 THEN 'false' WHEN " + q + " = 1 THEN 'true' ELSE CONVERT(CAST(CAST(" + q + " AS UNSIGNED) AS CHAR) USING utf8mb4) END)"
	case rBitInt:
		return "CONVERT(CAST(CAST(" + q + " AS UNSIGNED) AS CHAR) USING utf8mb4)"
	}
	return ""
}

// tagged is the server's text of c prefixed with how it is rendered.
func tagged(d Driver, c colInfo, loc *time.Location) string {
	locName := "UTC"
	if loc != nil {
		locName = loc.String()
	}
	tag := fmt.Sprintf("%s/%d/%s/%v/%s:", d, c.render, c.base, c.utc, locName)
	switch c.render {
	case rText, rPGHex, rHex:
		// Rendered as the server's text (dbText): the same text is the same value,
		// whichever the database.
		tag = "text:"
	}
	if d == Postgres {
		return "(" + sqlString(tag) + " || " + dbText(d, c) + ")"
	}
	return "CONCAT(" + sqlString(tag) + ", " + dbText(d, c) + ")"
}

// Patterns of text that surely parses as a date or a timestamp (a subset of what the
// engine reads): days that exist in every year (February 29th is suspect), years 0001
// to 9999 (timestamps: 0002 to 9998, which no zone offset takes out of range),
// offsets up to ±14:59.
const (
	reMonthDay      = `((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))`
	reDateText      = `(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-` + reMonthDay
	reTimestampText = `(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-` + reMonthDay +
		`[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,9})?(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?`
)

func regexpSure(d Driver, c colInfo, pattern string) string {
	t := dbText(d, c)
	if d == Postgres {
		return "(octet_length(" + t + ") <= 1000 AND " + t + " ~ " + sqlString(pattern) + ")"
	}
	return "(LENGTH(" + t + ") <= 1000 AND " + t + " REGEXP " + sqlString(pattern) + ")"
}

// decimalText is the canonical decimal text of a numeric column.
func decimalText(d Driver, c colInfo) string {
	q := valueExpr(d, c)
	if d == Postgres {
		if c.order == oInteger {
			return q + "::text"
		}
		return "trim_scale(" + q + ")::text"
	}
	if c.order == oInteger {
		return "CONVERT(CAST(" + q + " AS CHAR) USING utf8mb4)"
	}
	t := "CAST(" + q + " AS CHAR)"
	s := "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM " + t + "))"
	return "CONVERT(CASE WHEN LOCATE('.', " + t + ") = 0 THEN " + t + " WHEN " + s + " = '-0' THEN '0' ELSE " + s + " END USING utf8mb4)"
}

// timestampSure is the predicate that a timestamp column's value is an instant in
// years 1-9999 (UTC) that the engine reads the same way as the database converts it.
func timestampSure(d Driver, c colInfo, loc *time.Location) string {
	q := valueExpr(d, c)
	var parts []string
	wall, _ := tsKind(d, c, loc)
	if d == Postgres && c.render == rTimestampZ {
		parts = append(parts, q+" >= '0001-01-01 00:00:00+00' AND "+q+" < '10000-01-01 00:00:00+00'")
	} else {
		lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
		hi := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
		los, his := "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"
		if wall != nil {
			// The reader reads four-digit years only: clamp to them.
			if l := lo.In(wall); l.Year() >= 1 {
				los = l.Format(mysqlTimeLayout)
			}
			if h := hi.In(wall); h.Year() <= 9999 {
				his = h.Format(mysqlTimeLayout)
			}
		}
		parts = append(parts, q+" >= "+sqlString(los)+" AND "+q+" <= "+sqlString(his))
		if d == MySQL {
			// ALLOW_INVALID_DATES stores 2020-02-31, which the engine refuses.
			parts = append(parts, "MONTH("+q+") > 0 AND DAYOFMONTH("+q+") > 0 AND DAYOFMONTH("+q+") <= DAYOFMONTH(LAST_DAY("+q+"))")
		}
	}
	if wall != nil {
		// Near a change of offset a wall-clock time may occur twice or never, and
		// the database and Go may pick different instants: such rows are suspect.
		parts = append(parts, q+" >= '1900-01-02' AND "+q+" < '2099-12-31'")
		for _, w := range zoneWindows(wall) {
			parts = append(parts, "NOT ("+q+" BETWEEN "+sqlString(w[0])+" AND "+sqlString(w[1])+")")
		}
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// zoneWindows are the wall-clock intervals (±26h) around every change of offset of
// loc from 1900 to 2099.
func zoneWindows(loc *time.Location) [][2]string {
	var out [][2]string
	t := time.Date(1900, 1, 1, 0, 0, 0, 0, loc)
	end := time.Date(2100, 1, 1, 0, 0, 0, 0, loc)
	for t.Before(end) {
		_, e := t.ZoneBounds()
		if e.IsZero() || !e.Before(end) {
			break
		}
		if !e.After(t) { // Go reports some year ends past its table as bounds
			t = t.Add(time.Hour)
			continue
		}
		_, before := e.Add(-time.Nanosecond).Zone()
		if _, after := e.Zone(); before != after {
			a, b := e.Add(-26*time.Hour).In(loc), e.Add(26*time.Hour).In(loc)
			out = append(out, [2]string{a.Format("2006-01-02 15:04:05"), b.Format("2006-01-02 15:04:05")})
		}
		t = e
	}
	return out
}

// timestampText is the canonical text of a timestamp column in zone z, cut to digits
// fraction digits.
func timestampText(d Driver, c colInfo, loc *time.Location, z tsZone, digits int) string {
	q := valueExpr(d, c)
	n := 19
	if digits > 0 {
		n += 1 + digits
	}
	wall, _ := tsKind(d, c, loc)
	if d == MySQL {
		// Wall-clock values are shown as they are: in UTC (instants) or in z (the
		// only wall zone chooseZone accepts).
		return fmt.Sprintf("CONVERT(SUBSTRING(DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), 1, %d) USING utf8mb4)", q, n)
	}
	v := q
	switch {
	case wall != nil: // wall-clock in z already
	case c.render == rTimestampZ:
		if z.name != "UTC" {
			v = "(" + q + " AT TIME ZONE " + sqlString(z.name) + ")"
		}
	default: // timestamp without time zone holding UTC
		if z.name != "UTC" {
			v = "((" + q + " AT TIME ZONE 'UTC') AT TIME ZONE " + sqlString(z.name) + ")"
		}
	}
	return fmt.Sprintf("substr(to_char(%s, 'YYYY-MM-DD HH24:MI:SS.US'), 1, %d)", v, n)
}

// canonOf is the canonical form of column c (declared as col) on a side of driver d
// whose wall-clock zone is loc; z is the pair's timestamp zone.
func canonOf(d Driver, c colInfo, col diff.Column, loc *time.Location, z tsZone) canonForm {
	raw := canonForm{expr: tagged(d, c, loc), sure: "FALSE"}
	switch col.Type {
	case diff.TypeString, "":
		raw.sure = ""
		e := renderedText(d, c)
		if e == "" {
			return raw
		}
		if col.Trim {
			if d == Postgres {
				e = "btrim(" + e + ", ' ')"
			} else {
				e = "TRIM(" + e + ")"
			}
		}
		return canonForm{expr: e, exact: true}
	case diff.TypeInteger:
		switch {
		case c.order == oInteger && (c.render == rText || c.render == rBitInt):
			return canonForm{expr: renderedText(d, c), exact: true}
		case c.order == oText:
			raw.sure = regexpSure(d, c, `^-?[0-9]+$`)
		case c.order == oDecimal:
			raw.sure = regexpSure(d, c, `^-?[0-9]+$`)
		}
		return raw
	case diff.TypeDecimal:
		switch c.order {
		case oInteger:
			if c.render == rText {
				return canonForm{expr: decimalText(d, c), exact: true}
			}
		case oDecimal:
			f := canonForm{expr: decimalText(d, c), exact: true}
			if d == Postgres {
				q := valueExpr(d, c)
				// The engine reads at most 1000 digits on each side of the point.
				f.sure = "(" + q + " > -1e1000 AND " + q + " < 1e1000 AND scale(" + q + ") <= 1000)"
			}
			return f
		case oFloat:
			raw.sure = ""
			if d == Postgres {
				raw.sure = "(" + dbText(d, c) + " NOT IN ('NaN', 'Infinity', '-Infinity'))"
			}
		case oText:
			raw.sure = regexpSure(d, c, `^-?[0-9]+([.][0-9]+)?$`)
		}
		return raw
	case diff.TypeDate:
		if c.order == oText {
			raw.sure = regexpSure(d, c, "^"+reDateText+"$")
		}
		if c.order != oDate {
			return raw
		}
		q := valueExpr(d, c)
		if d == Postgres {
			return canonForm{expr: q + "::text", exact: true, sure: "(" + q + " BETWEEN '0001-01-01' AND '9999-12-31')"}
		}
		return canonForm{expr: dbText(d, c), exact: true, sure: "(" + q + " >= '0001-01-01' AND MONTH(" + q + ") > 0 AND DAYOFMONTH(" + q + ") > 0 AND DAYOFMONTH(" + q + ") <= DAYOFMONTH(LAST_DAY(" + q + ")))"}
	case diff.TypeTimestamp:
		if c.order == oText {
			raw.sure = regexpSure(d, c, "^"+reTimestampText+"$")
		}
		if c.order != oTimestamp {
			return raw
		}
		raw.sure = timestampSure(d, c, loc)
		digits, ok := precisionDigits(col.Precision)
		if !ok || !z.ok {
			return raw
		}
		return canonForm{expr: timestampText(d, c, loc, z, digits), exact: true, sure: raw.sure}
	case diff.TypeBoolean:
		switch c.render {
		case rPGBool, rBitBool:
			return canonForm{expr: renderedText(d, c), exact: true}
		case rTinyBool:
			q := valueExpr(d, c)
			return canonForm{expr: renderedText(d, c), exact: true, sure: "(" + q + " IN (0, 1))"}
		}
		return raw
	}
	return raw // json and anything else: tagged, always suspect
}

// keyCanon is the exact canonical form of key column c declared as col, with the
// predicate that the row's key component is usable (not NULL, not empty, parses), or
// an error saying why checksums cannot be used with this key.
func keyCanon(d Driver, c colInfo, col diff.Column, loc *time.Location) (expr, valid string, err error) {
	q := valueExpr(d, c)
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("key column %q (%s) declared %s: %s", c.Name, c.NativeType, col.Type, why)
	}
	if col.Trim || col.IgnoreCase {
		return bad("trimmed or case-folded keys are not in the database's order")
	}
	notNull := q + " IS NOT NULL"
	length := "octet_length"
	if d == MySQL {
		length = "LENGTH"
	}
	switch col.Type {
	case diff.TypeString, "":
		switch c.render {
		case rText, rPGHex, rHex, rPGBool:
		default:
			return bad("its text is rendered outside the database")
		}
		e := renderedText(d, c)
		switch {
		case c.order == oCastText || (c.order == oText && c.base == "bpchar"):
			// Empty as the engine reads the text. (A bpchar's is padded, so char(n) is never
			// empty, but an unbounded bpchar holds '' as it is.)
			return e, "(" + notNull + " AND " + length + "(" + e + ") > 0)", nil
		case c.order == oText || c.order == oBinary:
			return e, "(" + notNull + " AND " + length + "(" + q + ") > 0)", nil
		case c.order == oInteger || c.order == oDecimal || c.order == oDate || c.order == oBoolean:
			return e, notNull, nil
		}
		return bad("not a text, number or date column")
	case diff.TypeInteger:
		if c.order == oInteger && (c.render == rText || c.render == rBitInt) {
			return renderedText(d, c), notNull, nil
		}
		return bad("not an integer column")
	case diff.TypeDecimal:
		switch c.order {
		case oInteger:
			if c.render == rText {
				return decimalText(d, c), notNull, nil
			}
		case oDecimal:
			if d == Postgres {
				return decimalText(d, c), "(" + notNull + " AND " + q + " > -1e1000 AND " + q + " < 1e1000 AND scale(" + q + ") <= 1000)", nil
			}
			return decimalText(d, c), notNull, nil
		}
		return bad("not an integer or exact decimal column")
	case diff.TypeDate:
		if c.order != oDate {
			return bad("not a date column")
		}
		f := canonOf(d, c, col, loc, tsZone{})
		return f.expr, "(" + notNull + " AND " + f.sure + ")", nil
	case diff.TypeTimestamp:
		if c.order != oTimestamp {
			return bad("not a timestamp column")
		}
		if w, _ := tsKind(d, c, loc); w != nil {
			return bad("wall-clock times in a zone other than UTC")
		}
		if digits, ok := precisionDigits(col.Precision); !ok || digits != 6 {
			return bad("precision coarser than 1µs")
		}
		z := tsZone{ok: true, name: "UTC", loc: time.UTC}
		return timestampText(d, c, loc, z, 6), "(" + notNull + " AND " + timestampSure(d, c, loc) + ")", nil
	}
	return bad("not a key type for checksums")
}
