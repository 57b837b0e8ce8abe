package controllers_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// TestJobComparesGeneratedPairOnPostgres: a job over a generated pair loaded into real
// PostgreSQL runs on demand (Inline executor); its status counts, the discrepancies in
// the store and the open cases equal the generator's expected set exactly.
func TestJobComparesGeneratedPairOnPostgres(t *testing.T) {
	ns := "rj-postgres"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	cfg := gen.DefaultConfig(t.TempDir())
	p := runnertest.Generate(t, cfg, ns, mgr.Store)
	p.OnPostgres(t, db, "pg")
	secret(t, ns, "pg", db.Server.User, db.Server.Password)
	p.Job.Spec.RunNonce = "commit-1"
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)

	id := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "commit-1"})
	job := waitRunEnded(t, p.Job, id)
	last := job.Status.LastRun
	if last.Result != chv1.RunDiscrepant || last.Trigger != "Nonce" || last.Message != "" {
		t.Fatalf("lastRun = %+v, want Discrepant from the nonce", last)
	}
	if want := counts(p); last.Counts != want {
		t.Errorf("counts = %+v, want %+v", last.Counts, want)
	}
	if err := cond(job, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonDiscrepant, id); err != nil {
		t.Error(err)
	}
	if err := cond(job, chv1.ConditionReady, metav1.ConditionTrue, chv1.ReasonReconciled, ""); err != nil {
		t.Error(err)
	}
	if err := cond(job, chv1.JobRunning, metav1.ConditionFalse, chv1.ReasonIdle, ""); err != nil {
		t.Error(err)
	}
	if want := p.Expected.Summary.Discrepancies(); job.Status.Discrepancies != want {
		t.Errorf("status.discrepancies = %d, want %d", job.Status.Discrepancies, want)
	}
	if job.Status.LastRunNonce != "commit-1" || len(job.Status.RecentRuns) != 1 || last.Alert != chv1.AlertNone {
		t.Errorf("lastRunNonce %q, recentRuns %d, alert %q", job.Status.LastRunNonce, len(job.Status.RecentRuns), last.Alert)
	}

	got, err := mgr.Store.Discrepancies(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	runnertest.Equal(t, runnertest.Lines(t, got), runnertest.Lines(t, p.ExpectedDiscrepancies(t)))

	// One case per (kind, key) of the expected set, all open, and status says so.
	keys := map[string]bool{}
	for _, d := range p.ExpectedDiscrepancies(t) {
		keys[string(d.Kind)+"|"+keyText(d.Key)] = true
	}
	eventually(t, "open cases", func() error {
		job = getJob(t, p.Job)
		if job.Status.OpenCases != int64(len(keys)) {
			return fmt.Errorf("openCases = %d, want %d", job.Status.OpenCases, len(keys))
		}
		return nil
	})
	if ev := jobEvents(t, job); !containsPrefix(ev, "RunStarted: run "+id) || !containsPrefix(ev, "RunFinished: run "+id+" finished Discrepant") {
		t.Errorf("events %q lack the run's start and finish", ev)
	}
}

