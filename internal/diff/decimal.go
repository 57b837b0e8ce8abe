package diff

import (
	"bytes"
	"math/bits"
)

// Exact decimal canonicalization on text, without big arithmetic.
//
// The canonical form of a number is plain decimal text: an optional '-', the integer
// digits without leading zeros ("0" when there are none), and, only when the fraction is
// not zero, a '.' followed by the fraction digits without trailing zeros. So "10.50",
// "+010.5", "1.05e1" all canonicalize to "10.5", and "-0.00" to "0". Two numbers are equal
// exactly when their canonical texts are byte-equal, which is what the hot path compares.

const (
	maxDecimalExponent = 1000 // |position of the decimal point| after applying an exponent
	maxDecimalDigits   = 4096 // significant digits kept in a canonical decimal
)

const (
	probNotInteger  = "is not a valid integer"
	probNotDecimal  = "is not a valid decimal"
	probDecimalExp  = "is out of range (its decimal point is more than 1000 places from its first or last significant digit)"
	probDecimalLong = "has too many digits"
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// maxPlainDecimal is the longest text appendPlainDecimal takes: short enough that neither
// maxDecimalExponent nor maxDecimalDigits can be exceeded.
const maxPlainDecimal = min(maxDecimalExponent, maxDecimalDigits)

// appendPlainDecimal appends the canonical form of a plain [+-]digits[.digits] (with
// digits on at least one side of the point; integers: no point) of at most
// maxPlainDecimal bytes, the common case, without the general path's bookkeeping. ok is
// false for anything else, valid or not: appendCanonDecimal then decides. When ok, dst
// is what appendCanonDecimal(dst, s, intOnly, false) returns.
func appendPlainDecimal(dst []byte, s string, intOnly bool) (out []byte, ok bool) {
	if len(s) == 0 || len(s) > maxPlainDecimal {
		return dst, false
	}
	i := 0
	neg := false
	switch s[0] {
	case '-':
		neg = true
		i = 1
	case '+':
		i = 1
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) {
		if s[i] != '.' || intOnly {
			return dst, false
		}
		i++
		fracStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracEnd = i
		if i != len(s) {
			return dst, false
		}
	}
	if intEnd == intStart && fracEnd == fracStart {
		return dst, false
	}
	lo := intStart
	for lo < intEnd && s[lo] == '0' {
		lo++
	}
	hi := fracEnd
	for hi > fracStart && s[hi-1] == '0' {
		hi--
	}
	if lo == intEnd && hi == fracStart {
		return append(dst, '0'), true
	}
	if neg {
		dst = append(dst, '-')
	}
	if lo == intEnd {
		dst = append(dst, '0')
	} else {
		dst = append(dst, s[lo:intEnd]...)
	}
	if hi > fracStart {
		dst = append(dst, '.')
		dst = append(dst, s[fracStart:hi]...)
	}
	return dst, true
}

// appendCanonDecimal appends the canonical form of s (already trimmed) to dst. With
// intOnly, only [+-]digits is accepted. With jsonGrammar, s must follow the JSON number
// grammar (no '+', no leading zeros, digits on both sides of '.').
func appendCanonDecimal(dst []byte, s string, intOnly, jsonGrammar bool) ([]byte, string) {
	if !jsonGrammar {
		if out, ok := appendPlainDecimal(dst, s, intOnly); ok {
			return out, ""
		}
	}
	return appendCanonDecimalSlow(dst, s, intOnly, jsonGrammar)
}

// appendCanonDecimalSlow is appendCanonDecimal for every accepted form.
func appendCanonDecimalSlow(dst []byte, s string, intOnly, jsonGrammar bool) ([]byte, string) {
	bad := probNotDecimal
	if intOnly {
		bad = probNotInteger
	}
	if len(s) == 0 {
		return dst, bad
	}
	i := 0
	neg := false
	switch s[0] {
	case '-':
		neg = true
		i++
	case '+':
		if jsonGrammar {
			return dst, bad
		}
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		if intOnly {
			return dst, bad
		}
		i++
		fracStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracEnd = i
		if jsonGrammar && fracEnd == fracStart {
			return dst, bad
		}
	}
	if intEnd == intStart && fracEnd == fracStart {
		return dst, bad
	}
	if jsonGrammar && (intEnd == intStart || (s[intStart] == '0' && intEnd-intStart > 1)) {
		return dst, bad
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		if intOnly {
			return dst, bad
		}
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return dst, bad
		}
		for i < len(s) && isDigit(s[i]) {
			if exp > 1e7 { // keep accumulating digits bounded; range is checked below
				i++
				continue
			}
			exp = exp*10 + int(s[i]-'0')
			i++
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return dst, bad
	}

	// Combined digit string D = int digits ++ frac digits, with the decimal point after
	// position point = (intEnd-intStart) + exp. digit(k) reads D without copying.
	nInt := intEnd - intStart
	n := nInt + (fracEnd - fracStart)
	digit := func(k int) byte {
		if k < nInt {
			return s[intStart+k]
		}
		return s[fracStart+k-nInt]
	}
	lo, hi := 0, n
	for lo < hi && digit(lo) == '0' {
		lo++
	}
	for hi > lo && digit(hi-1) == '0' {
		hi--
	}
	if lo == hi {
		return append(dst, '0'), ""
	}
	point := nInt + exp - lo // point position relative to D[lo:hi]
	nd := hi - lo
	if point > maxDecimalExponent || point < -maxDecimalExponent {
		return dst, probDecimalExp
	}
	if nd > maxDecimalDigits {
		return dst, probDecimalLong
	}
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case point <= 0:
		dst = append(dst, '0', '.')
		for k := point; k < 0; k++ {
			dst = append(dst, '0')
		}
		dst = appendDigits(dst, s, lo, hi, nInt, intStart, fracStart)
	case point >= nd:
		dst = appendDigits(dst, s, lo, hi, nInt, intStart, fracStart)
		for k := nd; k < point; k++ {
			dst = append(dst, '0')
		}
	default:
		dst = appendDigits(dst, s, lo, lo+point, nInt, intStart, fracStart)
		dst = append(dst, '.')
		dst = appendDigits(dst, s, lo+point, hi, nInt, intStart, fracStart)
	}
	return dst, ""
}

