package diff

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// Fast paths stand in for general ones on common forms: they must give the same result
// whenever they give one. checkFastPaths asserts it for one text (FuzzNormalize calls it
// too).

var fastLocations = []*time.Location{nil, time.UTC, time.FixedZone("X", 5*3600+1800), time.FixedZone("Y", -14*3600)}

// Precisions as compileColumn accepts them: dividing a second or whole seconds.
var fastPrecisions = []int64{1, 10, 1e3, 4e3, 1e6, 1e9, 60e9, 3600e9}

func checkFastPaths(t testing.TB, s string) {
	t.Helper()
	for _, intOnly := range []bool{false, true} {
		slow, sp := appendCanonDecimalSlow(nil, s, intOnly, false)
		if fast, ok := appendPlainDecimal(nil, s, intOnly); ok && (sp != "" || string(fast) != string(slow)) {
			t.Fatalf("decimal %q (int %v): fast %q, slow %q %q", s, intOnly, fast, slow, sp)
		}
		if _, ok := appendPlainDecimal(nil, s, intOnly); isPlainDecimal(s, intOnly) != ok {
			t.Fatalf("decimal %q (int %v): plain %v, appendPlainDecimal takes it: %v", s, intOnly, !ok, ok)
		}
		if isCanonDecimal(s, intOnly) && (sp != "" || string(slow) != s) {
			t.Fatalf("decimal %q (int %v): canonical says the fast check, slow says %q %q", s, intOnly, slow, sp)
		}
	}
	slowDate, dp := appendDateSlow(nil, s)
	if isPlainDate(s) && (dp != "" || string(slowDate) != s) {
		t.Fatalf("date %q: plain says the fast check, slow says %q %q", s, slowDate, dp)
	}
	for _, loc := range fastLocations {
		for _, prec := range fastPrecisions {
			ss, sn, sp := parseTimestampSlow(s, loc, prec)
			if fs, fn, ok := parseTimestampFast(s, loc, prec); ok && (sp != "" || fs != ss || fn != sn) {
				t.Fatalf("timestamp %q (loc %v, prec %d): fast %d.%09d, slow %d.%09d %q", s, loc, prec, fs, fn, ss, sn, sp)
			}
		}
		if validTimestampFast(s, loc) {
			if _, _, sp := parseTimestampSlow(s, loc, 1); sp != "" {
				t.Fatalf("timestamp %q (loc %v): valid says the fast check, slow says %q", s, loc, sp)
			}
		}
	}
}

// Tolerances the int64 comparison must decide as the decimal library does.
var fastTolerances = []Column{
	{Type: TypeDecimal, AbsTolerance: "0.01"},
	{Type: TypeDecimal, AbsTolerance: "0"},
	{Type: TypeDecimal, AbsTolerance: "1e-18"},
	{Type: TypeDecimal, AbsTolerance: "123456789.123456789"},
	{Type: TypeDecimal, AbsTolerance: "100000000000000000000"}, // too large for int64: library
	{Type: TypeDecimal, RelTolerance: "0.001"},
	{Type: TypeDecimal, RelTolerance: "1"},
	{Type: TypeDecimal, RelTolerance: "0.000000000000000001"},
	{Type: TypeDecimal, AbsTolerance: "0.5", RelTolerance: "0.1"},
	{Type: TypeInteger, AbsTolerance: "2"},
}

var fastTolCompiled = func() []*column {
	var out []*column
	for _, c := range fastTolerances {
		c.Name = "c"
		cc, err := compileColumn(c)
		if err != nil {
			panic(err)
		}
		out = append(out, cc)
	}
	return out
}()

// checkWithin asserts that withinNumeric (int64 when it can) agrees with the decimal
// library on two canonical decimals.
func checkWithin(t testing.TB, a, b string) {
	t.Helper()
	for _, c := range fastTolCompiled {
		fast := c.withinNumeric([]byte(a), []byte(b))
		slow := c.withinNumericSlow([]byte(a), []byte(b))
		if fast != slow {
			t.Fatalf("within(%s, %s) abs %q rel %q: %v, the decimal library says %v", a, b, c.AbsTolerance, c.RelTolerance, fast, slow)
		}
	}
}