func keyText(kv []diff.KeyValue) string {
	var b strings.Builder
	for _, k := range kv {
		fmt.Fprintf(&b, "%s=%v;", k.Name, k.Value)
	}
	return b.String()
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestNonceTriggersExactlyOneRun: each new nonce value starts one run; updates that
// keep the nonce (a label, another field) start none.
func TestNonceTriggersExactlyOneRun(t *testing.T) {
	p := smallPair(t, "rj-nonce")
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	job := getJob(t, p.Job)
	eventually(t, "first status", func() error {
		return cond(getJob(t, p.Job), chv1.JobBalanced, metav1.ConditionUnknown, chv1.ReasonNeverRun, "")
	})

	setNonce(t, job, "a")
	idA := trigger.RunID(string(job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	waitRunEnded(t, job, idA)

	// Edits that keep the nonce, then a new nonce: exactly one more run.
	update(t, job, func(j *chv1.ReconciliationJob) { j.Labels = map[string]string{"touched": "1"} })
	update(t, job, func(j *chv1.ReconciliationJob) { j.Spec.HistoryLimit = 5 })
	setNonce(t, job, "b")
	idB := trigger.RunID(string(job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "b"})
	cur := waitRunEnded(t, job, idB)

	want := []string{idA + "=discrepant", idB + "=discrepant"}
	if got := runIDs(storeRuns(t, job)); !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	if len(cur.Status.RecentRuns) != 2 || cur.Status.RecentRuns[0].ID != idB || cur.Status.RecentRuns[1].ID != idA {
		t.Errorf("recentRuns %+v, want b then a", cur.Status.RecentRuns)
	}
	if want := counts(p); cur.Status.LastRun.Counts != want {
		t.Errorf("counts %+v, want %+v", cur.Status.LastRun.Counts, want)
	}
	// Cases: the second run found the same keys, so each case was seen twice.
	cases, err := mgr.Store.Cases(context.Background(), store.CaseFilter{Job: ns(job)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Occurrences != 2 || c.State != store.CaseOpen {
			t.Fatalf("case %+v: want open, seen twice", c)
		}
	}

	// Settled, a reconcile that changes nothing (a label edit) writes no status.
	update(t, job, func(j *chv1.ReconciliationJob) { j.Labels = map[string]string{"touched": "2"} })
	rv := getJob(t, job).ResourceVersion
	time.Sleep(2 * time.Second) // let the reconcile the edit triggers happen
	if now := getJob(t, job).ResourceVersion; now != rv {
		t.Errorf("resourceVersion moved from %s to %s without a change of status", rv, now)
	}
}

func ns(job *chv1.ReconciliationJob) string { return job.Namespace + "/" + job.Name }

// TestOpenCasesFollowReviewers: a case a reviewer closes between runs leaves
// status.openCases at the next recount, with no run and no edit of the job.
func TestOpenCasesFollowReviewers(t *testing.T) {
	p := smallPair(t, "rj-review")
	p.Job.Spec.RunNonce = "a"
	for _, ds := range []*chv1.DataSource{p.Source, p.Target} { // no probe wakes the job
		ds.Spec.ProbeInterval = &metav1.Duration{Duration: 24 * time.Hour}
	}
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	ctx := context.Background()
	waitRunEnded(t, p.Job, trigger.RunID(string(getJob(t, p.Job).UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"}))
	unresolved := store.CaseFilter{Job: ns(p.Job), States: []store.CaseState{store.CaseOpen, store.CaseAcknowledged}}
	cases, err := mgr.Store.Cases(ctx, unresolved)
	if err != nil || len(cases) == 0 {
		t.Fatalf("open cases %d, %v", len(cases), err)
	}
	eventually(t, "open cases counted", func() error {
		if n := getJob(t, p.Job).Status.OpenCases; n != int64(len(cases)) {
			return fmt.Errorf("openCases %d, want %d", n, len(cases))
		}
		return nil
	})
	// Not due yet: the reconciles still queued from the run do not count again.
	clk.Step(controllers.CasesRecount - time.Second)
	if _, err := mgr.Store.UpdateCase(ctx, cases[0].ID, store.CaseUpdate{State: store.CaseWrittenOff, Resolution: "agreed with the bank"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // let any queued reconcile happen
	if n := getJob(t, p.Job).Status.OpenCases; n != int64(len(cases)) {
		t.Fatalf("openCases %d before the recount is due, want %d", n, len(cases))
	}
	clk.Step(time.Second)
	eventually(t, "open cases recounted", func() error {
		if n := getJob(t, p.Job).Status.OpenCases; n != int64(len(cases)-1) {
			return fmt.Errorf("openCases %d, want %d", n, len(cases)-1)
		}
		return nil
	})
}
