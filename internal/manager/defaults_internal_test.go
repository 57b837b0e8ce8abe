package manager

import "testing"

// The store URI goes to worker pods' command lines only when it carries no password, in
// its user info or its query.
func TestWorkerStoreURIHasNoPassword(t *testing.T) {
	for uri, worker := range map[string]string{
		"postgres://clearhouse@db/results?sslmode=require":             "postgres://clearhouse@db/results?sslmode=require",
		"postgres://clearhouse:pw@db/results":                          "",
		"postgres://clearhouse@db/results?password=pw&sslmode=require": "",
		"sqlite:/data/results.db":                                      "sqlite:/data/results.db",
	} {
		if got := withDefaults(Options{StoreURI: uri}).WorkerStoreURI; got != worker {
			t.Errorf("store %q: worker store %q, want %q", uri, got, worker)
		}
	}
}
