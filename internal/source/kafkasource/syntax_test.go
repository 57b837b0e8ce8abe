package kafkasource

import (
	"strings"
	"testing"
)

// A syntax error's reason never shows the character at fault: it is part of a value,
// which may be sensitive (the reader does not know which fields are).
func TestSyntaxErrorHidesTheCharacter(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`{"iban": 5Z}`, "invalid character after object key:value pair (at byte 11)"},
		{`{"iban": "x"}'`, "invalid character after top-level value (at byte 14)"},
		{"{\"iban\": \x01}", "invalid character looking for beginning of value (at byte 10)"},
		{`{"a": é}`, "invalid character looking for beginning of value (at byte 7)"},
		{`{"a": nope}`, "invalid character in literal null (expecting 'u') (at byte 8)"},
	} {
		got := syntaxError([]byte(tc.value))
		if got != tc.want {
			t.Errorf("syntaxError(%q) = %q, want %q", tc.value, got, tc.want)
		}
		if strings.Contains(got, "'Z'") || strings.Contains(got, "é") || strings.Contains(got, `'\''`) {
			t.Errorf("syntaxError(%q) = %q shows the character", tc.value, got)
		}
	}
}
