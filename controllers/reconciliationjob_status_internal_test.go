package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func testJob() *chv1.ReconciliationJob {
	return &chv1.ReconciliationJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "j", Generation: 3},
		Spec:       chv1.ReconciliationJobSpec{HistoryLimit: 2},
	}
}

func run(id string, state store.RunState, at time.Time, discrepancies int64) store.Run {
	r := store.Run{ID: id, Trigger: "Nonce", State: state, StartedAt: at,
		Summary: diff.Summary{Compared: 100, Matched: 100 - discrepancies, Mismatched: discrepancies}, Error: "boom"}
	if state != store.RunRunning {
		r.FinishedAt = at.Add(time.Minute)
	}
	return r
}

func condOf(t *testing.T, st chv1.ReconciliationJobStatus, typ string) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(st.Conditions, typ)
	if c == nil {
		t.Fatalf("no %s condition", typ)
	}
	if c.ObservedGeneration != 3 || c.Reason == "" {
		t.Fatalf("%s: generation %d, reason %q", typ, c.ObservedGeneration, c.Reason)
	}
	return *c
}

// Balanced follows the newest finished run; only a run that compared everything and
// found nothing is Balanced, and a run in progress changes nothing.
func TestBalancedNeverTrueForARunThatDidNotComplete(t *testing.T) {
	for _, tc := range []struct {
		runs   []store.Run
		status metav1.ConditionStatus
		reason string
		disc   int64
	}{
		{nil, metav1.ConditionUnknown, chv1.ReasonNeverRun, 0},
		{[]store.Run{run("a", store.RunRunning, t0, 0)}, metav1.ConditionUnknown, chv1.ReasonNeverRun, 0},
		{[]store.Run{run("a", store.RunBalanced, t0, 0)}, metav1.ConditionTrue, chv1.ReasonBalanced, 0},
		{[]store.Run{run("b", store.RunRunning, t0.Add(time.Hour), 0), run("a", store.RunDiscrepant, t0, 7)}, metav1.ConditionFalse, chv1.ReasonDiscrepant, 7},
		{[]store.Run{run("b", store.RunTruncated, t0.Add(time.Hour), 9), run("a", store.RunBalanced, t0, 0)}, metav1.ConditionFalse, chv1.ReasonTruncated, 9},
		{[]store.Run{run("b", store.RunFailed, t0.Add(time.Hour), 0), run("a", store.RunBalanced, t0, 0)}, metav1.ConditionFalse, chv1.ReasonFailed, 0},
		{[]store.Run{run("b", store.RunAborted, t0.Add(time.Hour), 0), run("a", store.RunDiscrepant, t0, 4)}, metav1.ConditionFalse, chv1.ReasonAborted, 4},
		{[]store.Run{run("b", store.RunInterrupted, t0.Add(time.Hour), 0)}, metav1.ConditionFalse, chv1.ReasonAborted, 0},
	} {
		st := jobStatus(jobInputs{job: testJob(), runs: tc.runs})
		c := condOf(t, st, chv1.JobBalanced)
		if c.Status != tc.status || c.Reason != tc.reason || st.Discrepancies != tc.disc {
			t.Errorf("runs %v: Balanced %s/%s %q, discrepancies %d; want %s/%s, %d",
				tc.runs, c.Status, c.Reason, c.Message, st.Discrepancies, tc.status, tc.reason, tc.disc)
		}
	}
}

func TestRunsInStatus(t *testing.T) {
	job := testJob()
	job.Status.RecentRuns = []chv1.RunSummary{{ID: "b", Alert: chv1.AlertSent}}
	runs := []store.Run{run("c", store.RunRunning, t0.Add(2*time.Hour), 0), run("b", store.RunFailed, t0.Add(time.Hour), 0), run("a", store.RunBalanced, t0, 0)}
	next := t0.Add(24 * time.Hour)
	open := int64(5)
	st := jobStatus(jobInputs{job: job, runs: runs, next: next, openCases: &open})
	if len(st.RecentRuns) != 2 || st.RecentRuns[0].ID != "c" || st.RecentRuns[1].ID != "b" {
		t.Fatalf("recentRuns %+v, want c, b (historyLimit 2)", st.RecentRuns)
	}
	if st.RecentRuns[1].Alert != chv1.AlertSent || st.RecentRuns[1].Result != chv1.RunFailed || st.RecentRuns[1].Message != "boom" {
		t.Errorf("b %+v: the alert outcome is kept from status", st.RecentRuns[1])
	}
	if st.LastRun == nil || st.LastRun.ID != "c" || st.LastRun.Result != chv1.RunRunning || st.LastRun.CompletionTime != nil {
		t.Errorf("lastRun %+v", st.LastRun)
	}
	if c := condOf(t, st, chv1.JobRunning); c.Status != metav1.ConditionTrue || c.Reason != chv1.ReasonRunInProgress {
		t.Errorf("Running %+v", c)
	}
	if st.NextScheduleTime == nil || !st.NextScheduleTime.Time.Equal(next) || st.OpenCases != 5 || st.ObservedGeneration != 3 {
		t.Errorf("next %v, open %d, generation %d", st.NextScheduleTime, st.OpenCases, st.ObservedGeneration)
	}
}

