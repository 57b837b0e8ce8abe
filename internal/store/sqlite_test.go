package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "results", "store.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSQLiteReopen: opening an existing store keeps its data and applies no migration
// twice.
func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartRun(ctx, store.Run{ID: "r", Job: "j"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, err := s.GetRun(ctx, "r"); err != nil {
		t.Errorf("run lost on reopen: %v", err)
	}
}
