package store_test

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestMaskKeyFirstUseAcrossStores: processes (separate Store values, separate pools)
// opening a fresh (migrated, no key yet) store at once and asking for its mask key all get one key, on SQLite
// and on PostgreSQL.
func TestMaskKeyFirstUseAcrossStores(t *testing.T) {
	pg := testdb.NewPostgres(t)
	path := filepath.Join(t.TempDir(), "store.db")
	for name, open := range map[string]func() (store.Store, error){
		"sqlite":   func() (store.Store, error) { return store.OpenSQLite(t.Context(), path) },
		"postgres": func() (store.Store, error) { return store.OpenPostgres(t.Context(), pg.URI()) },
	} {
		t.Run(name, func(t *testing.T) {
			// Migrated first: concurrent first opens of one SQLite file race on the
			// migrations themselves (before this change too); here the key is at stake.
			s, err := open()
			if err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			const n = 6
			keys := make([][]byte, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					s, err := open()
					if err != nil {
						errs[i] = err
						return
					}
					defer func() { _ = s.Close() }()
					keys[i], errs[i] = s.MaskKey(t.Context())
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("store %d: %v", i, errs[i])
				}
				if !bytes.Equal(keys[i], keys[0]) {
					t.Fatalf("store %d drew %x, store 0 %x", i, keys[i], keys[0])
				}
			}
		})
	}
}
