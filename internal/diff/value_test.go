package diff

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	str := Column{Name: "c"}
	integer := Column{Name: "c", Type: TypeInteger}
	dec := Column{Name: "c", Type: TypeDecimal}
	ts := Column{Name: "c", Type: TypeTimestamp}
	date := Column{Name: "c", Type: TypeDate}
	boolean := Column{Name: "c", Type: TypeBoolean}
	js := Column{Name: "c", Type: TypeJSON}
	tests := []struct {
		name string
		col  Column
		in   string
		want string // canonical text; "" with bad set means an error
		bad  string // substring of the error
	}{
		{"date with a time of day past the nanosecond", date, "2024-01-01T00:00:00.0000000001", "", "time of day"},
		{"date with a long zero fraction", date, "2024-01-01T00:00:00.0000000000Z", "2024-01-01", ""},
		{"json 512 nested empty arrays", js, strings.Repeat("[", 512) + strings.Repeat("]", 512), strings.Repeat("[", 512) + strings.Repeat("]", 512), ""},
		{"json 513 nested empty arrays", js, strings.Repeat("[", 513) + strings.Repeat("]", 513), "", "nested too deeply"},
		{"json 513 nested arrays around a value", js, strings.Repeat("[", 513) + "1" + strings.Repeat("]", 513), "", "nested too deeply"},
		{"json 513 nested empty objects", js, strings.Repeat(`{"a":`, 512) + "{}" + strings.Repeat("}", 512), "", "nested too deeply"},
		{"decimal 1000 zeros after the point", dec, "0." + strings.Repeat("0", 1000) + "1", "0." + strings.Repeat("0", 1000) + "1", ""},
		{"decimal 1001 zeros after the point", dec, "0." + strings.Repeat("0", 1001) + "1", "", "more than 1000 places"},
		{"decimal 1e-1001", dec, "1e-1001", "0." + strings.Repeat("0", 1000) + "1", ""},
		{"decimal 1e-1002", dec, "1e-1002", "", "more than 1000 places"},
		{"string as is", str, "  Hello ", "  Hello ", ""},
		{"string empty", str, "", "", ""},
		{"string trim", Column{Name: "c", Trim: true}, " \t Hello\n", "Hello", ""},
		{"string fold ascii", Column{Name: "c", IgnoreCase: true}, "HeLLo", "hello", ""},
		{"string fold unicode", Column{Name: "c", IgnoreCase: true}, "ÉCOLE Σ", "école σ", ""},
		{"string fold kelvin", Column{Name: "c", IgnoreCase: true}, "\u212a", "k", ""},
		{"string fold keeps invalid utf8", Column{Name: "c", IgnoreCase: true}, "A\xffÉ", "a\xffé", ""},
		{"string unicode untouched", str, "naïve 日本", "naïve 日本", ""},

		{"integer", integer, "42", "42", ""},
		{"integer plus and zeros", integer, " +0042 ", "42", ""},
		{"integer negative zero", integer, "-000", "0", ""},
		{"integer big", integer, "123456789012345678901234567890", "123456789012345678901234567890", ""},
		{"integer 1000 digits", integer, strings.Repeat("7", 1000), strings.Repeat("7", 1000), ""},
		{"integer 1001 digits", integer, strings.Repeat("7", 1001), "", "out of range"},
		{"integer 1001 digits with zeros", integer, "00" + strings.Repeat("7", 1001), "", "out of range"},
		{"decimal 4096 digits", dec, "0." + strings.Repeat("1", 4096), "0." + strings.Repeat("1", 4096), ""},
		{"decimal 4097 digits", dec, "0." + strings.Repeat("1", 4097), "", "too many digits"},
		{"integer fraction", integer, "4.0", "", "not a valid integer"},
		{"integer exponent", integer, "1e3", "", "not a valid integer"},
		{"integer empty", integer, "", "", "not a valid integer"},
		{"integer text", integer, "12a", "", "not a valid integer"},

		{"decimal trailing zeros", dec, "10.50", "10.5", ""},
		{"decimal integer", dec, "10.000", "10", ""},
		{"decimal leading zeros", dec, "-007.250", "-7.25", ""},
		{"decimal point only frac", dec, ".5", "0.5", ""},
		{"decimal point only int", dec, "5.", "5", ""},
		{"decimal zero", dec, "-0.000", "0", ""},
		{"decimal exponent", dec, "1.05e1", "10.5", ""},
		{"decimal negative exponent", dec, "125E-5", "0.00125", ""},
		{"decimal exponent big", dec, "-1.5e+3", "-1500", ""},
		{"decimal exponent zero mantissa", dec, "0e999999", "0", ""},
		{"decimal exponent range", dec, "1e5000", "", "out of range"},
		{"decimal dot", dec, ".", "", "not a valid decimal"},
		{"decimal comma", dec, "1,5", "", "not a valid decimal"},
		{"decimal nan", dec, "NaN", "", "not a valid decimal"},
		{"decimal two signs", dec, "--1", "", "not a valid decimal"},
		{"decimal dangling exponent", dec, "1e", "", "not a valid decimal"},

		{"timestamp rfc3339", ts, "2024-03-01T10:20:30Z", "2024-03-01T10:20:30Z", ""},
		{"timestamp offset", ts, "2024-03-01T12:20:30.5+02:00", "2024-03-01T10:20:30.5Z", ""},
		{"timestamp space no zone", ts, "2024-03-01 10:20:30.123456789", "2024-03-01T10:20:30.123456Z", ""},
		{"timestamp pg zone", ts, "2024-03-01 10:20:30.1-03", "2024-03-01T13:20:30.1Z", ""},
		{"timestamp compact zone", ts, "2024-03-01 10:20:30 +0530", "2024-03-01T04:50:30Z", ""},
		{"timestamp utc word", ts, "2024-03-01 10:20:30 UTC", "2024-03-01T10:20:30Z", ""},
		{"timestamp no seconds", ts, "2024-03-01T10:20", "2024-03-01T10:20:00Z", ""},
		{"timestamp date only", ts, "2024-03-01", "2024-03-01T00:00:00Z", ""},
		{"timestamp location", Column{Name: "c", Type: TypeTimestamp, Location: paris}, "2024-07-01 12:00:00", "2024-07-01T10:00:00Z", ""},
		{"timestamp location ignored with zone", Column{Name: "c", Type: TypeTimestamp, Location: paris}, "2024-07-01 12:00:00Z", "2024-07-01T12:00:00Z", ""},
		{"timestamp precision ms", Column{Name: "c", Type: TypeTimestamp, Precision: time.Millisecond}, "2024-03-01T10:20:30.123999Z", "2024-03-01T10:20:30.123Z", ""},
		{"timestamp precision ns", Column{Name: "c", Type: TypeTimestamp, Precision: time.Nanosecond}, "2024-03-01T10:20:30.123456789Z", "2024-03-01T10:20:30.123456789Z", ""},
		{"timestamp precision hour", Column{Name: "c", Type: TypeTimestamp, Precision: time.Hour}, "1969-12-31T23:59:59Z", "1969-12-31T23:00:00Z", ""},
		{"timestamp bad month", ts, "2024-13-01T00:00:00Z", "", "not a valid timestamp"},
		{"timestamp bad day", ts, "2023-02-29T00:00:00Z", "", "not a valid timestamp"},
		{"timestamp leap day", ts, "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z", ""},
		{"timestamp bad hour", ts, "2024-01-01T24:00:00Z", "", "not a valid timestamp"},
		{"timestamp garbage zone", ts, "2024-01-01T10:00:00 CET", "", "not a valid timestamp"},
		{"timestamp out of range", ts, "0001-01-01T00:00:00+01:00", "", "out of range"},
		{"timestamp max", ts, "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z", ""},

		{"date", date, "2024-03-01", "2024-03-01", ""},
		{"date zero time", date, "2024-03-01 00:00:00.000", "2024-03-01", ""},
		{"date with time", date, "2024-03-01T10:00:00", "", "time of day"},
		{"date bad", date, "2024-3-1", "", "not a valid date"},

		{"bool true", boolean, "TRUE", "true", ""},
		{"bool t", boolean, "t", "true", ""},
		{"bool yes", boolean, " Yes ", "true", ""},
		{"bool 1", boolean, "1", "true", ""},
		{"bool f", boolean, "F", "false", ""},
		{"bool no", boolean, "no", "false", ""},
		{"bool 0", boolean, "0", "false", ""},
		{"bool bad", boolean, "2", "", "not a valid boolean"},

		{"json sorted keys", js, ` { "b" : [1, 2.50, {"z":null,"a":true}], "a":"x" } `, `{"a":"x","b":[1,2.5,{"a":true,"z":null}]}`, ""},
		{"json numbers as decimals", js, `[1.0, 1e2, -0, 0.10]`, `[1,100,0,0.1]`, ""},
		{"json escapes", js, `"\u00e9\n\"\/\ud83d\ude00"`, `"é\n\"/😀"`, ""},
		{"json lone surrogate", js, `"\ud800x"`, "", "lone surrogate"},
		{"json high surrogate then not a low one", js, `"\ud800\u0041"`, "", "lone surrogate"},
		{"json lone low surrogate", js, `"\udc00"`, "", "lone surrogate"},
		{"json surrogate pair", js, `"\ud83d\ude00"`, "\"\U0001F600\"", ""},
		{"json invalid utf8 in a string", js, "\"a\xffb\"", "", "not valid UTF-8"},
		{"json invalid utf8 in a name", js, "{\"a\xfe\":1}", "", "not valid UTF-8"},
		{"json scalar", js, `null`, `null`, ""},
		{"json duplicate key", js, `{"a":1,"a":2}`, "", "duplicate object key"},
		{"json trailing comma", js, `[1,]`, "", "not valid JSON"},
		{"json leading zero", js, `01`, "", "not valid JSON"},
		{"json garbage after", js, `{} x`, "", "not valid JSON"},
		{"json deep", js, strings.Repeat("[", 600) + strings.Repeat("]", 600), "", "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.col.Normalize(tt.in)
			if tt.bad != "" {
				var ve *ValueError
				if err == nil || !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("Normalize(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.bad)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			again, err := tt.col.Normalize(got)
			if err != nil || again != got {
				t.Fatalf("Normalize(Normalize(%q)) = %q, %v; want %q (idempotent)", tt.in, again, err, got)
			}
		})
	}
}

