package store_test

import (
	"bytes"
	"database/sql"
	"os"
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

// TestSQLiteConcurrentUpgradeToSettings: a SQLite store of the previous schema
// (migrations 0001 and 0002, in WAL mode as OpenSQLite leaves it) opened by several processes at once (the manager, a CLI
// --store run) is upgraded once: every open succeeds and they share one mask key.
// Before, each process checked schema_migrations outside the migration's transaction,
// so two applied 0003 and one failed with "table settings already exists".
func TestSQLiteConcurrentUpgradeToSettings(t *testing.T) {
	for attempt := range 5 {
		path := filepath.Join(t.TempDir(), "store.db")
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		stmts := []string{`PRAGMA journal_mode=WAL`, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`}
		for _, f := range []string{"0001_init.sql", "0002_strategy.sql"} {
			b, err := os.ReadFile(filepath.Join("migrations", "sqlite", f))
			if err != nil {
				t.Fatal(err)
			}
			stmts = append(stmts, string(b))
		}
		stmts = append(stmts, `INSERT INTO schema_migrations (version) VALUES (1), (2)`)
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		_ = db.Close()
		const n = 6
		keys := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s, err := store.OpenSQLite(t.Context(), path)
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
				t.Fatalf("attempt %d, store %d: %v", attempt, i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("attempt %d: store %d drew %x, store 0 %x", attempt, i, keys[i], keys[0])
			}
		}
	}
}
