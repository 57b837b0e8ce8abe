package runner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// hungKeyStore is a store whose MaskKey answers only when its context ends.
type hungKeyStore struct{ store.Store }

func (hungKeyStore) MaskKey(ctx context.Context) ([]byte, error) {
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

// TestExecuteMaskKeyWithinTimeout: fetching the mask key from the store is part of the
// run, bounded by spec.limits.timeout like every other store call: a store that does not
// answer fails the run at its timeout, naming it, rather than hanging it.
func TestExecuteMaskKeyWithinTimeout(t *testing.T) {
	cfg := gen.DefaultConfig("")
	cfg.Rows = 100
	p := runnertest.Generate(t, cfg, "fin", nil)
	plan, err := runner.PlanFor(p.Job, p.Source, p.Target)
	if err != nil {
		t.Fatal(err)
	}
	plan.Timeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = runner.Execute(ctx, plan, nil, nil, runner.Partition{RunID: "r", Index: 0, Count: 1}, hungKeyStore{sqliteStore(t)})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Execute returned after %s: the mask key fetch is not bounded by the run's timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), "run timed out after 200ms (spec.limits.timeout)") {
		t.Fatalf("err = %v, want the run's timeout named", err)
	}
}
