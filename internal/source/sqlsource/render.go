package sqlsource

import (
	"encoding/hex"
	"math/big"
	"strconv"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Column is one column of a table or a query's result.
type Column struct {
	// Name is the column's exact name.
	Name string `json:"name"`
	// Type is the engine type its values are read as.
	Type diff.Type `json:"type"`
	// NativeType is the database's name of the type: "numeric(12,2)",
	// "timestamp with time zone", "decimal(14,4)", "datetime(6)".
	NativeType string `json:"nativeType"`
	// Nullable is false for a NOT NULL column (always true for a query's columns,
	// whose nullability the servers do not report reliably).
	Nullable bool `json:"nullable"`
}

// render says how a column's values, as the server sends them in text form, become
// the text of a diff.Cell.
type render uint8

const (
	rText       render = iota // as sent
	rPGBool                   // PostgreSQL t/f → true/false
	rTinyBool                 // MySQL TINYINT(1): 0/1 → false/true, other values as sent
	rBitBool                  // MySQL BIT(1): one byte 0/1 → false/true
	rBitInt                   // MySQL BIT(n): big-endian bytes → unsigned decimal
	rFloat32                  // shortest decimal text without exponent
	rFloat64                  //
	rTimestampZ               // PostgreSQL timestamptz with TimeZone=UTC: "2006-01-02 15:04:05.999999+00"
	rTimestampL               // wall-clock "2006-01-02 15:04:05.999999" in the configured zone
	rPGHex                    // PostgreSQL bytea "\x0a0b" → "0a0b"
	rHex                      // MySQL binary bytes → lower-case hex
)

// colInfo is a Column with how to read and sort it.
type colInfo struct {
	Column
	render render
	// order is the class used to decide how an ordered scan sorts the column.
	order orderClass
	// base is the database's base type name (PostgreSQL typname, MySQL DATA_TYPE)
	// that decided the rest.
	base string
	// utc: wall-clock values are in UTC, not in the configured zone (MySQL
	// TIMESTAMP, which the session's time_zone renders in UTC).
	utc bool
	// cast is the SQL type the column is read as, when the server's text of its own
	// type loses or dresses up the value: MySQL FLOAT (six significant digits),
	// PostgreSQL money (in the locale's currency format).
	cast string
	// unreadable: the role may not SELECT the column (PostgreSQL column privileges;
	// MySQL's information_schema leaves such columns out).
	unreadable bool
}

// appendCell appends the rendered text of a non-NULL raw value to dst.
func appendCell(dst []byte, raw []byte, r render, loc *time.Location) []byte {
	switch r {
	case rPGBool:
		switch string(raw) {
		case "t":
			return append(dst, "true"...)
		case "f":
			return append(dst, "false"...)
		}
	case rTinyBool:
		switch string(raw) {
		case "0":
			return append(dst, "false"...)
		case "1":
			return append(dst, "true"...)
		}
	case rBitBool:
		if len(raw) == 1 && raw[0] <= 1 {
			if raw[0] == 1 {
				return append(dst, "true"...)
			}
			return append(dst, "false"...)
		}
		return appendBitInt(dst, raw)
	case rBitInt:
		return appendBitInt(dst, raw)
	case rFloat32, rFloat64:
		bits := 64
		if r == rFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(raw), bits)
		if err != nil || f != f || f > maxFloat(bits) || f < -maxFloat(bits) {
			break // NaN, Infinity: as sent (the engine says it is not a decimal)
		}
		if f == 0 {
			return append(dst, '0') // also -0
		}
		return strconv.AppendFloat(dst, f, 'f', -1, bits)
	case rTimestampZ, rTimestampL:
		if t, ok := parseServerTime(raw, r == rTimestampZ, loc); ok {
			return t.UTC().AppendFormat(dst, time.RFC3339Nano)
		}
	case rPGHex:
		if len(raw) >= 2 && raw[0] == '\\' && raw[1] == 'x' {
			return append(dst, raw[2:]...)
		}
	case rHex:
		return hex.AppendEncode(dst, raw)
	}
	return append(dst, raw...)
}

func maxFloat(bits int) float64 {
	if bits == 32 {
		return 3.4028234663852886e38
	}
	return 1.7976931348623157e308
}

func appendBitInt(dst, raw []byte) []byte {
	if len(raw) <= 8 {
		var v uint64
		for _, b := range raw {
			v = v<<8 | uint64(b)
		}
		return strconv.AppendUint(dst, v, 10)
	}
	return new(big.Int).SetBytes(raw).Append(dst, 10)
}

// parseServerTime parses "YYYY-MM-DD HH:MM:SS[.ffffff]" followed, when zoned, by an
// offset "+HH[:MM[:SS]]" (PostgreSQL's ISO output). Without an offset the time is a
// wall-clock time in loc. Anything else (infinity, BC dates, years past 9999, MySQL's
// zero dates) is not parsed, and the value is kept as sent.
func parseServerTime(b []byte, zoned bool, loc *time.Location) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if i < len(b) && b[i] == '.' {
		j := i + 1
		scale := 100_000_000
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			if scale == 0 {
				return time.Time{}, false
			}
			nsec += int(b[j]-'0') * scale
			scale /= 10
			j++
		}
		if j == i+1 {
			return time.Time{}, false
		}
		i = j
	}
	l := loc
	if zoned {
		if i >= len(b) || (b[i] != '+' && b[i] != '-') {
			return time.Time{}, false
		}
		sign := 1
		if b[i] == '-' {
			sign = -1
		}
		rest := b[i+1:]
		off := 0
		for k, unit := range []int{3600, 60, 1} {
			if len(rest) == 0 {
				break
			}
			if k > 0 {
				if rest[0] != ':' {
					return time.Time{}, false
				}
				rest = rest[1:]
			}
			if len(rest) < 2 {
				return time.Time{}, false
			}
			v, ok := num(rest[:2])
			if !ok {
				return time.Time{}, false
			}
			off += v * unit
			rest = rest[2:]
		}
		if len(rest) != 0 {
			return time.Time{}, false
		}
		l = time.FixedZone("", sign*off)
		i = len(b)
	}
	if i != len(b) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, l)
	if t.Day() != day { // February 30th and the like
		return time.Time{}, false
	}
	return t, true
}
