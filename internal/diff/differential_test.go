package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Differential tests of the value semantics against independent references written
// with the standard library (math/big.Rat, time, encoding/json).

// refDecText renders a random decimal spelling: sign, leading zeros, fraction,
// exponent, surrounding white space. ref is its exact value.
func refDecText(r *rand.Rand) (text string, ref *big.Rat) {
	var b strings.Builder
	switch r.IntN(4) {
	case 0:
		b.WriteByte('-')
	case 1:
		b.WriteByte('+')
	}
	digits := func(n int) {
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	if r.IntN(3) == 0 {
		b.WriteString("00")
	}
	nInt := r.IntN(22)
	digits(nInt)
	nFrac := 0
	if r.IntN(2) == 0 || nInt == 0 {
		b.WriteByte('.')
		nFrac = r.IntN(22)
		if nInt == 0 && nFrac == 0 {
			nFrac = 1
		}
		digits(nFrac)
	}
	if r.IntN(4) == 0 {
		b.WriteString([]string{"e", "E", "e+", "e-"}[r.IntN(4)])
		fmt.Fprint(&b, r.IntN(30))
	}
	core := b.String()
	ref, ok := new(big.Rat).SetString(core)
	if !ok {
		panic(core)
	}
	return []string{"", " ", "\t", " \n"}[r.IntN(4)] + core + []string{"", " ", "\r\n"}[r.IntN(3)], ref
}

func refWithin(a, b *big.Rat, abs, rel *big.Rat) bool {
	if a.Cmp(b) == 0 {
		return true
	}
	d := new(big.Rat).Sub(a, b)
	d.Abs(d)
	if abs != nil && d.Cmp(abs) <= 0 {
		return true
	}
	if rel != nil {
		m := new(big.Rat).Abs(a)
		if bm := new(big.Rat).Abs(b); bm.Cmp(m) > 0 {
			m = bm
		}
		if d.Cmp(new(big.Rat).Mul(rel, m)) <= 0 {
			return true
		}
	}
	return false
}

func TestDecimalDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tols := []string{"", "0", "0.01", "1", "0.000000000000000000001", "123456789012345678901234.5"}
	for i := range 40000 {
		a, ra := refDecText(r)
		var b string
		var rb *big.Rat
		switch r.IntN(3) {
		case 0:
			b, rb = refDecText(r)
		case 1: // near a: a + small delta
			delta := new(big.Rat).SetFrac64(int64(r.IntN(200)-100), 10000)
			rb = new(big.Rat).Add(ra, delta)
			b = rb.FloatString(30)
			rb, _ = new(big.Rat).SetString(b)
		default:
			b, rb = a, ra
		}
		absT, relT := tols[r.IntN(len(tols))], tols[r.IntN(len(tols))]
		if relT == "123456789012345678901234.5" {
			relT = "0.5"
		}
		col := Column{Name: "v", Type: TypeDecimal, AbsTolerance: absT, RelTolerance: relT}
		var absR, relR *big.Rat
		if absT != "" {
			absR, _ = new(big.Rat).SetString(absT)
		}
		if relT != "" {
			relR, _ = new(big.Rat).SetString(relT)
		}
		want := refWithin(ra, rb, absR, relR)
		got, err := col.Equal(a, b)
		if err != nil {
			t.Fatalf("%d: Equal(%q, %q): %v", i, a, b, err)
		}
		if got != want {
			t.Fatalf("%d: Equal(%q, %q) abs=%q rel=%q = %v, reference %v", i, a, b, absT, relT, got, want)
		}
		// The canonical text is the exact value.
		n, err := col.Normalize(a)
		if err != nil {
			t.Fatal(err)
		}
		if rn, ok := new(big.Rat).SetString(n); !ok || rn.Cmp(ra) != 0 {
			t.Fatalf("Normalize(%q) = %q, not the value %s", a, n, ra.RatString())
		}
		if strings.ContainsAny(n, "eE+ ") || (strings.HasPrefix(strings.TrimPrefix(n, "-"), "0") && n != "0" && !strings.HasPrefix(strings.TrimPrefix(n, "-"), "0.")) ||
			(strings.Contains(n, ".") && strings.HasSuffix(n, "0")) || n == "-0" {
			t.Fatalf("Normalize(%q) = %q is not canonical", a, n)
		}
	}
}

