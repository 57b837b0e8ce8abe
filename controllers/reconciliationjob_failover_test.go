package controllers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/manager"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// TestOrphanedRunIsInterruptedAndRetried: a run the store says is running but that no
// executor runs (the manager that ran it died without recording its end) is finished
// Interrupted and retried once under a new id, after the backoff; Balanced is never
// True for the interrupted run.
func TestOrphanedRunIsInterruptedAndRetried(t *testing.T) {
	p := smallPair(t, "rj-orphan")
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	eventually(t, "first status", func() error {
		return cond(getJob(t, p.Job), chv1.JobBalanced, metav1.ConditionUnknown, chv1.ReasonNeverRun, "")
	})
	// What a manager killed mid-run leaves behind: a running run and no executor.
	orphan := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "before-the-crash"})
	if err := mgr.Store.StartRun(context.Background(), store.Run{ID: orphan, Job: ns(p.Job), Trigger: "Nonce", StartedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	update(t, p.Job, func(j *chv1.ReconciliationJob) { j.Labels = map[string]string{"poke": "1"} })
	j := waitRunEnded(t, p.Job, orphan)
	if l := j.Status.LastRun; l.Result != chv1.RunInterrupted || !strings.Contains(l.Message, "no executor is running it") {
		t.Fatalf("lastRun %+v, want Interrupted", l)
	}
	if err := cond(j, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonAborted, "interrupted"); err != nil {
		t.Error(err)
	}
	clk.Step(trigger.RetryBackoff)
	j = waitRunEnded(t, p.Job, orphan+"-r1")
	if l := j.Status.LastRun; l.Result != chv1.RunDiscrepant || l.Counts != counts(p) || l.Trigger != "Nonce" {
		t.Fatalf("retry %+v", l)
	}
	if got, want := runIDs(storeRuns(t, p.Job)), []string{orphan + "=interrupted", orphan + "-r1=discrepant"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
}

// TestFailoverNeverStartsARunTwice: two managers with leader election against one API
// server and one PostgreSQL store. The leader's run is interrupted when it stops; the
// standby takes over, retries it once under a new id, and — even when it finds the
// trigger unconsumed in status, as after a crash between starting a run and recording
// it — never starts the same run id again.
func TestFailoverNeverStartsARunTwice(t *testing.T) {
	cp, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()
	c := cp.Client
	ctx := context.Background()
	storeURI := testdb.NewPostgres(t).URI()
	fake := clocktesting.NewFakeClock(time.Now().Add(24 * time.Hour))

	type running struct {
		m    *manager.Manager
		stop context.CancelFunc
		done chan error
	}
	start := func(name string) running {
		t.Helper()
		m, err := manager.New(cp.Config, manager.Options{
			MetricsAddr: "0", ProbeAddr: "0",
			LeaderElection: true, LeaderElectionNamespace: "default", LeaderElectionID: "failover-test",
			DataDir: filepath.Join(t.TempDir(), name), StoreURI: storeURI, Clock: fake,
			MetricsRegistry: prometheus.NewRegistry(), SeveralInProcess: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		mctx, cancel := context.WithCancel(ctx)
		r := running{m: m, stop: cancel, done: make(chan error, 1)}
		go func() { r.done <- m.Start(mctx) }()
		return r
	}
	elected := func(r running) bool {
		select {
		case <-r.m.Elected():
			return true
		default:
			return false
		}
	}

	a := start("a")
	eventually(t, "a leads", func() error {
		if !elected(a) {
			return fmt.Errorf("a not elected")
		}
		return nil
	})
	b := start("b")
	defer func() {
		b.stop()
		if err := <-b.done; err != nil {
			t.Errorf("manager b: %v", err)
		}
	}()

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "failover"}}); err != nil {
		t.Fatal(err)
	}
	p := runnertest.Generate(t, smallConfig(t), "failover", nil) // no masked value is checked
	g := serveGated(t, filepath.Join(p.Dir, p.Manifest.Source.File))
	p.Source.Spec.File.URL = g.URL + "/" + p.Manifest.Source.File
	p.Source.Spec.ProbeInterval = &metav1.Duration{Duration: 24 * time.Hour}
	for _, o := range []client.Object{p.Source, p.Target, p.Job} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	get := func() *chv1.ReconciliationJob {
		var j chv1.ReconciliationJob
		if err := c.Get(ctx, client.ObjectKeyFromObject(p.Job), &j); err != nil {
			t.Fatal(err)
		}
		return &j
	}
	eventually(t, "source probed", func() error {
		var ds chv1.DataSource
		if err := c.Get(ctx, client.ObjectKeyFromObject(p.Source), &ds); err != nil {
			return err
		}
		if ds.Status.LastProbeTime == nil {
			return fmt.Errorf("not probed: %v", ds.Status.Conditions)
		}
		return nil
	})
	g.arm()
	eventually(t, "set nonce", func() error {
		j := get()
		j.Spec.RunNonce = "deploy-42"
		return c.Update(ctx, j)
	})
	id := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "deploy-42"})
	lastRun := func(want string, result chv1.RunResult) func() error {
		return func() error {
			l := get().Status.LastRun
			if l == nil || l.ID != want || l.Result != result {
				return fmt.Errorf("lastRun %+v, want %s %s", l, want, result)
			}
			return nil
		}
	}
	eventually(t, "a runs it", lastRun(id, chv1.RunRunning))

	// The leader stops mid-run: its run ends Interrupted and b takes over.
	a.stop()
	if err := <-a.done; err != nil {
		t.Errorf("manager a: %v", err)
	}
	eventually(t, "b leads", func() error {
		if !elected(b) {
			return fmt.Errorf("b not elected")
		}
		return nil
	})
	eventually(t, "b reports the interruption", lastRun(id, chv1.RunInterrupted))
	fake.Step(trigger.RetryBackoff)
	eventually(t, "b retries", lastRun(id+"-r1", chv1.RunRunning))
	g.release()
	eventually(t, "the retry completes", lastRun(id+"-r1", chv1.RunDiscrepant))

	// A crash between StartRun and the status patch leaves the nonce unconsumed: the
	// leader finds the run in the store and does not start it again.
	j := get()
	j.Status.LastRunNonce = ""
	if err := c.Status().Update(ctx, j); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nonce consumed again", func() error {
		if n := get().Status.LastRunNonce; n != "deploy-42" {
			return fmt.Errorf("lastRunNonce %q", n)
		}
		return nil
	})

	runs, err := b.m.Store.Runs(ctx, "failover/"+p.Job.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := runIDs(runs), []string{id + "-r1=discrepant", id + "=interrupted"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace("failover")); err != nil {
		t.Fatal(err)
	}
	started := map[string]int{}
	for _, e := range events.Items {
		if e.Reason == "RunStarted" {
			n := int(max(e.Count, 1))
			if e.Series != nil { // the events API folds repeats into a series
				n = int(e.Series.Count)
			}
			started[strings.Fields(e.Message)[1]] += n
		}
	}
	if want := map[string]int{id: 1, id + "-r1": 1}; !reflect.DeepEqual(started, want) {
		t.Fatalf("RunStarted events per run %v, want %v", started, want)
	}
}
