package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// gatedFile serves one file over HTTP; once armed, requests wait until the gate opens
// (or the client gives up), which keeps a run in progress for as long as a test needs.
type gatedFile struct {
	*httptest.Server
	mu    sync.Mutex
	armed bool
	open  chan struct{}
	// failing makes requests answer 503 (a source that went down).
	failing bool
}

func serveGated(t *testing.T, path string) *gatedFile {
	t.Helper()
	g := &gatedFile{open: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		armed, open, failing := g.armed, g.open, g.failing
		g.mu.Unlock()
		if failing {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if armed {
			select {
			case <-open:
			case <-r.Context().Done():
				return
			}
		}
		http.ServeFile(w, r, path)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gatedFile) arm() {
	g.mu.Lock()
	g.armed, g.open = true, make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedFile) release() {
	g.mu.Lock()
	close(g.open)
	g.armed = false
	g.mu.Unlock()
}

func (g *gatedFile) setFailing(f bool) {
	g.mu.Lock()
	g.failing = f
	g.mu.Unlock()
}

// gatedPair is a small pair whose source is served by a gated HTTP server, created
// and probed once (the probe must not be gated: a DataSource that is not ready blocks
// runs).
func gatedPair(t *testing.T, ns string, policy chv1.ConcurrencyPolicy) (*runnertest.Pair, *gatedFile) {
	t.Helper()
	p := smallPair(t, ns)
	src := filepath.Join(p.Dir, p.Manifest.Source.File)
	if _, err := os.Stat(src); err != nil {
		t.Fatal(err)
	}
	g := serveGated(t, src)
	p.Source.Spec.File.URL = g.URL + "/" + p.Manifest.Source.File
	p.Source.Spec.ProbeInterval = &metav1.Duration{Duration: 24 * time.Hour}
	p.Job.Spec.ConcurrencyPolicy = policy
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	eventually(t, "source probed", func() error {
		var ds chv1.DataSource
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(p.Source), &ds); err != nil {
			return err
		}
		if ds.Status.LastProbeTime == nil {
			return fmt.Errorf("not probed yet: %v", ds.Status.Conditions)
		}
		return nil
	})
	return p, g
}

// TestForbidSkipsATriggerWhileARunIsActive: with concurrencyPolicy Forbid (the
// default), a new nonce while a run is in progress is consumed without a run, counted
// and recorded in an event; the active run finishes normally.
func TestForbidSkipsATriggerWhileARunIsActive(t *testing.T) {
	p, g := gatedPair(t, "rj-forbid", "")
	uid := string(p.Job.UID)
	g.arm()
	setNonce(t, p.Job, "a")
	idA := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	waitRunning(t, p.Job, idA)

	setNonce(t, p.Job, "b")
	eventually(t, "b skipped", func() error {
		j := getJob(t, p.Job)
		if j.Status.SkippedRuns != 1 || j.Status.LastRunNonce != "b" {
			return fmt.Errorf("skippedRuns %d, lastRunNonce %q", j.Status.SkippedRuns, j.Status.LastRunNonce)
		}
		return nil
	})
	waitRunning(t, p.Job, idA)
	g.release()
	j := waitRunEnded(t, p.Job, idA)
	if j.Status.LastRun.Result != chv1.RunDiscrepant || j.Status.LastRun.Counts != counts(p) {
		t.Errorf("lastRun %+v", j.Status.LastRun)
	}
	if got, want := runIDs(storeRuns(t, p.Job)), []string{idA + "=discrepant"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	if ev := jobEvents(t, p.Job); !containsPrefix(ev, "RunSkipped: Nonce trigger skipped: run "+idA+" is still in progress") {
		t.Errorf("events %q lack the skip", ev)
	}
	if j.Status.SkippedRuns != 1 {
		t.Errorf("skippedRuns %d, want 1", j.Status.SkippedRuns)
	}
}

// TestReplaceAbortsTheActiveRun: with concurrencyPolicy Replace, a new nonce cancels
// the active run, which is recorded Aborted (naming its replacement), and starts the
// new one; Balanced reflects the replacement's result only once it completed.
func TestReplaceAbortsTheActiveRun(t *testing.T) {
	p, g := gatedPair(t, "rj-replace", chv1.ConcurrencyReplace)
	uid := string(p.Job.UID)
	g.arm()
	setNonce(t, p.Job, "a")
	idA := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	waitRunning(t, p.Job, idA)

	setNonce(t, p.Job, "b")
	idB := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "b"})
	waitRunning(t, p.Job, idB)
	j := getJob(t, p.Job)
	if len(j.Status.RecentRuns) != 2 || j.Status.RecentRuns[1].ID != idA || j.Status.RecentRuns[1].Result != chv1.RunAborted ||
		j.Status.RecentRuns[1].Message != "replaced by run "+idB+" (concurrencyPolicy Replace)" {
		t.Fatalf("recentRuns %+v, want b running and a aborted by b", j.Status.RecentRuns)
	}
	// The last finished run was aborted: not Balanced, whatever it had read.
	if err := cond(j, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonAborted, idA); err != nil {
		t.Error(err)
	}
	g.release()
	j = waitRunEnded(t, p.Job, idB)
	if j.Status.LastRun.Result != chv1.RunDiscrepant || j.Status.LastRun.Counts != counts(p) {
		t.Errorf("lastRun %+v", j.Status.LastRun)
	}
	if err := cond(j, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonDiscrepant, idB); err != nil {
		t.Error(err)
	}
	if got, want := runIDs(storeRuns(t, p.Job)), []string{idA + "=aborted", idB + "=discrepant"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	if ev := jobEvents(t, p.Job); !containsPrefix(ev, "RunAborted: run "+idA+" aborted: replaced by run "+idB) {
		t.Errorf("events %q lack the abort", ev)
	}
}

// TestDeletingAJobAbortsItsRun: a run in progress when its job is deleted ends Aborted
// in the store, saying why.
func TestDeletingAJobAbortsItsRun(t *testing.T) {
	p, g := gatedPair(t, "rj-delete", "")
	g.arm()
	defer g.release()
	setNonce(t, p.Job, "a")
	id := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	waitRunning(t, p.Job, id)
	if err := env.Client.Delete(context.Background(), p.Job); err != nil {
		t.Fatal(err)
	}
	eventually(t, "run aborted", func() error {
		r, err := mgr.Store.GetRun(context.Background(), id)
		if err != nil {
			return err
		}
		if r.State != "aborted" || r.Error != "the ReconciliationJob was deleted" {
			return fmt.Errorf("run %s: %s %q", id, r.State, r.Error)
		}
		return nil
	})
}

// TestNonceReusedStartsNothingAndSaysSo: each runNonce value starts one run. A value used
// before (a, then b, then a again: a revert) starts none, and a Warning event says why;
// a new value runs again.
func TestNonceReusedStartsNothingAndSaysSo(t *testing.T) {
	p := smallPair(t, "rj-nonce-reuse")
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	job := getJob(t, p.Job)
	finished := func(n int) func() error {
		return func() error {
			runs := storeRuns(t, job)
			if len(runs) != n {
				return fmt.Errorf("%d runs: %v", len(runs), runIDs(runs))
			}
			for _, r := range runs {
				if r.State == store.RunRunning {
					return fmt.Errorf("run %s still running", r.ID)
				}
			}
			return nil
		}
	}
	for i, nonce := range []string{"a", "b"} {
		setNonce(t, job, nonce)
		eventually(t, "run for nonce "+nonce, finished(i+1))
		eventually(t, "status of nonce "+nonce, func() error {
			if n := getJob(t, job).Status.LastRunNonce; n != nonce {
				return fmt.Errorf("lastRunNonce %q", n)
			}
			return nil
		})
	}
	setNonce(t, job, "a")
	eventually(t, "the reuse said", func() error {
		for _, e := range jobEvents(t, job) {
			if strings.HasPrefix(e, `RunNonceReused: runNonce "a" started run `) {
				return nil
			}
		}
		return fmt.Errorf("events %v", jobEvents(t, job))
	})
	// The status says so too, in a patch that may come just after the event.
	eventually(t, "lastRunNonce a", func() error {
		if n := getJob(t, job).Status.LastRunNonce; n != "a" {
			return fmt.Errorf("lastRunNonce %q", n)
		}
		return nil
	})
	if runs := storeRuns(t, job); len(runs) != 2 {
		t.Fatalf("after the reuse: runs %v", runIDs(runs))
	}
	setNonce(t, job, "c")
	eventually(t, "run for nonce c", finished(3))
}