// Bounds are inclusive, and exact: tol + 1e-30 away is outside.
func TestToleranceBounds(t *testing.T) {
	cases := []struct {
		abs, rel, a, b string
		want           bool
	}{
		{"0.01", "", "10.00", "10.01", true},
		{"0.01", "", "10.00", "10.010000000000000000000000000001", false},
		{"0.01", "", "-10.00", "-10.01", true},
		{"0.01", "", "0.005", "-0.005", true},
		{"0.01", "", "0.005", "-0.00500000000000000000000000000001", false},
		{"1", "", "9223372036854775807", "9223372036854775808", true},
		{"1", "", "-9223372036854775808", "-9223372036854775810", false},
		{"0", "", "1.0", "1", true},
		// rel is against max(|s|,|t|), either order, signs ignored.
		{"", "0.1", "100", "90", true},
		{"", "0.1", "90", "100", true},
		{"", "0.1", "-100", "-90", true},
		{"", "0.1", "100", "89.999999999999999999999999999999", false},
		{"", "0.5", "1", "-1", false}, // |2| > 0.5*1
		{"", "1", "1", "-1", false},   // |2| > 1*1
		{"", "2", "1", "-1", true},
		{"", "0.9999", "0", "0.0001", false},
		{"", "1", "0", "0.0001", true},
		{"", "0.5", "0", "0", true},
		{"0.001", "0.01", "0", "0.001", true},
	}
	for _, c := range cases {
		col := Column{Name: "v", Type: TypeDecimal, AbsTolerance: c.abs, RelTolerance: c.rel}
		got, err := col.Equal(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("abs=%q rel=%q Equal(%q, %q) = %v, %v; want %v", c.abs, c.rel, c.a, c.b, got, err, c.want)
		}
		got, err = col.Equal(c.b, c.a)
		if err != nil || got != c.want {
			t.Errorf("abs=%q rel=%q Equal(%q, %q) = %v, %v; want %v", c.abs, c.rel, c.b, c.a, got, err, c.want)
		}
	}
}

func TestIntegers(t *testing.T) {
	col := Column{Name: "n", Type: TypeInteger}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"99999999999999999999999999", "+099999999999999999999999999", true},
		{"-0", "0", true},
		{" 7 ", "7", true},
		{"18446744073709551616", "18446744073709551617", false},
	} {
		if got, err := col.Equal(c.a, c.b); err != nil || got != c.want {
			t.Errorf("Equal(%q, %q) = %v, %v", c.a, c.b, got, err)
		}
	}
	for _, bad := range []string{"1e3", "1.0", "1.", "", " ", "0x10", "1_000", "1,000", "NaN", "--1", "+-1"} {
		if _, err := col.Normalize(bad); err == nil {
			t.Errorf("integer %q parsed", bad)
		}
	}
	dcol := Column{Name: "d", Type: TypeDecimal}
	for _, bad := range []string{"", "NaN", "Inf", "1,5", "1 000", "1e", "e5", ".", "-.", "1e-1002", "0." + strings.Repeat("0", 1001) + "1", "0x1p3", "1/2"} {
		if _, err := dcol.Normalize(bad); err == nil {
			t.Errorf("decimal %q parsed", bad)
		}
	}
	for _, ok := range []string{"1e-1000", "0." + strings.Repeat("0", 999) + "1", ".5", "5.", "+.5e1"} {
		if _, err := dcol.Normalize(ok); err != nil {
			t.Errorf("decimal %q: %v", ok, err)
		}
	}
}

// refTimeRef parses what SEMANTICS.md documents with package time.
func refTimeRef(s string, loc *time.Location, prec time.Duration) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 10 {
		return time.Time{}, false
	}
	date := s[:10]
	rest := s[10:]
	clock := "00:00:00"
	frac := ""
	if len(rest) > 0 && (rest[0] == 'T' || rest[0] == 't' || rest[0] == ' ') && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9' {
		rest = rest[1:]
		j := 0
		for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || rest[j] == ':') {
			j++
		}
		clock = rest[:j]
		if len(clock) == 5 {
			clock += ":00"
		}
		rest = rest[j:]
		if len(rest) > 0 && rest[0] == '.' {
			k := 1
			for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
				k++
			}
			frac = rest[1:k]
			rest = rest[k:]
		}
	}
	rest = strings.TrimLeft(rest, " ")
	zl := loc
	if rest != "" {
		switch {
		case rest == "Z" || rest == "z" || strings.EqualFold(rest, "UTC"):
			zl = time.UTC
		default:
			var off time.Time
			var err error
			for _, layout := range []string{"-07", "-0700", "-07:00"} {
				if off, err = time.Parse(layout, rest); err == nil {
					break
				}
			}
			if err != nil {
				return time.Time{}, false
			}
			_, o := off.Zone()
			zl = time.FixedZone("", o)
		}
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", date+" "+clock, zl)
	if err != nil {
		return time.Time{}, false
	}
	ns := 0
	if frac != "" {
		f9 := (frac + "000000000")[:9]
		ns, _ = strconv.Atoi(f9)
	}
	t = t.Add(time.Duration(ns)).UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	// floor to prec (prec divides a day here, so Truncate's origin does not matter)
	return t.Truncate(prec), true
}

func TestTimestampDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	precs := []time.Duration{0, time.Nanosecond, time.Microsecond, time.Millisecond, 10 * time.Millisecond, time.Second, time.Minute, time.Hour}
	gen := func() string {
		y := []int{1, 2, 1969, 1970, 2000, 2024, 9998, 9999}[r.IntN(8)]
		s := fmt.Sprintf("%04d-%02d-%02d", y, 1+r.IntN(12), 1+r.IntN(28))
		if r.IntN(5) == 0 {
			return s
		}
		s += []string{"T", "t", " "}[r.IntN(3)]
		s += fmt.Sprintf("%02d:%02d", r.IntN(24), r.IntN(60))
		if r.IntN(4) != 0 {
			s += fmt.Sprintf(":%02d", r.IntN(60))
			if r.IntN(2) == 0 {
				n := 1 + r.IntN(14)
				s += "."
				for range n {
					s += string(rune('0' + []int{0, 9, r.IntN(10)}[r.IntN(3)]))
				}
			}
		}
		switch r.IntN(6) {
		case 0:
		case 1:
			s += "Z"
		case 2:
			s += " UTC"
		case 3:
			s += fmt.Sprintf("%+03d", r.IntN(47)-23)
		case 4:
			s += fmt.Sprintf("%+03d%02d", r.IntN(47)-23, r.IntN(60))
		default:
			s += fmt.Sprintf("%+03d:%02d", r.IntN(47)-23, r.IntN(60))
		}
		return s
	}
	ny, _ := time.LoadLocation("America/New_York")
	for i := range 30000 {
		a, b := gen(), gen()
		if r.IntN(3) == 0 {
			b = a
		}
		prec := precs[r.IntN(len(precs))]
		tol := []time.Duration{0, time.Second, 90 * time.Minute}[r.IntN(3)]
		var loc *time.Location
		if r.IntN(3) == 0 && ny != nil {
			loc = ny
		}
		col := Column{Name: "ts", Type: TypeTimestamp, Precision: prec, TimeTolerance: tol, Location: loc}
		p := prec
		if p == 0 {
			p = DefaultPrecision
		}
		rl := loc
		if rl == nil {
			rl = time.UTC
		}
		ta, oka := refTimeRef(a, rl, p)
		tb, okb := refTimeRef(b, rl, p)
		got, err := col.Equal(a, b)
		if (err == nil) != (oka && okb) {
			t.Fatalf("%d: Equal(%q, %q) err=%v, reference valid %v %v", i, a, b, err, oka, okb)
		}
		if err != nil {
			continue
		}
		want := ta.Equal(tb) || (tol > 0 && !ta.Add(tol).Before(tb) && !tb.Add(tol).Before(ta))
		if got != want {
			t.Fatalf("%d: Equal(%q, %q) prec=%v tol=%v = %v, reference %v (%v vs %v)", i, a, b, prec, tol, got, want, ta, tb)
		}
		n, _ := col.Normalize(a)
		if n != ta.Format(time.RFC3339Nano) {
			t.Fatalf("Normalize(%q) = %q, reference %q", a, n, ta.Format(time.RFC3339Nano))
		}
	}
}

