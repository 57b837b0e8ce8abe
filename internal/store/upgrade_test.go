package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestUpgradeFromInit: a store created by migration 0001 alone, with a finished run,
// opens with the later migrations applied: the old run is intact with no strategy
// known, and new runs record theirs.
func TestUpgradeFromInit(t *testing.T) {
	ctx := context.Background()
	pg := testdb.NewPostgres(t)
	sqlitePath := filepath.Join(t.TempDir(), "store.db")
	for _, tc := range []struct {
		dialect, driver, dsn string
		open                 func() (store.Store, error)
	}{
		{"sqlite", "sqlite", "file:" + sqlitePath, func() (store.Store, error) { return store.OpenSQLite(ctx, sqlitePath) }},
		{"postgres", "pgx", pg.URI(), func() (store.Store, error) { return store.OpenPostgres(ctx, pg.URI()) }},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			initSQL, err := os.ReadFile(filepath.Join("migrations", tc.dialect, "0001_init.sql"))
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open(tc.driver, tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			started := time.Date(2026, 11, 20, 6, 30, 0, 0, time.UTC)
			for _, stmt := range []string{
				`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`,
				string(initSQL),
				`INSERT INTO schema_migrations (version) VALUES (1)`,
			} {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO runs (id, job, trigger_kind, partitions, state, started_at, finished_at, compared, matched)
				VALUES ('old', 'j', 'Manual', 1, 'balanced', $1, $2, 5, 5)`, started, started.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s, err := tc.open()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close() }()
			old, err := s.GetRun(ctx, "old")
			if err != nil {
				t.Fatal(err)
			}
			if old.State != store.RunBalanced || old.Summary.Matched != 5 || old.Strategy != "" {
				t.Errorf("old run after upgrade: state %s matched %d strategy %q", old.State, old.Summary.Matched, old.Strategy)
			}
			if err := s.StartRun(ctx, store.Run{ID: "new", Job: "j", StartedAt: started.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := s.WritePartition(ctx, store.Partition{RunID: "new", Summary: diff.Summary{Compared: 1, Matched: 1, SourceRows: 1, TargetRows: 1, Strategy: diff.StrategyHash}}); err != nil {
				t.Fatal(err)
			}
			r, err := s.FinishRun(ctx, "new", store.RunCompleted, started.Add(2*time.Hour), "")
			if err != nil {
				t.Fatal(err)
			}
			if r.Strategy != diff.StrategyHash {
				t.Errorf("new run: strategy %q, want hash", r.Strategy)
			}
		})
	}
}
