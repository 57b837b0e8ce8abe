package kafkasource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// member is one name/value pair of a JSON object, the value as written.
type member struct {
	key string
	raw json.RawMessage
}

// members splits a JSON object into its members, in order. raw must be valid JSON.
func members(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("is %s, not a JSON object", kindOf(raw))
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		ms = append(ms, member{key: key, raw: v})
	}
	return ms, nil
}

// rowObject returns the row of a record value: the value's object, or the object at
// path. ok is false (and reason empty) when the path holds JSON null: a delete. A
// reason says why the value is no row.
func rowObject(value []byte, path string) (row []member, ok bool, reason string) {
	if !json.Valid(value) {
		return nil, false, "value is not valid JSON: " + syntaxError(value)
	}
	if why := badUnicode(value); why != "" {
		return nil, false, "value " + why
	}
	ms, err := members(value)
	if err != nil {
		return nil, false, "value " + err.Error()
	}
	if path == "" {
		return ms, true, ""
	}
	raw, found, err := lookup(ms, splitPath(path))
	if err != nil {
		return nil, false, "value " + err.Error()
	}
	if !found {
		return nil, false, fmt.Sprintf("value has no field %s", path)
	}
	if string(raw) == "null" {
		return nil, false, ""
	}
	row, err = members(raw)
	if err != nil {
		return nil, false, fmt.Sprintf("field %s %v", path, err)
	}
	return row, true, ""
}

// quotedChar is the character encoding/json quotes in a syntax error ("invalid
// character 'x' ...", 'x' as Go quotes a rune).
var quotedChar = regexp.MustCompile(`^invalid character '(?:\\.|[^'\\])+'`)

// syntaxError describes why b is not valid JSON.
func syntaxError(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Without the character: it is part of a value, which may be sensitive.
		return fmt.Sprintf("%s (at byte %d)", quotedChar.ReplaceAllString(se.Error(), "invalid character"), se.Offset)
	case err != nil:
		return err.Error()
	}
	return "invalid"
}

func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// splitPath splits a field path at its dots.
func splitPath(p string) []string { return strings.Split(p, ".") }

// lookup finds a field path in an object. At each level the longest run of path
// parts that is a member name wins ("a.b" as one member before a then b). A member the
// path goes through or ends at that appears twice in its object is an error: which of
// its values counts is anybody's guess (RFC 8259 leaves it open), and a reconciliation
// must not pick one silently.
func lookup(ms []member, parts []string) (json.RawMessage, bool, error) {
	for n := len(parts); n >= 1; n-- {
		key := strings.Join(parts[:n], ".")
		raw, ok, twice := find(ms, key)
		if !ok {
			continue
		}
		if twice {
			return nil, false, fmt.Errorf("member %q appears twice in its object", key)
		}
		if n == len(parts) {
			return raw, true, nil
		}
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		sub, err := members(raw)
		if err != nil {
			continue
		}
		v, ok, err := lookup(sub, parts[n:])
		if err != nil || ok {
			return v, ok, err
		}
	}
	return nil, false, nil
}

// find returns the value of the member named key, and whether another member has
// that name.
func find(ms []member, key string) (raw json.RawMessage, ok, twice bool) {
	for _, m := range ms {
		if m.key == key {
			if ok {
				return raw, true, true
			}
			raw, ok = m.raw, true
		}
	}
	return raw, ok, false
}

// cellOf is a JSON value as the engine reads it (see the package doc).
func cellOf(raw json.RawMessage) (diff.Cell, error) {
	switch raw[0] {
	case 'n':
		return diff.Cell{Null: true}, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return diff.Cell{}, err
		}
		return diff.Cell{Text: s}, nil
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return diff.Cell{}, err
		}
		return diff.Cell{Text: b.String()}, nil
	}
	return diff.Cell{Text: string(raw)}, nil // number literal as written, true, false
}

// badUnicode says why valid JSON b holds a string that is no text: invalid UTF-8 or a
// lone surrogate escape ("\\ud800"), which encoding/json would make U+FFFD, and two
// different values equal (the JSON Lines reader refuses them too); "" when it holds
// none.
func badUnicode(b []byte) string {
	if !utf8.Valid(b) {
		return "has a string that is not valid UTF-8"
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' { // json.Valid: an escape is whole
			i++
			continue
		}
		r := hex4(b[i+2:])
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' &&
			utf16.DecodeRune(r, hex4(b[i+8:])) != utf8.RuneError:
			i += 11
		case utf16.IsSurrogate(r):
			return "has a lone surrogate escape in a string: it stands for no character"
		default:
			i += 5
		}
	}
	return ""
}

// hex4 is the value of the four hex digits b starts with (json.Valid checked them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
