package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://clear:hunter2@db:5432/results", "postgres://db:5432/results"},
		{"postgres://clear@127.0.0.1:1/db?password=hunter2&connect_timeout=1", "postgres://127.0.0.1:1/db"},
		{"postgres://clear:hun/ter2@127.0.0.1:1/db", "postgres://127.0.0.1:1/db"},
		{"postgres://clear:hun%zzter2@127.0.0.1/db", "postgres://127.0.0.1/db"}, // not a valid URL
		{"postgres://clear:hun?ter2@127.0.0.1/db", "postgres://127.0.0.1/db"},
		{"postgres://clear:12#ter2@127.0.0.1/db", "postgres://127.0.0.1/db"}, // parses: host "clear", port 12
		{"postgres://clear:12/ter2@127.0.0.1/db", "postgres://127.0.0.1/db"},
		{"postgres://clear:pw@ter2@127.0.0.1/db", "postgres://127.0.0.1/db"},
		{"https://bucket.example/ledger.csv?X-Amz-Signature=hunter2#frag", "https://bucket.example/ledger.csv"},
		{"sqlite:.ch/results.db", "sqlite:.ch/results.db"},
		{"results.db", "results.db"},
	} {
		got := URL(tc.in)
		if strings.Contains(got, "ter2") || strings.Contains(got, "hun") || strings.Contains(got, "clear") {
			t.Errorf("URL(%q) = %q: the password is still there", tc.in, got)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