func TestTimeEdges(t *testing.T) {
	col := Column{Name: "ts", Type: TypeTimestamp, TimeTolerance: time.Second}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", true},
		{"2024-01-01T00:00:00Z", "2024-01-01T00:00:01.000001Z", false},
		{"2024-01-01T00:00:00Z", "2024-01-01T00:00:01.0000009Z", true}, // floored to 1µs
		{"2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z", true},
		{"0001-01-01T00:00:00Z", "0001-01-01 00:00:00.999999999999", true},
	} {
		if got, err := col.Equal(c.a, c.b); err != nil || got != c.want {
			t.Errorf("Equal(%q, %q) = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
	for _, bad := range []string{"0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00", "2024-02-30", "2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z", "", "2024-01-01T00:00:00.Z"} {
		if _, err := col.Normalize(bad); err == nil {
			t.Errorf("timestamp %q parsed", bad)
		}
	}
	d := Column{Name: "d", Type: TypeDate, TimeTolerance: 24 * time.Hour}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"2024-02-28", "2024-02-29", true},
		{"2024-02-28", "2024-03-01", false},
		{"2024-02-28T00:00:00Z", "2024-02-28", true},
		{"2024-02-28 00:00:00.000", "2024-02-28", true},
	} {
		if got, err := d.Equal(c.a, c.b); err != nil || got != c.want {
			t.Errorf("date Equal(%q, %q) = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
	for _, bad := range []string{"2024-02-28T00:00:01", "2024-02-28T00:00:00.0000000001", "2024-02-28T00:00:00+01:00", "2023-02-29"} {
		if _, err := d.Normalize(bad); err == nil {
			t.Errorf("date %q parsed", bad)
		}
	}
}

func TestBooleansStrings(t *testing.T) {
	b := Column{Name: "b", Type: TypeBoolean}
	for _, s := range []string{"true", "TRUE", "t", "T", "1", "yes", "YES", " Yes "} {
		if n, err := b.Normalize(s); err != nil || n != "true" {
			t.Errorf("boolean %q = %q, %v", s, n, err)
		}
	}
	for _, s := range []string{"false", "F", "0", "No", "\tno\n"} {
		if n, err := b.Normalize(s); err != nil || n != "false" {
			t.Errorf("boolean %q = %q, %v", s, n, err)
		}
	}
	for _, s := range []string{"", "y", "n", "on", "off", "01", "2", "tru"} {
		if _, err := b.Normalize(s); err == nil {
			t.Errorf("boolean %q parsed", s)
		}
	}
	ic := Column{Name: "s", IgnoreCase: true}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"STRASSE", "strasse", true},
		{"ΣΑΣ", "σας", true},  // final sigma
		{"K", "\u212a", true}, // Kelvin sign
		{"é", "e\u0301", false},
		{"ß", "ss", false},
		// documented rule lower(upper(r)): U+0130 and U+0131 both fold to 'i'
		{"İ", "i", true},
		{"I", "ı", true},
	} {
		if got, _ := ic.Equal(c.a, c.b); got != c.want {
			t.Errorf("ignoreCase Equal(%q, %q) = %v", c.a, c.b, got)
		}
	}
	tr := Column{Name: "s", Trim: true}
	if got, _ := tr.Equal("\u00a0x\u3000", "x"); !got {
		t.Errorf("trim does not remove Unicode white space")
	}
	plain := Column{Name: "s"}
	if got, _ := plain.Equal(" x", "x"); got {
		t.Errorf("strings without trim compare trimmed")
	}
}

// refCanonJSON is an independent canonical form: decode with UseNumber, re-encode with
// sorted keys and numbers as exact rationals.
func refCanonJSON(s string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return "", false
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case json.Number:
			r, _ := new(big.Rat).SetString(string(v))
			return "num:" + r.RatString()
		case map[string]any:
			for k, x := range v {
				v[k] = walk(x)
			}
		case []any:
			for i, x := range v {
				v[i] = walk(x)
			}
		}
		return v
	}
	b, _ := json.Marshal(walk(v))
	return string(b), true
}

