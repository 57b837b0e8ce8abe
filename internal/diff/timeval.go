package diff

import (
	"encoding/binary"
	"strings"
	"time"
	"unsafe"
)

// Timestamps and dates, parsed by hand (no allocation, no time.Parse layouts tried in
// turn). Accepted: "2006-01-02", then optionally 'T', 't' or ' ' and "15:04[:05[.frac]]",
// then optionally spaces and a zone: "Z", "UTC", "+07", "+0700", "+07:00" (seconds
// allowed too). Years 0001-9999.
//
// Canonical timestamp bytes: 12 bytes, the UTC Unix seconds big-endian with the sign bit
// flipped and the nanoseconds big-endian, so byte order is time order. Canonical
// timestamp text: RFC 3339 in UTC with the fraction trimmed. Canonical date: "2006-01-02".

const (
	probNotTimestamp = "is not a valid timestamp"
	probNotDate      = "is not a valid date"
	probTimeRange    = "is out of range (years 0001 to 9999)"
	probDateHasTime  = "is not a valid date (it has a time of day)"
)

var (
	minUnixSec = daysFromCivil(1, 1, 1) * 86400
	maxUnixSec = daysFromCivil(9999, 12, 31)*86400 + 86399
)

type tsParts struct {
	year, month, day int
	hour, min, sec   int
	nsec             int
	offset           int // seconds east of UTC, when hasZone
	hasTime, hasZone bool
	fracDigits       int
	fracRest         bool // a digit past the ninth of the fraction is not zero
}