func TestReadiness(t *testing.T) {
	for _, tc := range []struct {
		in     jobInputs
		reason string
		msg    string
	}{
		{jobInputs{}, chv1.ReasonReconciled, "ready"},
		{jobInputs{missing: map[string]string{"target": "bank"}}, chv1.ReasonInvalidSpec, `spec.target.dataSource: DataSource "bank" not found`},
		{jobInputs{planErr: errors.New(`spec.compare[0].type: bad`)}, chv1.ReasonInvalidSpec, "spec.compare[0].type: bad"},
		{jobInputs{noKubernetes: KubernetesExecutor{}.unavailable()}, chv1.ReasonInvalidSpec, "spec.execution.executor: Kubernetes is not available: the manager runs without a worker image (--worker-image)"},
		{jobInputs{notReady: map[string]string{"source": `DataSource "ledger" is not ready (Unreachable: refused)`}}, chv1.ReasonSourceError, `spec.source: DataSource "ledger" is not ready`},
	} {
		tc.in.job = testJob()
		ok, c := jobReady(tc.in)
		if ok != (tc.reason == chv1.ReasonReconciled) || c.Reason != tc.reason || !strings.Contains(c.Message, tc.msg) {
			t.Errorf("%+v: ready %v, %s %q", tc.in, ok, c.Reason, c.Message)
		}
	}
	// Stream mode is accepted by the schema but not run, rather than run as Batch.
	stream := testJob()
	stream.Spec.Mode = chv1.ModeStream
	if ok, c := jobReady(jobInputs{job: stream}); ok || c.Reason != chv1.ReasonNotImplemented || !strings.Contains(c.Message, "spec.mode: Stream") {
		t.Errorf("stream job: ready %v, %s %q", ok, c.Reason, c.Message)
	}
}

func TestDataSourceBlocks(t *testing.T) {
	ds := func(conds ...metav1.Condition) *chv1.DataSource {
		return &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "ledger"}, Status: chv1.DataSourceStatus{Conditions: conds}}
	}
	ready := func(s metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: chv1.ConditionReady, Status: s, Reason: reason, Message: "m"}
	}
	for _, tc := range []struct {
		ds   *chv1.DataSource
		want bool
	}{
		{ds(), false}, // never probed
		{ds(ready(metav1.ConditionFalse, chv1.ReasonNotProbed)), false},
		{ds(ready(metav1.ConditionTrue, chv1.ReasonReconciled)), false},
		{ds(ready(metav1.ConditionFalse, "Unreachable")), true},
	} {
		if msg, got := dataSourceBlocks(tc.ds); got != tc.want || (got && msg != `DataSource "ledger" is not ready (Unreachable: m)`) {
			t.Errorf("%v: blocks %v %q", tc.ds.Status.Conditions, got, msg)
		}
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		sum   diff.Summary
		err   error
		cause error
		want  store.RunState
		msg   string
	}{
		{diff.Summary{Compared: 3, Matched: 3}, nil, nil, store.RunBalanced, ""},
		{diff.Summary{Compared: 3, Matched: 2}, nil, nil, store.RunDiscrepant, ""},
		{diff.Summary{Compared: 3, Matched: 2, Truncated: true}, nil, nil, store.RunTruncated, ""},
		{diff.Summary{}, errors.New("datasource ns/ledger: refused"), nil, store.RunFailed, "datasource ns/ledger: refused"},
		{diff.Summary{}, errors.New("canceled"), replacedBy{id: "x"}, store.RunAborted, "replaced by run x (concurrencyPolicy Replace)"},
		{diff.Summary{}, errors.New("canceled"), errShutdown, store.RunInterrupted, errShutdown.Error()},
		{diff.Summary{}, errors.New("canceled"), errDeleted, store.RunAborted, errDeleted.Error()},
	} {
		if got, msg := outcome(tc.sum, tc.err, tc.cause); got != tc.want || msg != tc.msg {
			t.Errorf("outcome(%+v, %v, %v) = %s %q, want %s %q", tc.sum, tc.err, tc.cause, got, msg, tc.want, tc.msg)
		}
	}
}
