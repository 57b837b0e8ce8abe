package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://clear:hunter2@db:5432/results", "postgres://db:5432/results"},
		{"postgres://clear@127.0.0.1:1/db?password=hunter2&connect_timeout=1", "postgres://127.0.0.1:1/db"},
		{"postgres://host:5432/db?user=a@b.com&password=hunter2", "postgres://host/db"},
		{"https://host/f.csv?X-Amz-Credential=AKIA@x&X-Amz-Signature=hunter2", "https://host/f.csv"},
		{"postgres://clear:hun/ter2@127.0.0.1:1/db", "postgres://<redacted>"},
		{"postgres://clear:hun%zzter2@127.0.0.1/db", "postgres://127.0.0.1/db"}, // not a valid URL
		{"postgres://u:hunter2@h:99x/db?sslmode=x", "postgres://h:99x/db"},      // nor this (the port)
		{"postgres://clear:hun?ter2@127.0.0.1/db", "postgres://<redacted>"},
		{"postgres://clear:12#hunter2@127.0.0.1/db", "postgres://clear"}, // parses: host "clear", port 12
		{"postgres://clear:12/hunter2@127.0.0.1/db", "postgres://<redacted>"},
		{"postgres://clear:pw@hunter2@127.0.0.1/db", "postgres://127.0.0.1/db"},
		{"https://host/a@b/file.csv", "https://<redacted>"},
		{"https://bucket.example/ledger.csv?X-Amz-Signature=hunter2#frag", "https://bucket.example/ledger.csv"},
		{"sqlite:.ch/results.db", "sqlite:.ch/results.db"},
		{"sqlite:/x@hunter2.db", "sqlite:<redacted>"},
		{"results.db", "results.db"},
	} {
		got := URL(tc.in)
		if strings.Contains(got, "hunter2") || strings.Contains(got, "ter2") || strings.Contains(got, "12") && strings.Contains(got, "clear") {
			t.Errorf("URL(%q) = %q: the password is still there", tc.in, got)
		}
		if got != tc.want {
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
