package controllers_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// patience is how long a test waits for the operator to act: generous, because the
// machine is shared; tests never assert on durations.
const patience = 2 * time.Minute

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// eventually polls check until it passes, or fails the test with its last error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	var last error
	for time.Now().Before(deadline) {
		if last = check(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, last)
}

// smallPair generates a small file pair with a few of every discrepancy kind and a job
// comparing it, in namespace ns (created).
func smallPair(t *testing.T, ns string) *runnertest.Pair {
	t.Helper()
	namespace(t, ns)
	return runnertest.Generate(t, smallConfig(t), ns, mgr.Store)
}

// smallConfig is the generator's default mix of discrepancies over 200 rows.
func smallConfig(t *testing.T) gen.Config {
	cfg := gen.DefaultConfig(t.TempDir())
	cfg.Rows = 200
	return cfg
}

// create creates objects, failing the test on error.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// deleteAtEnd deletes a job when the test ends, so that stepping the shared clock in
// later tests does not run it.
func deleteAtEnd(t *testing.T, job *chv1.ReconciliationJob) {
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), job) })
}

// getJob reads a job afresh.
func getJob(t *testing.T, job *chv1.ReconciliationJob) *chv1.ReconciliationJob {
	t.Helper()
	var out chv1.ReconciliationJob
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(job), &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// setNonce changes the job's run nonce (retrying on conflicts with status writes).
func setNonce(t *testing.T, job *chv1.ReconciliationJob, nonce string) {
	t.Helper()
	update(t, job, func(j *chv1.ReconciliationJob) { j.Spec.RunNonce = nonce })
}

// update applies change to the latest version of job.
func update(t *testing.T, job *chv1.ReconciliationJob, change func(*chv1.ReconciliationJob)) {
	t.Helper()
	eventually(t, "update "+job.Name, func() error {
		cur := getJob(t, job)
		change(cur)
		return env.Client.Update(context.Background(), cur)
	})
}

// storeRuns returns the ids and states of a job's runs in the store, oldest first.
func storeRuns(t *testing.T, job *chv1.ReconciliationJob) []store.Run {
	t.Helper()
	runs, err := mgr.Store.Runs(context.Background(), job.Namespace+"/"+job.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(runs)
	return runs
}

func runIDs(runs []store.Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID+"="+string(r.State))
	}
	return ids
}

// waitRunEnded waits until status reports run id finished (lastRun, result not
// Running) and returns the job.
func waitRunEnded(t *testing.T, job *chv1.ReconciliationJob, id string) *chv1.ReconciliationJob {
	t.Helper()
	var cur *chv1.ReconciliationJob
	eventually(t, "run "+id+" ends", func() error {
		cur = getJob(t, job)
		l := cur.Status.LastRun
		switch {
		case l == nil:
			return fmt.Errorf("no lastRun; conditions %v", cur.Status.Conditions)
		case l.ID != id:
			return fmt.Errorf("lastRun is %s (%s), want %s", l.ID, l.Result, id)
		case l.Result == chv1.RunRunning:
			return fmt.Errorf("run %s still running", id)
		case l.Alert == "":
			return fmt.Errorf("run %s finished but its end is not reported yet", id)
		}
		return nil
	})
	return cur
}

// waitRunning waits until status reports run id running.
func waitRunning(t *testing.T, job *chv1.ReconciliationJob, id string) {
	t.Helper()
	eventually(t, "run "+id+" runs", func() error {
		cur := getJob(t, job)
		if l := cur.Status.LastRun; l == nil || l.ID != id || l.Result != chv1.RunRunning {
			return fmt.Errorf("lastRun %+v, want %s running", l, id)
		}
		return cond(cur, chv1.JobRunning, metav1.ConditionTrue, chv1.ReasonRunInProgress, id)
	})
}

// cond checks one condition of a job (for its current generation).
func cond(job *chv1.ReconciliationJob, typ string, status metav1.ConditionStatus, reason, msg string) error {
	c := meta.FindStatusCondition(job.Status.Conditions, typ)
	switch {
	case c == nil:
		return fmt.Errorf("no %s condition in %v", typ, job.Status.Conditions)
	case c.Status != status || c.Reason != reason || !strings.Contains(c.Message, msg):
		return fmt.Errorf("%s = %s/%s %q, want %s/%s containing %q", typ, c.Status, c.Reason, c.Message, status, reason, msg)
	case c.ObservedGeneration != job.Generation:
		return fmt.Errorf("%s observedGeneration %d, want %d", typ, c.ObservedGeneration, job.Generation)
	}
	return nil
}

// counts is the expected set's counts as status shows them.
func counts(p *runnertest.Pair) chv1.RunCounts {
	s := p.Expected.Summary
	return chv1.RunCounts{
		Compared: s.Compared, Matched: s.Matched, MissingInTarget: s.MissingInTarget, MissingInSource: s.MissingInSource,
		Mismatched: s.Mismatched, DuplicateKeys: s.DuplicateKeys, InvalidRows: s.InvalidRows,
	}
}

// secret creates a Secret with a user name and password.
func secret(t *testing.T, ns, name, user, password string) {
	t.Helper()
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		StringData: map[string]string{"username": user, "password": password},
	})
}

// jobEvents returns "reason: note" of the events regarding a job.
func jobEvents(t *testing.T, job *chv1.ReconciliationJob) []string {
	t.Helper()
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == job.Name && e.InvolvedObject.Kind == "ReconciliationJob" {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}
