package store_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/store/storetest"
)

var pgDatabases atomic.Int64

// TestPostgres runs the conformance suite on PostgreSQL, a fresh database per subtest.
func TestPostgres(t *testing.T) {
	admin := os.Getenv("CLEARHOUSE_TEST_POSTGRES")
	if admin == "" {
		t.Skip("CLEARHOUSE_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	storetest.Run(t, func(t *testing.T) store.Store {
		name := fmt.Sprintf("store_%d_%d", os.Getpid(), pgDatabases.Add(1))
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(admin)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		s, err := store.OpenPostgres(ctx, u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = s.Close()
			if c, err := pgx.Connect(ctx, admin); err == nil {
				_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
				_ = c.Close(ctx)
			}
		})
		return s
	})
}
