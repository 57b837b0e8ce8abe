package diff

import (
	"encoding/binary"
	"time"
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
				i++
				start := i
				for i < len(s) {
					d := s[i] - '0'
					if d > 9 {
						break
					}
					if i-start < 9 {
						p.nsec = p.nsec*10 + int(d)
					}
					i++
				}
				p.fracDigits = i - start
				if p.fracDigits == 0 {
					return false
				}
				for k := p.fracDigits; k < 9; k++ {
					p.nsec *= 10
				}
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

// appendDate appends the canonical "2006-01-02" of a date, optionally written with a
// zero time of day (and a zero offset).
func appendDate(dst []byte, s string) ([]byte, string) {
	var p tsParts
	if !parseTSParts(s, &p) {
		return dst, probNotDate
	}
	if p.hour != 0 || p.min != 0 || p.sec != 0 || p.nsec != 0 || (p.hasZone && p.offset != 0) {
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