func TestFastPathsAgree(t *testing.T) {
	texts := []string{
		// decimals
		"0", "-0", "+0", "00", "-0.00", "0.0", ".0", "0.", ".", "-", "+", "", "-.5", "+.5", ".5", "5.",
		"10.50", "10.5", "0010.500", "-007.250", "+12", "12", "-12", "1.05e1", "1e3", "1E-3", "0.000001", "-0.000100",
		"12345678901234567890.123456789", "999999999999999999", "1000000000000000000", "-999999999999999999.9",
		"1,5", "1.2.3", "--1", "1-", " 1", "1 ", "NaN", "Inf", "0x10", "١٢", // Arabic-Indic digits
		strings.Repeat("9", 1000), strings.Repeat("9", 1001), "0." + strings.Repeat("0", 998) + "1", "0." + strings.Repeat("0", 1000) + "1",
		"1." + strings.Repeat("0", 5000), strings.Repeat("0", 2000) + "1", "-" + strings.Repeat("1", 999),
		// dates
		"2024-02-29", "2026-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2100-02-29", "0001-01-01", "0000-01-01",
		"9999-12-31", "2024-04-31", "2024-04-30", "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32", "2024-1-01",
		"2024/01/01", "2024-01-01 ", "20240101", "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "2024-01-01T10:00:00",
		"2024-01-01T00:00:00+01:00", "2024-01-0a", "-024-01-01",
		// timestamps
		"2026-09-20T15:54:35Z", "2026-09-20t15:54:35z", "2026-09-20 15:54:35", "2026-09-20T15:54:35",
		"2026-09-20T15:54:35.5Z", "2026-09-20T15:54:35.123456789Z", "2026-09-20T15:54:35.1234567891234Z",
		"2026-09-20T15:54:35.999999999999+14:00", "2026-09-20T15:54:35,5Z", "2026-09-20T15:54:35.Z",
		"2026-09-20T15:54:35+14:00", "2026-09-20T15:54:35-14:00", "2026-09-20T15:54:35+23:59", "2026-09-20T15:54:35+24:00",
		"2026-09-20T15:54:35-00:00", "2026-09-20T15:54:35+05:60", "2026-09-20T15:54:35+0530", "2026-09-20T15:54:35+05",
		"2026-09-20T15:54:35 +05:30", "2026-09-20T15:54:35 UTC", "2026-09-20T15:54:35 Z", "2026-09-20T15:54:35Zx",
		"2026-09-20T24:00:00Z", "2026-09-20T23:60:00Z", "2026-09-20T23:59:60Z", "2026-09-20T23:59:59Z", "2026-09-20T00:00:00Z",
		"2026-09-20T15:54Z", "2026-09-20T15:54", "2026-09-20T5:54:35Z", "2026-09-20X15:54:35Z",
		"2024-02-29T12:00:00Z", "2026-02-29T12:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01",
		"0001-01-01T00:00:00-00:01", "0001-01-01T00:00:00", "0002-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
		"9999-12-31T23:59:59-00:01", "9999-12-31T23:59:59+00:01", "9999-12-31T23:59:59.999999999Z", "9998-12-31T23:59:59-14:00",
		"1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z", "0000-12-31T23:59:59Z",
	}
	for _, s := range texts {
		checkFastPaths(t, s)
	}
	// Every valid plain date of a few years and every form of one timestamp.
	for _, y := range []int{1, 4, 100, 400, 1900, 2000, 2023, 2024, 9999} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				s := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
				checkFastPaths(t, s)
				checkFastPaths(t, s+"T23:59:59.5Z")
			}
		}
	}
	// The fast paths take the common forms.
	for _, s := range []string{"10.5", "-0.25", "2024-02-29"} {
		if !isCanonDecimal(s, false) && !isPlainDate(s) {
			t.Errorf("%q: no fast path", s)
		}
	}
	for _, s := range []string{"2026-09-20T15:54:35Z", "2026-09-20 15:54:35.123456", "2026-09-20T15:54:35+14:00"} {
		if _, _, ok := parseTimestampFast(s, nil, 1000); !ok || !validTimestampFast(s, nil) {
			t.Errorf("%q: no fast path", s)
		}
	}
	if _, ok := appendPlainDecimal(nil, "10.50", false); !ok {
		t.Error("10.50: no fast path")
	}
}

