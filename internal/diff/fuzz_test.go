package diff

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

var fuzzColumns = []Column{
	{Name: "s"},
	{Name: "s", Trim: true, IgnoreCase: true},
	{Name: "i", Type: TypeInteger},
	{Name: "d", Type: TypeDecimal},
	{Name: "t", Type: TypeTimestamp},
	{Name: "t", Type: TypeTimestamp, Location: time.FixedZone("X", -5*3600-1800), Precision: time.Millisecond},
	{Name: "dt", Type: TypeDate},
	{Name: "b", Type: TypeBoolean},
	{Name: "j", Type: TypeJSON},
}

// FuzzNormalize checks, for every type: no panic; canonical forms are fixed points;
// decimals agree with shopspring/decimal and are insensitive to zeros; timestamps agree
// with time.Parse on RFC 3339; canonical JSON is valid JSON and only valid JSON parses.
// On every text, the fast paths agree with the general ones (checkFastPaths), and
// decimals compare with tolerances as the decimal library does (checkWithin).
func FuzzNormalize(f *testing.F) {
	for i, s := range []string{"10.50", "-0.00", "1e3", "2024-01-02T03:04:05.123456789+01:00", "2024-02-29", "YES", `{"b":[1,2.0],"a":"\u00e9"}`, " ÉCOLE ", "0001-01-01 00:00:00"} {
		f.Add(uint8(i), s)
	}
	for i, s := range []string{"0010.500", "-007.250", ".5", "999999999999999999.99", "2026-02-29", "2000-02-29",
		"2026-09-20T15:54:35Z", "2026-09-20 15:54:35.1234567891", "2024-02-29T23:59:59.999+14:00", "2026-09-20T24:00:00Z",
		"0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "2026-09-20t15:54:35z"} {
		f.Add(uint8(3+i*len(fuzzColumns)), s) // decimal
		f.Add(uint8(4+i*len(fuzzColumns)), s) // timestamp
		f.Add(uint8(6+i*len(fuzzColumns)), s) // date
	}
	f.Fuzz(func(t *testing.T, kind uint8, text string) {
		checkFastPaths(t, text)
		checkFastPaths(t, strings.TrimSpace(text))
		col := fuzzColumns[int(kind)%len(fuzzColumns)]
		c, err := col.Normalize(text)
		if err != nil {
			return
		}
		again, err := col.Normalize(c)
		if err != nil || again != c {
			t.Fatalf("%s: Normalize(%q) = %q, then %q, %v", col.Type, text, c, again, err)
		}
		eq, err := col.Equal(text, c)
		if err != nil || !eq {
			t.Fatalf("%s: %q not equal to its canonical %q (%v)", col.Type, text, c, err)
		}
		switch col.Type.normalized() {
		case TypeInteger, TypeDecimal:
			checkDecimal(t, col, text, c)
			for _, o := range []string{"0", "0.01", "-10.005", "999999999999999999", c} {
				checkWithin(t, c, o)
			}
		case TypeTimestamp:
			if col.Location != nil {
				break
			}
			if tm, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(text)); err == nil {
				want := tm.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
				if c != want {
					t.Fatalf("timestamp %q: %q, time.Parse says %q", text, c, want)
				}
			}
		case TypeBoolean:
			if c != "true" && c != "false" {
				t.Fatalf("boolean %q -> %q", text, c)
			}
		case TypeJSON:
			if !json.Valid([]byte(c)) {
				t.Fatalf("json %q -> invalid %q", text, c)
			}
			if !json.Valid([]byte(strings.TrimSpace(text))) {
				t.Fatalf("json %q accepted but encoding/json rejects it", text)
			}
		}
	})
}

func checkDecimal(t *testing.T, col Column, text, c string) {
	t.Helper()
	// Zeros never change the canonical form.
	variants := []string{}
	neg := strings.HasPrefix(c, "-")
	abs := strings.TrimPrefix(c, "-")
	sign := ""
	if neg {
		sign = "-"
	}
	variants = append(variants, sign+"000"+abs, "+"+c)
	if col.Type == TypeDecimal {
		if strings.Contains(c, ".") {
			variants = append(variants, c+"000")
		} else {
			variants = append(variants, c+".000", c+"e0", c+"0e-1")
		}
	}
	for _, v := range variants {
		if v == "+"+c && neg {
			continue
		}
		got, err := col.Normalize(v)
		if err != nil || got != c {
			t.Fatalf("%s: variant %q of %q -> %q, %v", col.Type, v, c, got, err)
		}
	}
	// Agreement with an arbitrary-precision library (when its exponent is sane).
	trimmed := strings.TrimSpace(text)
	if i := strings.IndexAny(trimmed, "eE"); i >= 0 && len(trimmed)-i > 5 {
		return
	}
	want, err := decimal.NewFromString(trimmed)
	if err != nil {
		return
	}
	got, err := decimal.NewFromString(c)
	if err != nil || !got.Equal(want) {
		t.Fatalf("%s: %q -> %q, shopspring says %s", col.Type, text, c, want)
	}
}
