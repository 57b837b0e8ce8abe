package store

import (
	"context"
	"fmt"
)

// OpenPostgres opens the PostgreSQL results store.
//
// Not built yet: the PostgreSQL backend arrives with the database test harness, and
// must pass the same conformance suite (storetest) as SQLite before it is offered.
func OpenPostgres(ctx context.Context, uri string) (Store, error) {
	return nil, fmt.Errorf("store %s: the PostgreSQL results store is not implemented yet; use sqlite:PATH", redact(uri))
}
