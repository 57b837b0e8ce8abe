package manager

import "testing"

// The store URI goes to worker pods' command lines only when it names PostgreSQL and
// carries no password, in its user info or its query. The embedded SQLite store (the
// default, a file on the manager's volume) never does: worker pods cannot reach it, so
// Kubernetes jobs must report that there is no store for workers rather than start pods
// that fail to open it.
func TestWorkerStoreURIHasNoPassword(t *testing.T) {
	for uri, worker := range map[string]string{
		"postgres://clearhouse@db/results?sslmode=require":             "postgres://clearhouse@db/results?sslmode=require",
		"postgresql://clearhouse@db/results":                           "postgresql://clearhouse@db/results",
		"postgres://clearhouse:pw@db/results":                          "",
		"postgres://clearhouse@db/results?password=pw&sslmode=require": "",
		"sqlite:/data/results.db":                                      "",
		"sqlite:///data/results.db":                                    "",
		"/data/results.db":                                             "",
		"":                                                             "", // the default: SQLite in the data dir
	} {
		if got := withDefaults(Options{StoreURI: uri}).WorkerStoreURI; got != worker {
			t.Errorf("store %q: worker store %q, want %q", uri, got, worker)
		}
	}
	// Given explicitly, a SQLite worker store is kept (workers on the manager's host).
	if got := withDefaults(Options{WorkerStoreURI: "sqlite:/shared/results.db"}).WorkerStoreURI; got != "sqlite:/shared/results.db" {
		t.Errorf("explicit worker store %q", got)
	}
}
