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

func TestHasPassword(t *testing.T) {
	for uri, want := range map[string]bool{
		"postgres://clear:pw@db/results":                                 true,
		"postgres://clear@db/results?password=pw&sslmode=require":        true,
		"postgres://clear@db/results?sslpassword=pw":                     true,
		"postgres://clear:12/ter2@db/results":                            true,
		"postgres://clear:pw#x@db/results":                               true,
		"https://h/f.csv?X-Amz-Security-Token=t":                         true,
		"postgres://clear@db/results?sslmode=require&connect_timeout=10": false,
		"postgres://db/results":                                          false,
		"sqlite:/var/lib/clearhouse/results.db":                          false,
		"results.db":                                                     false,
	} {
		if got := HasPassword(uri); got != want {
			t.Errorf("HasPassword(%q) = %v, want %v", uri, got, want)
		}
	}
}
