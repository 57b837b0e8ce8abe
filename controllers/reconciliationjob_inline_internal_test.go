package controllers

import (
	"context"
	"path/filepath"
	"testing"

	"k8s.io/utils/clock"

	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// A run due while the manager is stopping (its inline pool already shut) is
// Interrupted, like a run the shutdown cancels: retried by the next leader, and never
// a Failed run that alerts and counts as a failure for a routine restart.
func TestRunStartedDuringShutdownIsInterrupted(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	pool := NewInlineExecutor(1)
	pool.cancel(errShutdown) // what Start does when the manager stops
	r := &ReconciliationJobReconciler{Store: st, Inline: pool, Clock: clock.RealClock{}}
	job := testJob()
	job.UID = "uid"
	d := trigger.Decision{Due: []trigger.Trigger{{Kind: trigger.Nonce, Nonce: "n", Time: t0}}}
	started, _, err := r.startDue(ctx, job, runner.Plan{}, nil, d, t0)
	if err != nil || !started {
		t.Fatalf("startDue = %v, %v", started, err)
	}
	id := trigger.RunID("uid", d.Due[0])
	got, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.RunInterrupted || got.Error != errShutdown.Error() {
		t.Fatalf("run %s = %s %q, want interrupted %q", id, got.State, got.Error, errShutdown)
	}
}
