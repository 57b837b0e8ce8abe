package store_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func raceKey(id string) []diff.KeyValue {
	return []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: id}}}
}

func raceRun(t *testing.T, s store.Store, id string, at time.Time, ds ...diff.Discrepancy) {
	t.Helper()
	ctx := context.Background()
	if err := s.StartRun(ctx, store.Run{ID: id, Job: "ns/j", Trigger: "Schedule", StartedAt: at}); err != nil {
		t.Fatal(err)
	}
	sum := diff.Summary{Compared: int64(len(ds)), MissingInTarget: int64(len(ds)), SourceRows: int64(len(ds))}
	if err := s.WritePartition(ctx, store.Partition{RunID: id, Summary: sum, Discrepancies: ds}); err != nil {
		t.Fatal(err)
	}
}

// pgStoreAndRaw opens a PostgreSQL store on a fresh database, and a plain connection
// pool to the same database for the test's own locks and reads.
func pgStoreAndRaw(t *testing.T) (store.Store, *sql.DB) {
	t.Helper()
	pg := testdb.NewPostgres(t)
	s, err := store.OpenPostgres(context.Background(), pg.URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	raw, err := sql.Open("pgx", pg.URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return s, raw
}

// waitLockWaiters waits until n backends of the database wait on a lock.
func waitLockWaiters(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never saw %d lock waiters", n)
}

// TestPGConcurrentFinishRunAppliesOnce: two FinishRun calls of one run (an inline
// run's own finish and another replica's observe, or abort racing the finish) both saw
// the run running, and the second re-applied the case updates (and overwrote the state).
func TestPGConcurrentFinishRunAppliesOnce(t *testing.T) {
	ctx := context.Background()
	s, raw := pgStoreAndRaw(t)

	t0 := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	k := diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: raceKey("42")}
	raceRun(t, s, "r1", t0, k)
	if _, err := s.FinishRun(ctx, "r1", store.RunDiscrepant, t0.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	raceRun(t, s, "r2", t0.Add(time.Hour), k)

	// Hold the run's row so both finishers have read it as running before either writes.
	lock, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`SELECT 1 FROM runs WHERE id = 'r2' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	states := []store.RunState{store.RunDiscrepant, store.RunCompleted}
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.FinishRun(ctx, "r2", states[i], t0.Add(61*time.Minute), "")
		}()
	}
	waitLockWaiters(t, raw, 2)
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("finish errors: %v", errs)
	cs, err := s.Cases(ctx, store.CaseFilter{Job: "ns/j"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Occurrences != 2 {
		for _, c := range cs {
			t.Logf("case %d %s %s occurrences %d", c.ID, c.Kind, c.State, c.Occurrences)
		}
		t.Errorf("after run r2 found key 42 once more: want 1 case with 2 occurrences, got %d cases (see log)", len(cs))
	}
}

// TestPGReviewerCannotReopenAnAutoResolvedCase: a reviewer acknowledging a case while a
// run auto-resolves it used to reopen the resolved case (UpdateCase read the state
// without a lock); now the acknowledge is refused with ErrChanged.
func TestPGReviewerCannotReopenAnAutoResolvedCase(t *testing.T) {
	ctx := context.Background()
	s, raw := pgStoreAndRaw(t)

	t0 := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	raceRun(t, s, "r1", t0, diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: raceKey("42")})
	if _, err := s.FinishRun(ctx, "r1", store.RunDiscrepant, t0.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	cs, _ := s.Cases(ctx, store.CaseFilter{Job: "ns/j"})
	id := cs[0].ID
	raceRun(t, s, "r2", t0.Add(time.Hour)) // balanced: key 42 is fixed

	lock, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`SELECT 1 FROM cases WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ferr, uerr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, ferr = s.FinishRun(ctx, "r2", store.RunBalanced, t0.Add(61*time.Minute), "")
	}()
	waitLockWaiters(t, raw, 1)
	go func() {
		defer wg.Done()
		_, uerr = s.UpdateCase(ctx, id, store.CaseUpdate{State: store.CaseAcknowledged, Assignee: "ana"})
	}()
	waitLockWaiters(t, raw, 2)
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if ferr != nil {
		t.Fatal(ferr)
	}
	c, err := s.Cases(ctx, store.CaseFilter{Job: "ns/j"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("update error: %v; case: state %s resolution %q resolved_run %q", uerr, c[0].State, c[0].Resolution, c[0].ResolvedRun)
	if c[0].State != store.CaseResolved {
		t.Errorf("case auto-resolved by r2 is %s after a concurrent acknowledge (want resolved, and the acknowledge refused)", c[0].State)
	}
	if !errors.Is(uerr, store.ErrChanged) {
		t.Errorf("the acknowledge: %v, want store.ErrChanged", uerr)
	}
}

// TestPGConcurrentOpenMigrates: two processes (manager replicas, worker pods of a
// new version) opening one fresh database at once must both succeed.
func TestPGConcurrentOpenMigrates(t *testing.T) {
	ctx := context.Background()
	pg := testdb.NewPostgres(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.OpenPostgres(ctx, pg.URI())
			if err == nil {
				_ = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
}
