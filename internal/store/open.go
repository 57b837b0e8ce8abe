package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/redact"
)

// Open opens the store a URI names: sqlite:///abs/path.db, sqlite:rel/path.db or a plain
// path for the embedded SQLite store; postgres:// or postgresql:// for PostgreSQL.
func Open(ctx context.Context, uri string) (Store, error) {
	switch {
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		return OpenPostgres(ctx, uri)
	case strings.HasPrefix(uri, "sqlite://"):
		return OpenSQLite(ctx, strings.TrimPrefix(uri, "sqlite://"))
	case strings.HasPrefix(uri, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(uri, "sqlite:"))
	case strings.Contains(uri, "://"):
		return nil, fmt.Errorf("store %q: unsupported scheme (want sqlite: or postgres://)", redact.URL(uri))
	}
	return OpenSQLite(ctx, uri)
}