func TestJSON(t *testing.T) {
	col := Column{Name: "j", Type: TypeJSON}
	same := [][2]string{
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`},
		{`1.0`, `1`},
		{`1e0`, `1`},
		{`10E-1`, `1`},
		{`-0`, `0`},
		{`"\u00e9"`, `"é"`},
		{`"\/"`, `"/"`},
		{`[1, 2 ,3]`, "[1,2,3]"},
		{`{"a":{"y":1,"x":[true,null]}}`, `{"a":{"x":[true,null],"y":1}}`},
		{`"\ud83d\ude00"`, `"😀"`},
	}
	for _, c := range same {
		got, err := col.Equal(c[0], c[1])
		if err != nil || !got {
			t.Errorf("JSON Equal(%q, %q) = %v, %v", c[0], c[1], got, err)
		}
		ra, _ := refCanonJSON(c[0])
		rb, _ := refCanonJSON(c[1])
		if ra != rb {
			t.Errorf("reference disagrees on %q %q", c[0], c[1])
		}
	}
	differ := [][2]string{
		{`[1,2]`, `[2,1]`},
		{`"1"`, `1`},
		{`null`, `"null"`},
		{`{"a":null}`, `{}`},
		{`1.00000000000000000001`, `1`},
		{`"a"`, `"A"`},
		{`12345678901234567890`, `12345678901234567891`},
		{`{"a":0.1}`, `{"a":0.10000000000000001}`},
	}
	for _, c := range differ {
		if got, err := col.Equal(c[0], c[1]); err != nil || got {
			t.Errorf("JSON Equal(%q, %q) = %v, %v", c[0], c[1], got, err)
		}
	}
	for _, bad := range []string{`{"a":1,"a":1}`, `{"a":1,"a":2}`, `"\ud800"`, "\"\xff\"", `01`, `+1`, `1.`, `.5`, `NaN`, `{a:1}`, `[1,]`, `1 2`, ``, strings.Repeat("[", 513) + strings.Repeat("]", 513)} {
		if _, err := col.Normalize(bad); err == nil {
			t.Errorf("JSON %q parsed", bad)
		}
	}
	// random objects: equal under the reference iff equal under the engine.
	r := rand.New(rand.NewPCG(5, 6))
	var gen func(depth int) string
	gen = func(depth int) string {
		switch k := r.IntN(6); {
		case k == 0 || depth > 3:
			return []string{"1", "1.0", "1e0", "10e-1", "2", "-0", "0", "100", "1e2", "0.5", "5e-1"}[r.IntN(11)]
		case k == 1:
			return []string{`"a"`, `"\u0061"`, `"b"`, `"\n"`, `"\u000a"`, `"<"`, `"\u003c"`, `""`}[r.IntN(8)]
		case k == 2:
			return []string{"true", "false", "null"}[r.IntN(3)]
		case k == 3:
			n := r.IntN(3)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = gen(depth + 1)
			}
			return "[" + strings.Join(parts, ",") + "]"
		default:
			keys := r.Perm(3)[:r.IntN(4)]
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%q: %s", []string{"x", "y", "é"}[k], gen(depth+1))
			}
			return "{" + strings.Join(parts, " , ") + "}"
		}
	}
	for i := range 20000 {
		a, b := gen(0), gen(0)
		ra, _ := refCanonJSON(a)
		rb, _ := refCanonJSON(b)
		got, err := col.Equal(a, b)
		if err != nil || got != (ra == rb) {
			t.Fatalf("%d: JSON Equal(%s, %s) = %v, %v; reference %v", i, a, b, got, err, ra == rb)
		}
	}
}

// refRun runs the engine over two in-memory sides with both strategies.
func refRun(t *testing.T, spec Spec, cols []string, src, tgt [][]Cell) map[Strategy][]Discrepancy {
	t.Helper()
	out := map[Strategy][]Discrepancy{}
	for _, st := range []Strategy{StrategyHash, StrategyMerge} {
		spec.Strategy = st
		var c Collect
		_, err := Run(context.Background(), spec,
			&orderedReader{newSliceReader("a.csv", cols, src), cols[:len(spec.Keys)]},
			&orderedReader{newSliceReader("b.csv", cols, tgt), cols[:len(spec.Keys)]}, &c)
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		out[st] = c.Discrepancies
	}
	return out
}

// The engine's verdicts over many rows (fast paths included) agree with the reference.
func TestRunDecimalDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var src, tgt [][]Cell
	want := map[string]bool{}
	absR, _ := new(big.Rat).SetString("0.01")
	relR, _ := new(big.Rat).SetString("0.001")
	for i := range 5000 {
		a, ra := refDecText(r)
		var b string
		var rb *big.Rat
		if r.IntN(2) == 0 {
			b, rb = refDecText(r)
		} else {
			rb = new(big.Rat).Add(ra, new(big.Rat).SetFrac64(int64(r.IntN(3)-1), 100))
			if r.IntN(2) == 0 {
				rb.Add(rb, new(big.Rat).SetFrac64(int64(r.IntN(3)-1), 1000000000))
			}
			b = rb.FloatString(40)
			rb, _ = new(big.Rat).SetString(b)
		}
		id := fmt.Sprintf("%06d", i)
		src = append(src, row(id, a))
		tgt = append(tgt, row(id, b))
		if !refWithin(ra, rb, absR, relR) {
			want[id] = true
		}
	}
	idx := func(id string) int { n, _ := strconv.Atoi(id); return n }
	spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v", Type: TypeDecimal, AbsTolerance: "0.01", RelTolerance: "0.001"}}}
	for st, ds := range refRun(t, spec, []string{"id", "v"}, src, tgt) {
		got := map[string]bool{}
		for _, d := range ds {
			if d.Kind != KindMismatch {
				t.Fatalf("%s: unexpected %+v", st, d)
			}
			got[d.Key[0].Value.Text] = true
		}
		for id := range want {
			if !got[id] {
				t.Errorf("%s: id %s should mismatch: %s vs %s", st, id, src[idx(id)][1].Text, tgt[idx(id)][1].Text)
			}
		}
		for id := range got {
			if !want[id] {
				t.Errorf("%s: id %s should match: %q vs %q", st, id, src[idx(id)][1].Text, tgt[idx(id)][1].Text)
			}
		}
	}
}

// NULL vs "" in every type: NULL equals only NULL; "" is a string value, and unparsable
// for typed columns.
func TestNullVersusEmpty(t *testing.T) {
	for _, typ := range []Type{TypeString, TypeInteger, TypeDecimal, TypeTimestamp, TypeDate, TypeBoolean, TypeJSON} {
		spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v", Type: typ}}}
		src := [][]Cell{row("1", nil), row("2", nil), row("3", "")}
		tgt := [][]Cell{row("1", nil), row("2", ""), row("3", "")}
		for st, ds := range refRun(t, spec, []string{"id", "v"}, src, tgt) {
			kinds := map[string]string{}
			for _, d := range ds {
				kinds[d.Key[0].Value.Text] += string(d.Kind) + "/" + string(d.Side) + " "
			}
			if kinds["1"] != "" {
				t.Errorf("%s %s: NULL vs NULL: %q", typ, st, kinds["1"])
			}
			if typ == TypeString {
				if kinds["2"] != "mismatch/ " || kinds["3"] != "" {
					t.Errorf("%s %s: %v", typ, st, kinds)
				}
				continue
			}
			if kinds["2"] != "invalid_row/target " || kinds["3"] != "invalid_row/source invalid_row/target " && kinds["3"] != "invalid_row/target invalid_row/source " {
				t.Errorf("%s %s: %v", typ, st, kinds)
			}
		}
	}
}

// Composite keys whose values contain separator-like characters are not confused.
func TestCompositeKeySeparators(t *testing.T) {
	spec := Spec{Keys: []Column{{Name: "a"}, {Name: "b"}}, Compare: []Column{{Name: "v"}}}
	cols := []string{"a", "b", "v"}
	src := [][]Cell{row("x\x00", "y", "1"), row("x", "\x00y", "2"), row("x|", "y", "3"), row("x", "|y", "4"), row("x\x1f", "y", "5"), row("x", "\x1fy", "6")}
	tgt := [][]Cell{row("x\x00", "y", "1"), row("x", "\x00y", "2"), row("x|", "y", "3"), row("x", "|y", "4"), row("x\x1f", "y", "5"), row("x", "\x1fy", "6")}
	sortRows(src, 0, 1)
	sortRows(tgt, 0, 1)
	for st, ds := range refRun(t, spec, cols, src, tgt) {
		if len(ds) != 0 {
			t.Errorf("%s: %+v", st, ds)
		}
	}
}

// Sensitive values never appear in clear in any outcome.
func TestSensitiveOutcomes(t *testing.T) {
	secret := "SECRET-4711"
	spec := Spec{
		Keys:    []Column{{Name: "id", Sensitive: true}},
		Compare: []Column{{Name: "amount", Type: TypeDecimal, Sensitive: true}, {Name: "note"}},
	}
	cols := []string{"id", "amount", "note"}
	src := [][]Cell{
		row(secret+"1", "12.5", "n"),   // mismatch on amount
		row(secret+"2", secret, "n"),   // invalid decimal
		row(secret+"3", "1", "n"),      // duplicate
		row(secret+"3", "1", "n"),      //
		row(secret+"4", "1", "n"),      // missing in target
		row("", "1", "n"),              // invalid key
		row(secret+"6", "1", "a", "x"), // wrong number of cells
	}
	tgt := [][]Cell{
		row(secret+"1", "13.5", "n"),
		row(secret+"2", "1", "n"),
		row(secret+"3", "1", "n"),
		row(secret+"5", "1", "n"),
	}
	sortRows(src, 0)
	sortRows(tgt, 0)
	for st, ds := range refRun(t, spec, cols, src, tgt) {
		var buf bytes.Buffer
		for _, d := range ds {
			b, _ := json.Marshal(d)
			buf.Write(b)
			buf.WriteByte('\n')
		}
		if strings.Contains(buf.String(), "SECRET") || strings.Contains(buf.String(), "12.5") || strings.Contains(buf.String(), "13.5") {
			t.Errorf("%s: a sensitive value in clear:\n%s", st, buf.String())
		}
		if len(ds) < 6 {
			t.Errorf("%s: only %d outcomes:\n%s", st, len(ds), buf.String())
		}
	}
}

// A typed sensitive key that does not parse, and a sensitive timestamp that does not,
// are masked in the reason and the key.
func TestSensitiveTypedKey(t *testing.T) {
	spec := Spec{
		Keys:    []Column{{Name: "id", Type: TypeInteger, Sensitive: true}},
		Compare: []Column{{Name: "ts", Type: TypeTimestamp, Sensitive: true}, {Name: "j", Type: TypeJSON, Sensitive: true}},
	}
	cols := []string{"id", "ts", "j"}
	src := [][]Cell{row("1", "2024-01-01T00:00:00Z", `{"SECRET":1}`), row("2", "SECRET", "1"), row("3", "1", `{"SECRET":1,"SECRET":2}`), row("SECRET", "1", "1")}
	tgt := [][]Cell{row("1", "2024-01-01T00:00:01Z", `{"SECRET":2}`)}
	for st, ds := range refRun(t, spec, cols, src, tgt) {
		b, _ := json.Marshal(ds)
		// "2024-" and not "2024": a masked value's hex may hold the four digits.
		if strings.Contains(string(b), "SECRET") || strings.Contains(string(b), "2024-") {
			t.Errorf("%s: sensitive value in clear: %s", st, b)
		}
		if n := len(ds); n != 4 {
			t.Errorf("%s: %d outcomes: %s", st, n, b)
		}
	}
}

// The int64 fast path (values and tolerances of at most 18 digits) at and around the
// bounds, against big.Rat.
func TestSmallDecimalBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	dec := func(m int64, scale int) string {
		return new(big.Rat).SetFrac(big.NewInt(m), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)).FloatString(scale)
	}
	for i := range 100000 {
		scale := r.IntN(8)
		a := r.Int64N(2e9) - 1e9
		tolM := r.Int64N(1000)
		tolScale := r.IntN(8)
		relM := r.Int64N(100)
		relScale := 2 + r.IntN(4)
		// b at the bound or one unit of the finest scale either side
		var b int64
		switch r.IntN(3) {
		case 0:
			b = a + r.Int64N(2001) - 1000
		default:
			b = a - r.Int64N(3) + 1
		}
		as, bs := dec(a, scale), dec(b, scale)
		absT, relT := dec(tolM, tolScale), dec(relM, relScale)
		if r.IntN(2) == 0 {
			absT = ""
		} else if r.IntN(2) == 0 {
			relT = ""
		}
		col := Column{Name: "v", Type: TypeDecimal, AbsTolerance: absT, RelTolerance: relT}
		var absR, relR *big.Rat
		if absT != "" {
			absR, _ = new(big.Rat).SetString(absT)
		}
		if relT != "" {
			relR, _ = new(big.Rat).SetString(relT)
		}
		ra, _ := new(big.Rat).SetString(as)
		rb, _ := new(big.Rat).SetString(bs)
		want := refWithin(ra, rb, absR, relR)
		got, err := col.Equal(as, bs)
		if err != nil || got != want {
			t.Fatalf("%d: abs=%q rel=%q Equal(%q, %q) = %v, %v; reference %v", i, absT, relT, as, bs, got, err, want)
		}
	}
}