func num2(s string, i int) (int, bool) {
	if i+2 > len(s) {
		return 0, false
	}
	a, b := s[i]-'0', s[i+1]-'0' // bytes below '0' wrap around past 9
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

func parseTSParts(s string, p *tsParts) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	hi, ok0 := num2(s, 0)
	lo, ok1 := num2(s, 2)
	p.year = hi*100 + lo
	var ok2, ok3 bool
	p.month, ok2 = num2(s, 5)
	p.day, ok3 = num2(s, 8)
	if !ok0 || !ok1 || !ok2 || !ok3 || p.year < 1 || p.month < 1 || p.month > 12 || p.day < 1 || p.day > daysIn(p.year, p.month) {
		return false
	}
	i := 10
	if i < len(s) && (s[i] == 'T' || s[i] == 't' || s[i] == ' ') && i+1 < len(s) && isDigit(s[i+1]) {
		i++
		p.hasTime = true
		if p.hour, ok1 = num2(s, i); !ok1 || i+2 >= len(s) || s[i+2] != ':' {
			return false
		}
		if p.min, ok1 = num2(s, i+3); !ok1 {
			return false
		}
		i += 5
		if i < len(s) && s[i] == ':' {
			if p.sec, ok1 = num2(s, i+1); !ok1 {
				return false
			}
			i += 3
			if i < len(s) && (s[i] == '.' || s[i] == ',') {
				var nsec int64
				nsec, p.fracDigits, i = fraction(s, i+1)
				if p.fracDigits == 0 {
					return false
				}
				p.nsec = int(nsec)
				p.fracRest = strings.Trim(s[i-p.fracDigits+min(p.fracDigits, 9):i], "0") != ""
			}
		}
		if p.hour > 23 || p.min > 59 || p.sec > 59 {
			return false
		}
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return true
	}
	p.hasZone = true
	switch c := s[i]; {
	case c == 'Z' || c == 'z':
		i++
	case (c == 'U' || c == 'u') && i+3 <= len(s) && (s[i+1]|0x20) == 't' && (s[i+2]|0x20) == 'c':
		i += 3
	case c == '+' || c == '-':
		i++
		h, okh := num2(s, i)
		if !okh {
			return false
		}
		i += 2
		m, sec := 0, 0
		for part := 0; part < 2 && i < len(s); part++ {
			j := i
			if s[j] == ':' {
				j++
			}
			v, okv := num2(s, j)
			if !okv {
				return false
			}
			if part == 0 {
				m = v
			} else {
				sec = v
			}
			i = j + 2
		}
		if h > 23 || m > 59 || sec > 59 {
			return false
		}
		p.offset = h*3600 + m*60 + sec
		if c == '-' {
			p.offset = -p.offset
		}
	default:
		return false
	}
	return i == len(s)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// parseTimestamp returns the instant as UTC Unix seconds and nanoseconds, truncated to
// prec (> 0; either dividing a second or a whole number of seconds). A value without a
// zone is read in loc (nil = UTC).
func parseTimestamp(s string, loc *time.Location, prec int64) (sec int64, nsec int64, problem string) {
	if sec, nsec, ok := parseTimestampFast(s, loc, prec); ok {
		return sec, nsec, ""
	}
	return parseTimestampSlow(s, loc, prec)
}

// parseTimestampSlow is parseTimestamp for every accepted form.
func parseTimestampSlow(s string, loc *time.Location, prec int64) (sec int64, nsec int64, problem string) {
	var p tsParts
	if !parseTSParts(s, &p) {
		return 0, 0, probNotTimestamp
	}
	switch {
	case p.hasZone:
		sec = daysFromCivil(p.year, p.month, p.day)*86400 + int64(p.hour*3600+p.min*60+p.sec) - int64(p.offset)
	case loc == nil || loc == time.UTC:
		sec = daysFromCivil(p.year, p.month, p.day)*86400 + int64(p.hour*3600+p.min*60+p.sec)
	default:
		sec = time.Date(p.year, time.Month(p.month), p.day, p.hour, p.min, p.sec, 0, loc).Unix()
	}
	nsec = int64(p.nsec)
	if sec < minUnixSec || sec > maxUnixSec {
		return 0, 0, probTimeRange
	}
	if p.fracDigits <= precDigits(prec) {
		return sec, nsec, "" // nothing finer than the precision
	}
	sec, nsec = truncateInstant(sec, nsec, prec)
	return sec, nsec, ""
}

// tsFast is a timestamp in one of the common exact forms (see scanTimestampFast).
type tsFast struct {
	year, month, day     int
	hour, minute, second int
	nsec                 int64 // the first 9 fraction digits
	fracDigits           int
	offset               int  // seconds east of UTC
	zone                 byte // 0: none, 'Z': Z or z, '+': an offset
}

// scanTimestampFast reads the common exact forms by a straight path:
// "2006-01-02T15:04:05" ('T', 't' or a space), an optional ".fraction", then "Z", "z",
// "+07:00", "-07:00" or nothing, every field in range. false means anything else, valid
// or not: parseTimestampSlow then decides (and names the problem).
func scanTimestampFast(s string, f *tsFast) bool {
	if len(s) < 19 {
		return false
	}
	_ = s[18]
	if s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return false
	}
	y0, y1, y2, y3 := s[0]-'0', s[1]-'0', s[2]-'0', s[3]-'0'
	mo0, mo1, d0, d1 := s[5]-'0', s[6]-'0', s[8]-'0', s[9]-'0'
	h0, h1, mi0, mi1, s0, s1 := s[11]-'0', s[12]-'0', s[14]-'0', s[15]-'0', s[17]-'0', s[18]-'0'
	if y0 > 9 || y1 > 9 || y2 > 9 || y3 > 9 || mo0 > 9 || mo1 > 9 || d0 > 9 || d1 > 9 ||
		h0 > 9 || h1 > 9 || mi0 > 9 || mi1 > 9 || s0 > 9 || s1 > 9 {
		return false
	}
	f.year = int(y0)*1000 + int(y1)*100 + int(y2)*10 + int(y3)
	f.month, f.day = int(mo0)*10+int(mo1), int(d0)*10+int(d1)
	f.hour, f.minute, f.second = int(h0)*10+int(h1), int(mi0)*10+int(mi1), int(s0)*10+int(s1)
	if f.year < 1 || f.month < 1 || f.month > 12 || f.day < 1 || f.day > daysIn(f.year, f.month) ||
		f.hour > 23 || f.minute > 59 || f.second > 59 {
		return false
	}
	i := 19
	f.nsec, f.fracDigits, f.offset, f.zone = 0, 0, 0, 0
	if i < len(s) && s[i] == '.' {
		f.nsec, f.fracDigits, i = fraction(s, i+1)
		if f.fracDigits == 0 {
			return false
		}
	}
	switch {
	case i == len(s):
	case s[i] == 'Z' || s[i] == 'z':
		if i+1 != len(s) {
			return false
		}
		f.zone = 'Z'
	case (s[i] == '+' || s[i] == '-') && i+6 == len(s) && s[i+3] == ':':
		oh0, oh1, om0, om1 := s[i+1]-'0', s[i+2]-'0', s[i+4]-'0', s[i+5]-'0'
		if oh0 > 9 || oh1 > 9 || om0 > 9 || om1 > 9 {
			return false
		}
		oh, om := int(oh0)*10+int(oh1), int(om0)*10+int(om1)
		if oh > 23 || om > 59 {
			return false
		}
		f.offset = oh*3600 + om*60
		if s[i] == '-' {
			f.offset = -f.offset
		}
		f.zone = '+'
	default:
		return false
	}
	return true
}