func TestEqualRules(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tests := []struct {
		name string
		col  Column
		a, b string
		want bool
	}{
		{"decimal scale", Column{Type: TypeDecimal}, "10.5", "10.50", true},
		{"decimal differ", Column{Type: TypeDecimal}, "10.5", "10.51", false},
		{"decimal exact huge", Column{Type: TypeDecimal}, "12345678901234567890.123456789", "12345678901234567890.123456788", false},
		{"string vs decimal text", Column{}, "10.5", "10.50", false},
		{"abs inside", Column{Type: TypeDecimal, AbsTolerance: "0.01"}, "10.00", "10.005", true},
		{"abs edge inclusive", Column{Type: TypeDecimal, AbsTolerance: "0.01"}, "10.00", "10.01", true},
		{"abs edge inclusive negative", Column{Type: TypeDecimal, AbsTolerance: "0.01"}, "-10.01", "-10.00", true},
		{"abs outside", Column{Type: TypeDecimal, AbsTolerance: "0.01"}, "10.00", "10.0100001", false},
		{"abs zero", Column{Type: TypeDecimal, AbsTolerance: "0"}, "1", "1.0", true},
		{"abs integer", Column{Type: TypeInteger, AbsTolerance: "2"}, "100", "102", true},
		{"abs integer outside", Column{Type: TypeInteger, AbsTolerance: "2"}, "100", "103", false},
		{"rel edge inclusive", Column{Type: TypeDecimal, RelTolerance: "0.01"}, "100", "101", true},
		{"rel uses max", Column{Type: TypeDecimal, RelTolerance: "0.01"}, "101", "100", true},
		{"rel outside", Column{Type: TypeDecimal, RelTolerance: "0.01"}, "100", "101.02", false},
		{"rel zero vs zero", Column{Type: TypeDecimal, RelTolerance: "0.5"}, "0", "0.0", true},
		{"rel zero vs nonzero", Column{Type: TypeDecimal, RelTolerance: "0.5"}, "0", "0.0001", false},
		{"rel opposite signs", Column{Type: TypeDecimal, RelTolerance: "1"}, "-1", "1", false},
		{"abs or rel: rel wins", Column{Type: TypeDecimal, AbsTolerance: "0.001", RelTolerance: "0.01"}, "1000", "1010", true},
		{"abs or rel: abs wins", Column{Type: TypeDecimal, AbsTolerance: "0.5", RelTolerance: "0.0001"}, "1", "1.5", true},
		{"abs or rel: neither", Column{Type: TypeDecimal, AbsTolerance: "0.5", RelTolerance: "0.1"}, "1", "1.6", false},
		{"timestamps across zones", Column{Type: TypeTimestamp}, "2024-01-01T10:00:00+02:00", "2024-01-01 08:00:00Z", true},
		{"timestamp location vs utc", Column{Type: TypeTimestamp, Location: ny}, "2024-01-01 03:00:00", "2024-01-01T08:00:00Z", true},
		{"timestamp sub-precision", Column{Type: TypeTimestamp}, "2024-01-01T10:00:00.0000011Z", "2024-01-01T10:00:00.0000019Z", true},
		{"timestamp precision differs", Column{Type: TypeTimestamp}, "2024-01-01T10:00:00.000001Z", "2024-01-01T10:00:00.000002Z", false},
		{"timestamp tolerance edge", Column{Type: TypeTimestamp, TimeTolerance: time.Second}, "2024-01-01T10:00:00Z", "2024-01-01T10:00:01Z", true},
		{"timestamp tolerance edge reversed", Column{Type: TypeTimestamp, TimeTolerance: time.Second}, "2024-01-01T10:00:01Z", "2024-01-01T10:00:00Z", true},
		{"timestamp tolerance outside", Column{Type: TypeTimestamp, TimeTolerance: time.Second}, "2024-01-01T10:00:00Z", "2024-01-01T10:00:01.000001Z", false},
		{"timestamp tolerance across midnight", Column{Type: TypeTimestamp, TimeTolerance: time.Minute}, "2023-12-31T23:59:30Z", "2024-01-01T00:00:30Z", true},
		{"date tolerance", Column{Type: TypeDate, TimeTolerance: 24 * time.Hour}, "2024-02-28", "2024-02-29", true},
		{"date tolerance outside", Column{Type: TypeDate, TimeTolerance: 24 * time.Hour}, "2024-02-28", "2024-03-01", false},
		{"trim", Column{Trim: true}, " a ", "a", true},
		{"no trim", Column{}, " a ", "a", false},
		{"ignore case", Column{IgnoreCase: true}, "Straße", "STRAßE", true},
		{"ignore case greek final sigma", Column{IgnoreCase: true}, "ΟΔΟΣ", "οδος", true},
		{"case sensitive", Column{}, "a", "A", false},
		{"unicode forms differ", Column{}, "\u00e9", "e\u0301", false},
		{"bool forms", Column{Type: TypeBoolean}, "yes", "T", true},
		{"bool differ", Column{Type: TypeBoolean}, "no", "1", false},
		{"json key order", Column{Type: TypeJSON}, `{"a":1,"b":{"c":[1,2]}}`, `{"b":{"c":[1.0,2e0]},"a":1}`, true},
		{"json array order matters", Column{Type: TypeJSON}, `[1,2]`, `[2,1]`, false},
		{"json unicode escapes", Column{Type: TypeJSON}, `{"k":"\u00e9"}`, `{"k":"é"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.col.Name = "c"
			got, err := tt.col.Equal(tt.a, tt.b)
			if err != nil || got != tt.want {
				t.Fatalf("Equal(%q, %q) = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
			}
		})
	}
}

func TestCmpDecimalOrder(t *testing.T) {
	vals := []string{"-100", "-10.5", "-10.05", "-1", "-0.5", "-0.05", "0", "0.05", "0.5", "0.51", "0.6", "1", "9.99", "10", "10.05", "10.5", "100"}
	for i, a := range vals {
		for j, b := range vals {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := cmpDecimal([]byte(a), []byte(b)); got != want {
				t.Errorf("cmpDecimal(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestMask(t *testing.T) {
	c, _ := compileColumn(Column{Name: "ssn", Type: TypeDecimal, Sensitive: true})
	c.maskKey = testMaskKey
	a, b := c.mask("10.50"), c.mask("10.5")
	if a != b || !strings.HasPrefix(a, "***") || len(a) != 19 {
		t.Fatalf("mask = %q, %q; want equal ***xxxxxxxxxxxxxxxx", a, b)
	}
	// HMAC-SHA256 of "10.5" under testMaskKey starts with these 16 hex digits (Python's
	// hmac module says so).
	if want := "***a5cfdd86b6254a5b"; a != want {
		t.Fatalf("mask = %q, want %q", a, want)
	}
	if c.mask("abc") == c.mask("abd") {
		t.Fatal("different invalid values mask equally")
	}
	// Another key, other masks: a mask cannot be reversed by hashing candidate values
	// without the key.
	c.maskKey = []byte("another clearhouse test mask key!")
	if got := c.mask("10.5"); got == a {
		t.Fatalf("mask under another key = %q, the same as under testMaskKey", got)
	}
}

// A run without a mask key draws one: its masks are not those of an empty key, and
// two runs mask differently.
func TestMaskKeyDrawnPerRun(t *testing.T) {
	cols := []string{"id", "v"}
	masks := map[string]bool{}
	for range 2 {
		spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v", Sensitive: true}}}
		var got Collect
		_, err := Run(t.Context(), spec, newSliceReader("s", cols, [][]Cell{row("1", "x")}), newSliceReader("t", cols, [][]Cell{row("1", "y")}), &got)
		if err != nil || len(got.Discrepancies) != 1 {
			t.Fatalf("run: %v, %v", got.Discrepancies, err)
		}
		m := got.Discrepancies[0].Columns[0].Source.Text
		if m == maskText(nil, "x") || masks[m] {
			t.Fatalf("mask %q: the empty key's, or the same as another run's", m)
		}
		masks[m] = true
	}
}

func TestMaskKeyTooShort(t *testing.T) {
	err := Spec{Keys: []Column{{Name: "id"}}, MaskKey: []byte("short")}.Validate()
	if err == nil || err.Error() != "maskKey: 5 bytes; want at least 32 (or none: a key drawn for the run)" {
		t.Fatalf("Validate = %v", err)
	}
}

// A date whose time of day is below a nanosecond is not a date: it used to match the
// plain date (the fraction's digits past the ninth were dropped).
func TestDateWithSubNanosecondTime(t *testing.T) {
	cols := []string{"id", "d"}
	spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "d", Type: TypeDate}}}
	for _, st := range []Strategy{StrategyHash, StrategyMerge} {
		spec.Strategy = st
		sum, ds, err := runCollect(t, spec, newSliceReader("s", cols, [][]Cell{row("1", "2024-01-01")}),
			newSliceReader("t", cols, [][]Cell{row("1", "2024-01-01T00:00:00.0000000001")}))
		if err != nil || sum.Matched != 0 || len(ds) != 1 || ds[0].Kind != KindInvalidRow || ds[0].Side != SideTarget {
			t.Errorf("%s: %+v %v %v; want one invalid_row on the target", st, sum, ds, err)
		}
	}
}

// TestPlainDecimalWord: the word-at-a-time check decides as isPlainDecimal for every
// text of up to five bytes over digits, signs, points and other bytes (exhaustively),
// and for random ones of six to eight, whatever the bytes after the text.
func TestPlainDecimalWord(t *testing.T) {
	if maxPlainDecimal < 8 {
		t.Fatalf("maxPlainDecimal %d: the word check takes up to 8 bytes", maxPlainDecimal)
	}
	alphabet := []byte{'0', '5', '9', '.', '-', '+', '/', ':', 'e', ' ', 0xb0}
	check := func(b []byte, junk uint64) {
		var w [8]byte
		copy(w[:], b)
		word := binary.LittleEndian.Uint64(w[:])
		if len(b) < 8 {
			word |= junk << (8 * len(b))
		}
		for _, intOnly := range []bool{false, true} {
			if got, want := plainDecimalWord(word, len(b), intOnly), isPlainDecimal(string(b), intOnly); got != want {
				t.Fatalf("%q (integer %v): word %v, isPlainDecimal %v", b, intOnly, got, want)
			}
		}
	}
	var gen func(prefix []byte, n int)
	gen = func(prefix []byte, n int) {
		check(prefix, 0x3030303030303030)
		check(prefix, 0x2e2d2e2d2e2d2e2d)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(append(prefix, c), n-1)
		}
	}
	gen(nil, 5)
	rng := rand.New(rand.NewPCG(15, 16))
	for range 200000 {
		b := make([]byte, 6+rng.IntN(3))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(3) > 0 {
				b[i] = '0' + byte(rng.IntN(10))
			}
		}
		check(b, rng.Uint64())
	}
}