func appendDigits(dst []byte, s string, from, to, nInt, intStart, fracStart int) []byte {
	if to <= nInt {
		return append(dst, s[intStart+from:intStart+to]...)
	}
	if from >= nInt {
		return append(dst, s[fracStart+from-nInt:fracStart+to-nInt]...)
	}
	dst = append(dst, s[intStart+from:intStart+nInt]...)
	return append(dst, s[fracStart:fracStart+to-nInt]...)
}

// cmpDecimal compares two canonical decimals (or integers) by value.
func cmpDecimal(a, b []byte) int {
	na := len(a) > 0 && a[0] == '-'
	nb := len(b) > 0 && b[0] == '-'
	switch {
	case na && !nb:
		return -1
	case !na && nb:
		return 1
	case na:
		return -cmpMagnitude(a[1:], b[1:])
	}
	return cmpMagnitude(a, b)
}

func cmpMagnitude(a, b []byte) int {
	ia, ib := indexDot(a), indexDot(b)
	if ia != ib {
		if ia < ib {
			return -1
		}
		return 1
	}
	// Same integer length: plain byte order on the integer part, then on the fraction
	// (canonical fractions have no trailing zeros, so byte order is numeric order).
	for k := 0; k < ia; k++ {
		if a[k] != b[k] {
			if a[k] < b[k] {
				return -1
			}
			return 1
		}
	}
	fa, fb := a[ia:], b[ib:]
	if len(fa) > 0 {
		fa = fa[1:]
	}
	if len(fb) > 0 {
		fb = fb[1:]
	}
	return bytes.Compare(fa, fb)
}

func indexDot(a []byte) int {
	for k, c := range a {
		if c == '.' {
			return k
		}
	}
	return len(a)
}

// isPlainDecimal reports whether s is a plain decimal that appendPlainDecimal takes, so
// valid: [+-]digits[.digits], digits on at least one side of the point (integers: no
// point), at most maxPlainDecimal bytes. Canonical or not ("10.50" is valid too).
func isPlainDecimal(s string, intOnly bool) bool {
	if len(s) == 0 || len(s) > maxPlainDecimal {
		return false
	}
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i = 1
	}
	digits, point := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c-'0' <= 9:
			digits++
		case c == '.' && !point && !intOnly:
			point = true
		default:
			return false
		}
	}
	return digits > 0
}