// parseTimestampFast is parseTimestamp for the forms scanTimestampFast reads, in UTC
// when the value has no zone and loc is UTC. When ok, the result is what
// parseTimestampSlow returns for s.
func parseTimestampFast(s string, loc *time.Location, prec int64) (sec, nsec int64, ok bool) {
	var f tsFast
	if !scanTimestampFast(s, &f) || (f.zone == 0 && loc != nil && loc != time.UTC) {
		return 0, 0, false
	}
	sec = daysFromCivil(f.year, f.month, f.day)*86400 + int64(f.hour*3600+f.minute*60+f.second-f.offset)
	if sec < minUnixSec || sec > maxUnixSec {
		return 0, 0, false
	}
	nsec = f.nsec
	if f.fracDigits > precDigits(prec) {
		sec, nsec = truncateInstant(sec, nsec, prec)
	}
	return sec, nsec, true
}

// validTimestampFast reports whether s is a valid timestamp without computing its
// instant, for the forms scanTimestampFast reads whose instant is surely in range: in
// UTC, or in a year that no offset or zone can move out of 0001-9999. false means that
// parseTimestamp has to say.
func validTimestampFast(s string, loc *time.Location) bool {
	if len(s) == 20 && isUTCSecond(s) {
		return true
	}
	var f tsFast
	if !scanTimestampFast(s, &f) {
		return false
	}
	if f.zone == 'Z' || (f.zone == 0 && (loc == nil || loc == time.UTC)) {
		return true
	}
	return f.year > 1 && f.year < 9999
}

// fraction reads the digits of a fraction of a second starting at s[i]: the value in
// nanoseconds (digits past the ninth are read and dropped), how many digits there were
// (0: none, which callers reject) and the index after them.
func fraction(s string, i int) (nsec int64, digits, end int) {
	start := i
	for i < len(s) {
		d := s[i] - '0'
		if d > 9 {
			break
		}
		if i-start < 9 {
			nsec = nsec*10 + int64(d)
		}
		i++
	}
	digits = i - start
	if digits > 0 && digits < 9 {
		nsec *= pow10[9-digits]
	}
	return nsec, digits, i
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// precDigits is how many fraction digits a precision keeps exactly (-1 when the
// precision is not a power of ten of a second).
func precDigits(prec int64) int {
	switch prec {
	case 1:
		return 9
	case 10:
		return 8
	case 100:
		return 7
	case 1e3:
		return 6
	case 1e4:
		return 5
	case 1e5:
		return 4
	case 1e6:
		return 3
	case 1e7:
		return 2
	case 1e8:
		return 1
	case 1e9:
		return 0
	}
	return -1
}

func truncateInstant(sec, nsec, prec int64) (int64, int64) {
	if prec < int64(time.Second) {
		return sec, nsec - nsec%prec
	}
	ps := prec / int64(time.Second)
	return floorDiv(sec, ps) * ps, 0
}

func appendTimestampBytes(dst []byte, sec, nsec int64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(sec)^(1<<63))
	return binary.BigEndian.AppendUint32(dst, uint32(nsec))
}

func decodeTimestampBytes(b []byte) (sec, nsec int64) {
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), int64(binary.BigEndian.Uint32(b[8:]))
}

func formatTimestamp(sec, nsec int64) string {
	return time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano)
}

