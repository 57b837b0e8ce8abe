package diff

import (
	"bytes"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonical JSON: no insignificant whitespace, object members sorted by the bytes of
// their (unescaped) names, numbers in canonical decimal form (so 1.0, 1 and 1e0 are
// equal), strings escaped minimally (only '"', '\\' and control characters). Rejected:
// duplicate member names, nesting deeper than maxJSONDepth, and strings with invalid
// UTF-8 or a lone surrogate escape. (encoding/json makes those U+FFFD, which would make
// two different values equal.)

const (
	probNotJSON       = "is not valid JSON"
	probJSONDuplicate = "is not valid JSON (duplicate object key)"
	probJSONDepth     = "is not valid JSON (nested too deeply)"
	probJSONUTF8      = "is not valid JSON (a string is not valid UTF-8)"
	probJSONSurrogate = "is not valid JSON (a lone surrogate escape stands for no character)"
	maxJSONDepth      = 512
)

type jsonCanon struct {
	s       string
	i       int
	problem string
}

func appendCanonJSON(dst []byte, s string) ([]byte, string) {
	c := jsonCanon{s: s}
	c.ws()
	out := c.value(dst, 0)
	c.ws()
	if c.problem == "" && c.i != len(s) {
		c.problem = probNotJSON
	}
	if c.problem != "" {
		return dst, c.problem
	}
	return out, ""
}

func (c *jsonCanon) fail(p string) {
	if c.problem == "" {
		c.problem = p
	}
}

func (c *jsonCanon) ws() {
	for c.i < len(c.s) {
		switch c.s[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *jsonCanon) lit(dst []byte, word string) []byte {
	if len(c.s)-c.i >= len(word) && c.s[c.i:c.i+len(word)] == word {
		c.i += len(word)
		return append(dst, word...)
	}
	c.fail(probNotJSON)
	return dst
}

func (c *jsonCanon) value(dst []byte, depth int) []byte {
	if c.i >= len(c.s) {
		c.fail(probNotJSON)
		return dst
	}
	if (c.s[c.i] == '{' || c.s[c.i] == '[') && depth >= maxJSONDepth {
		// A container here holds values deeper than the limit, even when it is empty.
		c.fail(probJSONDepth)
		return dst
	}
	switch ch := c.s[c.i]; {
	case ch == '{':
		return c.object(dst, depth)
	case ch == '[':
		c.i++
		dst = append(dst, '[')
		c.ws()
		if c.i < len(c.s) && c.s[c.i] == ']' {
			c.i++
			return append(dst, ']')
		}
		for c.problem == "" {
			c.ws()
			dst = c.value(dst, depth+1)
			c.ws()
			if c.i < len(c.s) && c.s[c.i] == ',' {
				c.i++
				dst = append(dst, ',')
				continue
			}
			if c.i < len(c.s) && c.s[c.i] == ']' {
				c.i++
				return append(dst, ']')
			}
			c.fail(probNotJSON)
		}
		return dst
	case ch == '"':
		dst = append(dst, '"')
		dst = c.str(dst, true)
		return append(dst, '"')
	case ch == 't':
		return c.lit(dst, "true")
	case ch == 'f':
		return c.lit(dst, "false")
	case ch == 'n':
		return c.lit(dst, "null")
	case ch == '-' || isDigit(ch):
		start := c.i
		for c.i < len(c.s) {
			ch := c.s[c.i]
			if isDigit(ch) || ch == '-' || ch == '+' || ch == '.' || ch == 'e' || ch == 'E' {
				c.i++
				continue
			}
			break
		}
		out, p := appendCanonDecimal(dst, c.s[start:c.i], false, true)
		if p != "" {
			c.fail(probNotJSON)
			return dst
		}
		return out
	}
	c.fail(probNotJSON)
	return dst
}

type jsonMember struct {
	name       []byte // unescaped
	start, end int    // canonical "name":value in the scratch buffer
}

func (c *jsonCanon) object(dst []byte, depth int) []byte {
	c.i++ // '{'
	c.ws()
	if c.i < len(c.s) && c.s[c.i] == '}' {
		c.i++
		return append(dst, '{', '}')
	}
	var members []jsonMember
	var scratch []byte
	for c.problem == "" {
		c.ws()
		if c.i >= len(c.s) || c.s[c.i] != '"' {
			c.fail(probNotJSON)
			break
		}
		name := c.str(nil, false)
		start := len(scratch)
		scratch = append(scratch, '"')
		scratch = appendJSONString(scratch, name)
		scratch = append(scratch, '"', ':')
		c.ws()
		if c.i >= len(c.s) || c.s[c.i] != ':' {
			c.fail(probNotJSON)
			break
		}
		c.i++
		c.ws()
		scratch = c.value(scratch, depth+1)
		members = append(members, jsonMember{name: name, start: start, end: len(scratch)})
		c.ws()
		if c.i < len(c.s) && c.s[c.i] == ',' {
			c.i++
			continue
		}
		if c.i < len(c.s) && c.s[c.i] == '}' {
			c.i++
			break
		}
		c.fail(probNotJSON)
	}
	if c.problem != "" {
		return dst
	}
	slices.SortFunc(members, func(a, b jsonMember) int { return bytes.Compare(a.name, b.name) })
	dst = append(dst, '{')
	for k, m := range members {
		if k > 0 {
			if bytes.Equal(members[k-1].name, m.name) {
				c.fail(probJSONDuplicate)
				return dst
			}
			dst = append(dst, ',')
		}
		dst = append(dst, scratch[m.start:m.end]...)
	}
	return append(dst, '}')
}

// str reads a JSON string at c.i (which is '"') and appends it to dst: re-escaped
// canonically when escape, else unescaped.
func (c *jsonCanon) str(dst []byte, escape bool) []byte {
	c.i++
	var tmp []byte
	if escape {
		tmp = make([]byte, 0, 16)
	} else {
		tmp = dst
	}
	for {
		if c.i >= len(c.s) {
			c.fail(probNotJSON)
			return dst
		}
		ch := c.s[c.i]
		switch {
		case ch == '"':
			c.i++
			if escape {
				return appendJSONString(dst, tmp)
			}
			return tmp
		case ch < 0x20:
			c.fail(probNotJSON)
			return dst
		case ch == '\\':
			c.i++
			if c.i >= len(c.s) {
				c.fail(probNotJSON)
				return dst
			}
			e := c.s[c.i]
			c.i++
			switch e {
			case '"', '\\', '/':
				tmp = append(tmp, e)
			case 'b':
				tmp = append(tmp, '\b')
			case 'f':
				tmp = append(tmp, '\f')
			case 'n':
				tmp = append(tmp, '\n')
			case 'r':
				tmp = append(tmp, '\r')
			case 't':
				tmp = append(tmp, '\t')
			case 'u':
				r, ok := c.hex4()
				if !ok {
					c.fail(probNotJSON)
					return dst
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if c.i+1 < len(c.s) && c.s[c.i] == '\\' && c.s[c.i+1] == 'u' {
						c.i += 2
						lo, ok := c.hex4()
						if !ok {
							c.fail(probNotJSON)
							return dst
						}
						r2 = utf16.DecodeRune(r, lo)
					}
					if r2 == utf8.RuneError {
						c.fail(probJSONSurrogate)
						return dst
					}
					r = r2
				}
				tmp = utf8.AppendRune(tmp, r)
			default:
				c.fail(probNotJSON)
				return dst
			}
		case ch < utf8.RuneSelf:
			tmp = append(tmp, ch)
			c.i++
		default:
			r, size := utf8.DecodeRuneInString(c.s[c.i:])
			if r == utf8.RuneError && size == 1 {
				c.fail(probJSONUTF8)
				return dst
			}
			tmp = append(tmp, c.s[c.i:c.i+size]...)
			c.i += size
		}
	}
}

func (c *jsonCanon) hex4() (rune, bool) {
	if c.i+4 > len(c.s) {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		ch := c.s[c.i+k]
		switch {
		case isDigit(ch):
			r = r*16 + rune(ch-'0')
		case ch >= 'a' && ch <= 'f':
			r = r*16 + rune(ch-'a'+10)
		case ch >= 'A' && ch <= 'F':
			r = r*16 + rune(ch-'A'+10)
		default:
			return 0, false
		}
	}
	c.i += 4
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends the canonical escaping of valid UTF-8 s (without quotes).
func appendJSONString(dst, s []byte) []byte {
	for _, ch := range s {
		switch {
		case ch == '"' || ch == '\\':
			dst = append(dst, '\\', ch)
		case ch == '\n':
			dst = append(dst, '\\', 'n')
		case ch == '\r':
			dst = append(dst, '\\', 'r')
		case ch == '\t':
			dst = append(dst, '\\', 't')
		case ch == '\b':
			dst = append(dst, '\\', 'b')
		case ch == '\f':
			dst = append(dst, '\\', 'f')
		case ch < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[ch>>4], hexDigits[ch&0xF])
		default:
			dst = append(dst, ch)
		}
	}
	return dst
}