// plainDecimalWord is isPlainDecimal of the n <= 8 bytes in w's low bytes (little
// endian; the bytes above them are not looked at), a word at a time.
func plainDecimalWord(w uint64, n int, intOnly bool) bool {
	const lo7, highs = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	if n == 0 {
		return false
	}
	keep := uint64(highs) >> (64 - 8*n) // the high bit of each of the n bytes
	d := w ^ 0x3030303030303030         // digits become 0-9
	notDigit := ((d & lo7) + 0x7676767676767676 | d) & keep
	dots := zeroBytes(w^0x2e2e2e2e2e2e2e2e) & keep
	other := notDigit &^ dots
	if c := byte(w); c == '-' || c == '+' {
		other &^= 0x80 // a sign first
	}
	return other == 0 && dots&(dots-1) == 0 && (!intOnly || dots == 0) && bits.OnesCount64(notDigit) < n
}

// isCanonDecimal reports whether s is already canonical:
// -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])? and not "-0" (integers: no fraction), of at most
// maxPlainDecimal bytes, so within maxDecimalExponent and maxDecimalDigits. false says
// nothing about longer texts: appendCanonDecimal decides.
func isCanonDecimal(s string, intOnly bool) bool {
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i = 1
	}
	if i >= len(s) || len(s) > maxPlainDecimal {
		return false
	}
	switch c := s[i]; {
	case c == '0':
		i++
		if i == len(s) {
			return i == 1 // "0", not "-0"
		}
	case c >= '1' && c <= '9':
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == len(s) {
			return true
		}
	default:
		return false
	}
	if intOnly || s[i] != '.' || i+1 == len(s) || s[len(s)-1] == '0' {
		return false
	}
	for i++; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// smallDec is a decimal m×10^-scale whose |m| has at most digits (<= 18) digits, so
// that it can be brought to a common scale in int64 arithmetic.
type smallDec struct {
	m      int64
	scale  int
	digits int
}

// parseSmallDec reads a plain -?digits[.digits] with at most 18 digits in all (canonical
// decimals are of that form); ok is false for anything else.
func parseSmallDec(b []byte) (d smallDec, ok bool) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i = 1
	}
	dot := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if dot {
				return d, false
			}
			dot = true
			continue
		}
		v := c - '0'
		if v > 9 || d.digits == 18 {
			return d, false
		}
		d.digits++
		d.m = d.m*10 + int64(v)
		if dot {
			d.scale++
		}
	}
	if d.digits == 0 {
		return d, false
	}
	if neg {
		d.m = -d.m
	}
	return d, true
}

// at returns d at the given scale (>= d.scale), if it has at most 18 digits there.
func (d smallDec) at(scale int) (int64, bool) {
	k := scale - d.scale
	if d.digits+k > 18 {
		return 0, false
	}
	return d.m * pow10[k], true
}

// withinSmall decides |a-b| <= abs or |a-b| <= rel·max(|a|,|b|) (the tolerances set) for
// two canonical decimals in int64 arithmetic, exactly as the decimal library would; ok is
// false when the values or tolerances do not fit and the library must decide.
func withinSmall(a, b []byte, abs, rel *smallDec) (within, ok bool) {
	da, ok1 := parseSmallDec(a)
	db, ok2 := parseSmallDec(b)
	if !ok1 || !ok2 {
		return false, false
	}
	scale := max(da.scale, db.scale)
	if abs != nil {
		scale = max(scale, abs.scale)
	}
	x, ok1 := da.at(scale)
	y, ok2 := db.at(scale)
	if !ok1 || !ok2 {
		return false, false
	}
	// |x|, |y| < 10^18: neither the difference nor the absolute values overflow.
	diff := x - y
	if diff < 0 {
		diff = -diff
	}
	if abs != nil {
		t, ok := abs.at(scale)
		if !ok {
			return false, false
		}
		if diff <= t {
			return true, true
		}
	}
	if rel != nil {
		// |x-y|·10^-scale <= rel.m·10^-rel.scale · max(|x|,|y|)·10^-scale, in 128 bits.
		x, y = max(x, -x), max(y, -y)
		hi1, lo1 := bits.Mul64(uint64(diff), uint64(pow10[rel.scale]))
		hi2, lo2 := bits.Mul64(uint64(rel.m), uint64(max(x, y)))
		if hi1 < hi2 || (hi1 == hi2 && lo1 <= lo2) {
			return true, true
		}
	}
	return false, true
}
