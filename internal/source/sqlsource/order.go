package sqlsource

import (
	"fmt"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// orderClass is how a column can be sorted in the database so that the order is the
// engine's order of the rendered values.
type orderClass uint8

const (
	oText      orderClass = iota // character string: byte order under a binary collation
	oCastText                    // other types read as strings (uuid, enum, time, arrays): by their text
	oBinary                      // bytes rendered as hex: the bytes' order is the hex text's order
	oInteger                     //
	oDecimal                     // exact decimal
	oFloat                       // binary floating point
	oDate                        //
	oTimestamp                   //
	oBoolean                     //
	oNone                        // json and the like: not a key
)

func quoteIdent(d Driver, name string) string {
	if d == MySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// valueExpr is the expression a column's values are read through: the column, or its
// cast (colInfo.cast).
func valueExpr(d Driver, c colInfo) string {
	q := quoteIdent(d, c.Name)
	switch {
	case c.cast == "":
		return q
	case d == MySQL && c.cast == "DOUBLE":
		return "(" + q + " + 0E0)" // CAST(… AS DOUBLE) needs MySQL 8.0.17
	}
	return "CAST(" + q + " AS " + c.cast + ")"
}

func quoteQualified(d Driver, parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = quoteIdent(d, p)
	}
	return strings.Join(q, ".")
}

// byteText is an expression whose order is the byte order of c's text in UTF-8.
//
// PostgreSQL: COLLATE "C" compares with memcmp (then length), which for UTF-8 is code
// point order; types that are not character strings are cast to text first. MySQL:
// the text converted to utf8mb4, then to a binary string, which compares byte by byte
// with no padding (utf8mb4_bin would be PAD SPACE: "a" = "a " and "a\t" < "a").
func byteText(d Driver, c colInfo) string {
	q := valueExpr(d, c)
	if d == MySQL {
		return "CAST(CONVERT(" + q + " USING utf8mb4) AS BINARY)"
	}
	if c.order == oText {
		return q + ` COLLATE "C"`
	}
	return "(" + q + `)::text COLLATE "C"`
}

// orderExpr is the ORDER BY term for key column c declared as type t (empty: the
// column's discovered type), sorting rows as the engine orders that key: strings by
// the bytes of their text, numbers by value, dates and timestamps in time, false
// before true.
func orderExpr(d Driver, c colInfo, t diff.Type) (string, error) {
	if t == "" {
		t = c.Type
	}
	q := valueExpr(d, c)
	bad := func(why string) error {
		return fmt.Errorf("key column %q (%s) cannot be ordered as the engine orders %s values: %s", c.Name, c.NativeType, t, why)
	}
	switch t {
	case diff.TypeString, "":
		switch c.order {
		case oText, oCastText:
			return byteText(d, c), nil
		case oBinary:
			return q, nil // hex text order = byte order
		case oInteger, oDecimal, oDate, oBoolean:
			if d == MySQL && c.render != rText {
				// BIT and TINYINT(1): sorted by the text this package renders of them
				// ("10" before "9", "2" before "true"), not by the server's.
				return "CAST(" + renderedText(d, c) + " AS BINARY)", nil
			}
			// Their text in the database is the text this package renders.
			return byteText(d, c), nil
		}
		return "", bad("its text is rendered by this reader, not by the database; declare its type in the spec, or read it unordered (hash strategy)")
	case diff.TypeInteger, diff.TypeDecimal:
		switch c.order {
		case oInteger, oDecimal, oFloat:
			return q, nil
		}
		return "", bad("it is not a numeric column; declare it string, or read it unordered")
	case diff.TypeDate, diff.TypeTimestamp:
		switch c.order {
		case oDate, oTimestamp:
			return q, nil
		}
		return "", bad("it is not a date or timestamp column; declare it string, or read it unordered")
	case diff.TypeBoolean:
		if c.order == oBoolean {
			return q, nil
		}
		return "", bad("it is not a boolean column")
	}
	return "", bad("not a key type")
}