func TestWithinAgrees(t *testing.T) {
	vals := []string{"0", "0.01", "-0.01", "0.005", "10", "10.01", "10.02", "-10.01", "1000", "1010", "1010.000001",
		"999999999999999999", "-999999999999999999", "0.000000000000000001", "0.999999999999999999",
		"123456789.123456789", "12345678901234567890", "-1", "1", "100", "101", "101.01", "0.0001"}
	for _, a := range vals {
		for _, b := range vals {
			checkWithin(t, a, b)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a := randDecimal(r)
		b := a
		if r.IntN(4) > 0 {
			b = randDecimal(r)
		}
		checkWithin(t, a, b)
	}
}

// randDecimal returns a canonical decimal of up to 20 digits, often near others.
func randDecimal(r *rand.Rand) string {
	d := decimal.New(r.Int64N(2_000_000)-1_000_000, -int32(r.IntN(4)))
	switch r.IntN(4) {
	case 0:
		d = decimal.New(r.Int64(), -int32(r.IntN(20)))
	case 1:
		d = d.Add(decimal.New(r.Int64N(3)-1, -2))
	}
	if r.IntN(2) == 0 {
		d = d.Neg()
	}
	c, p := appendCanonDecimal(nil, d.String(), false, false)
	if p != "" {
		panic(p)
	}
	return string(c)
}

func TestSameText(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 40; n++ {
		a := make([]byte, n)
		for i := range a {
			a[i] = byte('0' + r.IntN(10))
		}
		s := string(a)
		if !sameText(s, string(a)) {
			t.Fatalf("%q not the same as itself", s)
		}
		if n > 0 && sameText(s, s[:n-1]) {
			t.Fatalf("%q the same as %q", s, s[:n-1])
		}
		for i := range a {
			for _, bit := range []byte{1, 2, 4, 0x10, 0x80} {
				b := []byte(s)
				b[i] ^= bit
				if sameText(s, string(b)) {
					t.Fatalf("%q the same as %q", s, b)
				}
			}
		}
	}
	// Digits that differ in bits only one way (the XOR of one half hiding in the other).
	if sameText("13705.60", "13707.60") || sameText("CH56763900539166", "CH56763900539167") {
		t.Fatal("different texts are the same")
	}
}

// The word-at-a-time checks (isPlainDate, isUTCSecond) must say exactly what a check
// byte by byte says, on every text of their length, and isPlainDecimal exactly which
// texts appendPlainDecimal takes: random texts near the forms, one or two bytes replaced
// by digits, separators and bytes around the digits' range.
func TestWordChecksExact(t *testing.T) {
	plainDate := func(s string) bool {
		if len(s) != 10 || s[4] != '-' || s[7] != '-' {
			return false
		}
		for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		y := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
		m, d := int(s[5]-'0')*10+int(s[6]-'0'), int(s[8]-'0')*10+int(s[9]-'0')
		return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
	}
	utcSecond := func(s string) bool {
		var f tsFast
		return len(s) == 20 && s[10] == 'T' && s[19] == 'Z' && scanTimestampFast(s, &f)
	}
	subst := []byte("0123456789-:TZtz /.+\x00\x2f\x3a\x3f\x40\xc0\xf9\xfa\xff")
	rng := rand.New(rand.NewPCG(1, 2))
	mutate := func(base string) string {
		b := []byte(base)
		for range 1 + rng.IntN(2) {
			b[rng.IntN(len(b))] = subst[rng.IntN(len(subst))]
		}
		return string(b)
	}
	var valid [2]int
	for i := range 200000 {
		d := fmt.Sprintf("%04d-%02d-%02d", rng.IntN(10000), rng.IntN(14), rng.IntN(33))
		ts := fmt.Sprintf("%sT%02d:%02d:%02dZ", d, rng.IntN(25), rng.IntN(61), rng.IntN(61))
		if i%2 == 1 {
			d, ts = mutate(d), mutate(ts)
		}
		if got, want := isPlainDate(d), plainDate(d); got != want {
			t.Fatalf("isPlainDate(%q) = %v, byte by byte %v", d, got, want)
		} else if got {
			valid[0]++
		}
		if got, want := isUTCSecond(ts), utcSecond(ts); got != want {
			t.Fatalf("isUTCSecond(%q) = %v, byte by byte %v", ts, got, want)
		} else if got {
			valid[1]++
		}
		dec := fmt.Sprintf("%d.%02d", rng.IntN(20000)-5000, rng.IntN(100))
		dec = dec[:1+rng.IntN(len(dec))]
		if i%2 == 1 {
			dec = mutate(dec)
		}
		for _, intOnly := range []bool{false, true} {
			if _, ok := appendPlainDecimal(nil, dec, intOnly); isPlainDecimal(dec, intOnly) != ok {
				t.Fatalf("isPlainDecimal(%q, %v) = %v, appendPlainDecimal takes it: %v", dec, intOnly, !ok, ok)
			}
		}
	}
	if valid[0] < 10000 || valid[1] < 10000 {
		t.Fatalf("too few valid texts drawn: %v", valid)
	}
}