// isPlainDate reports whether s is exactly a valid "2006-01-02", its own canonical form.
func isPlainDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	// Eight bytes at a time: "YYYY-MM-" and "YY-MM-DD".
	w0, w1 := le64(s, 0), le64(s, 2)
	return w0&^dateDigits0 == dateSeps0 && w1&^dateDigits1 == dateSeps1 &&
		digitsAt(w0, dateDigits0) && digitsAt(w1, dateDigits1) && validYMD(w0, digit2(w1, 6))
}

// The byte layouts of "2006-01-02" (from 0 and from 2) and of "2006-01-02T15:04:05Z"
// (from 0, 8 and 12), little endian: ff marks a digit, the rest the separators.
const (
	dateDigits0 = 0x00ffff00ffffffff // "YYYY-MM-"
	dateSeps0   = 0x2d00002d00000000
	dateDigits1 = 0xffff00ffff00ffff // "YY-MM-DD"
	dateSeps1   = 0x00002d00002d0000
	tsDigits1   = 0xffff00ffff00ffff // "DDTHH:MM"
	tsSeps1     = 0x00003a0000540000
	tsDigits2   = 0x00ffff00ffff00ff // "H:MM:SSZ"
	tsSeps2     = 0x5a00003a00003a00
)

// le64 is the little-endian word of s[i:i+8], in one load (the compiler does not merge
// the byte loads of a string).
func le64(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), len(s))[i:])
}

// digitsAt reports whether the bytes of w that mask marks (0xff) are ASCII digits: their
// high nibble is 3, and adding 6 leaves it 3 (no byte can carry into a marked one
// unless that one already fails the first test).
func digitsAt(w, mask uint64) bool {
	const hi, three, six = 0xf0f0f0f0f0f0f0f0, 0x3030303030303030, 0x0606060606060606
	d := w & mask
	return d&hi == three&mask && (d+six&mask)&hi == three&mask
}

// digit2 is the number of the two digits at bytes i and i+1 of w (known to be digits).
func digit2(w uint64, i int) int {
	return int(w>>(8*i)&0xf)*10 + int(w>>(8*i+8)&0xf)
}

// validYMD checks the ranges of a date whose digits are known to be digits: w0 is the
// word of "YYYY-MM-".
func validYMD(w0 uint64, day int) bool {
	month := digit2(w0, 5)
	if w0&0x0f0f0f0f == 0 || month < 1 || month > 12 || day < 1 {
		return false // year 0000, or no such month or day
	}
	return day <= 28 || day <= daysIn(digit2(w0, 0)*100+digit2(w0, 2), month)
}

// isUTCSecond reports whether s (20 bytes) is exactly a valid "2006-01-02T15:04:05Z".
func isUTCSecond(s string) bool {
	w0, w1, w2 := le64(s, 0), le64(s, 8), le64(s, 12)
	if w0&^dateDigits0 != dateSeps0 || w1&^tsDigits1 != tsSeps1 || w2&^tsDigits2 != tsSeps2 ||
		!digitsAt(w0, dateDigits0) || !digitsAt(w1, tsDigits1) || !digitsAt(w2, tsDigits2) {
		return false
	}
	return digit2(w1, 3) <= 23 && digit2(w1, 6) <= 59 && digit2(w2, 5) <= 59 && validYMD(w0, digit2(w1, 0))
}

// appendDate appends the canonical "2006-01-02" of a date, optionally written with a
// zero time of day (and a zero offset).
func appendDate(dst []byte, s string) ([]byte, string) {
	if isPlainDate(s) {
		return append(dst, s...), ""
	}
	return appendDateSlow(dst, s)
}

// appendDateSlow is appendDate for every accepted form.
func appendDateSlow(dst []byte, s string) ([]byte, string) {
	var p tsParts
	if !parseTSParts(s, &p) {
		return dst, probNotDate
	}
	if p.hour != 0 || p.min != 0 || p.sec != 0 || p.nsec != 0 || p.fracRest || (p.hasZone && p.offset != 0) {
		return dst, probDateHasTime
	}
	return append(dst, s[:10]...), ""
}

// dateDays returns the days since the epoch of a canonical date.
func dateDays(b []byte) int64 {
	n := func(i, w int) int {
		v := 0
		for k := i; k < i+w; k++ {
			v = v*10 + int(b[k]-'0')
		}
		return v
	}
	return daysFromCivil(n(0, 4), n(5, 2), n(8, 2))
}
