package controllers

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// jobInputs is what the job reconciler gathers (and did) before reporting.
type jobInputs struct {
	job *chv1.ReconciliationJob
	// missing lists "source"/"target" sides whose DataSource does not exist.
	missing map[string]string
	// notReady lists sides whose DataSource reports Ready=False, with why.
	notReady map[string]string
	// planErr: the job cannot be turned into a comparison of its two DataSources.
	planErr error
	// noKubernetes: the job asks for the Kubernetes executor, which this manager
	// cannot run (why).
	noKubernetes string
	// runs are the job's runs from the results store, newest first.
	runs []store.Run
	// alerts are the alert outcomes of runs whose finish was handled this reconcile.
	alerts map[string]chv1.AlertOutcome
	// openCases is the number of unresolved cases, when it was counted this reconcile.
	openCases *int64
	// next is the next schedule time (zero: none).
	next time.Time
}

// validateJob checks what the schema cannot: the schedule and its time zone, that both
// DataSources exist, and that the job makes a comparison of them.
func validateJob(in jobInputs) []string {
	var problems []string
	spec := in.job.Spec
	problems = append(problems, scheduleProblems(spec.Schedule, spec.TimeZone)...)
	for _, side := range []string{"source", "target"} {
		if name, ok := in.missing[side]; ok {
			problems = append(problems, fmt.Sprintf("spec.%s.dataSource: DataSource %q not found", side, name))
		}
	}
	if in.planErr != nil {
		problems = append(problems, in.planErr.Error())
	}
	if in.noKubernetes != "" {
		problems = append(problems, "spec.execution.executor: "+in.noKubernetes)
	}
	return problems
}

// dataSourceBlocks says whether a DataSource's Ready condition keeps jobs from running:
// Ready=False does, except before the first probe (NotProbed) or while probing is not
// implemented; a run against a source that turns out unreachable fails with a reason.
func dataSourceBlocks(ds *chv1.DataSource) (string, bool) {
	c := meta.FindStatusCondition(ds.Status.Conditions, chv1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason == chv1.ReasonNotProbed || c.Reason == chv1.ReasonNotImplemented {
		return "", false
	}
	return fmt.Sprintf("DataSource %q is not ready (%s: %s)", ds.Name, c.Reason, c.Message), true
}

// jobColumnsGone says whether the schema ds last discovered lacks a column the job
// reads from it on side ("source" or "target"): a key or compared column dropped from
// a table is drift on the DataSource (Ready stays True unless the DataSource declares
// it), and every run would fail on it. Sources whose schema is not known in full (none
// discovered yet, Kafka, JSON Lines: the first object only) are not checked.
func jobColumnsGone(job *chv1.ReconciliationJob, side string, ds *chv1.DataSource) (string, bool) {
	if len(ds.Status.Schema) == 0 || ds.Spec.Type == chv1.DataSourceKafka ||
		(ds.Spec.File != nil && probe.FileFormat(ds.Spec.File) == chv1.FileJSONLines) {
		return "", false
	}
	have := columnNames(ds.Status.Schema)
	var gone []string
	check := func(src, tgt string) {
		name := src
		if side == "target" && tgt != "" {
			name = tgt
		}
		if name != "" && !slices.Contains(have, name) && !slices.Contains(gone, name) {
			gone = append(gone, name)
		}
	}
	for _, k := range job.Spec.Keys {
		check(k.Source, k.Target)
	}
	for _, c := range job.Spec.Compare {
		check(c.Source, c.Target)
	}
	if len(gone) == 0 {
		return "", false
	}
	return fmt.Sprintf("DataSource %q has no %s the job compares (columns: %s)",
		ds.Name, namedColumns(gone), strings.Join(have, ", ")), true
}

// jobReady says whether the job may run now, and the Ready condition.
func jobReady(in jobInputs) (bool, metav1.Condition) {
	gen := in.job.Generation
	if problems := validateJob(in); len(problems) > 0 {
		return false, condition(chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonInvalidSpec, specProblems(problems), gen)
	}
	if in.job.Spec.Mode == chv1.ModeStream {
		// Running it as Batch would pretend: say so, and do not run.
		return false, readiness(nil, gen, "spec.mode: Stream is not implemented by this version of the operator; use Batch")
	}
	if len(in.notReady) > 0 {
		var msgs []string
		for _, side := range []string{"source", "target"} {
			if m, ok := in.notReady[side]; ok {
				msgs = append(msgs, fmt.Sprintf("spec.%s: %s", side, m))
			}
		}
		return false, condition(chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonSourceError, strings.Join(msgs, "; "), gen)
	}
	return true, condition(chv1.ConditionReady, metav1.ConditionTrue, chv1.ReasonReconciled, "the job is valid and its DataSources are ready", gen)
}

// runResults maps the store's run states to the API's run results.
var runResults = map[store.RunState]chv1.RunResult{
	store.RunRunning:     chv1.RunRunning,
	store.RunBalanced:    chv1.RunBalanced,
	store.RunDiscrepant:  chv1.RunDiscrepant,
	store.RunTruncated:   chv1.RunTruncated,
	store.RunFailed:      chv1.RunFailed,
	store.RunAborted:     chv1.RunAborted,
	store.RunInterrupted: chv1.RunInterrupted,
}

// runSummary is a store run as status shows it.
func runSummary(r store.Run) chv1.RunSummary {
	s := chv1.RunSummary{
		ID:        r.ID,
		Trigger:   r.Trigger,
		Window:    r.Window,
		StartTime: metav1.NewTime(r.StartedAt),
		Result:    runResults[r.State],
		Counts: chv1.RunCounts{
			Compared:        r.Summary.Compared,
			Matched:         r.Summary.Matched,
			MissingInTarget: r.Summary.MissingInTarget,
			MissingInSource: r.Summary.MissingInSource,
			Mismatched:      r.Summary.Mismatched,
			DuplicateKeys:   r.Summary.DuplicateKeys,
			InvalidRows:     r.Summary.InvalidRows,
		},
		RowsPerSecond: int64(math.Round(r.RowsPerSecond)),
		Message:       r.Error,
	}
	if !r.FinishedAt.IsZero() {
		t := metav1.NewTime(r.FinishedAt)
		s.CompletionTime = &t
	}
	return s
}

// jobStatus computes the status of a ReconciliationJob from its inputs. Runs come from
// the results store (the record of truth); status only mirrors them, keeping the alert
// outcome of each run, which is status's own.
func jobStatus(in jobInputs) chv1.ReconciliationJobStatus {
	st := *in.job.Status.DeepCopy()
	gen := in.job.Generation
	st.ObservedGeneration = gen

	alerts := map[string]chv1.AlertOutcome{}
	for _, r := range st.RecentRuns {
		alerts[r.ID] = r.Alert
	}
	if st.LastRun != nil && st.LastRun.Alert != "" {
		alerts[st.LastRun.ID] = st.LastRun.Alert
	}
	for id, a := range in.alerts {
		alerts[id] = a
	}
	limit := int(in.job.Spec.HistoryLimit)
	if limit < 1 {
		limit = 10
	}
	if len(in.runs) > 0 {
		st.RecentRuns = st.RecentRuns[:0]
		for i, r := range in.runs {
			if i == limit {
				break
			}
			s := runSummary(r)
			s.Alert = alerts[r.ID]
			st.RecentRuns = append(st.RecentRuns, s)
		}
		last := st.RecentRuns[0]
		st.LastRun = &last
	}
	if in.openCases != nil {
		st.OpenCases = *in.openCases
	}
	st.NextScheduleTime = nil
	if !in.next.IsZero() {
		t := metav1.NewTime(in.next)
		st.NextScheduleTime = &t
	}

	_, ready := jobReady(in)
	running := condition(chv1.JobRunning, metav1.ConditionFalse, chv1.ReasonIdle, "no run in progress", gen)
	if len(in.runs) > 0 && in.runs[0].State == store.RunRunning {
		r := in.runs[0]
		running = condition(chv1.JobRunning, metav1.ConditionTrue, chv1.ReasonRunInProgress,
			fmt.Sprintf("run %s (%s) started at %s", r.ID, r.Trigger, r.StartedAt.UTC().Format(time.RFC3339)), gen)
	}
	balanced := condition(chv1.JobBalanced, metav1.ConditionUnknown, chv1.ReasonNeverRun, "no run has finished", gen)
	if r, ok := lastFinished(in.runs); ok {
		balanced = balancedCondition(r, gen)
	}
	for _, r := range in.runs {
		if r.State.Completed() { // the last run that compared: a failure proves nothing
			st.Discrepancies = r.Summary.Discrepancies()
			break
		}
	}
	setConditions(&st.Conditions, ready, running, balanced)
	return st
}

// lastFinished is the newest run that is no longer running.
func lastFinished(runs []store.Run) (store.Run, bool) {
	for _, r := range runs {
		if r.State != store.RunRunning {
			return r, true
		}
	}
	return store.Run{}, false
}

// balancedCondition says what the last finished run proves. Only a run that compared
// every row and found nothing is Balanced; a run that did not complete never is.
func balancedCondition(r store.Run, gen int64) metav1.Condition {
	s := r.Summary
	switch r.State {
	case store.RunBalanced:
		return condition(chv1.JobBalanced, metav1.ConditionTrue, chv1.ReasonBalanced,
			fmt.Sprintf("run %s compared %d rows: all matched", r.ID, s.Compared), gen)
	case store.RunDiscrepant:
		return condition(chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonDiscrepant,
			fmt.Sprintf("run %s found %d discrepancies in %d rows (%s)", r.ID, s.Discrepancies(), s.Compared, countsText(r)), gen)
	case store.RunTruncated:
		return condition(chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonTruncated,
			fmt.Sprintf("run %s stopped at %d discrepancies (spec.limits.maxDiscrepancies); not every row was compared (%s)", r.ID, s.Discrepancies(), countsText(r)), gen)
	case store.RunAborted:
		return condition(chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonAborted, fmt.Sprintf("run %s was aborted: %s", r.ID, r.Error), gen)
	case store.RunInterrupted:
		return condition(chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonAborted, fmt.Sprintf("run %s was interrupted: %s", r.ID, r.Error), gen)
	default:
		return condition(chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonFailed, fmt.Sprintf("run %s failed: %s", r.ID, r.Error), gen)
	}
}

// countsText lists the non-zero discrepancy counts of a run.
func countsText(r store.Run) string {
	s := r.Summary
	var parts []string
	for _, c := range []struct {
		n    int64
		what string
	}{
		{s.MissingInTarget, "missing in target"}, {s.MissingInSource, "missing in source"},
		{s.Mismatched, "mismatched"}, {s.DuplicateKeys, "duplicate keys"}, {s.InvalidRows, "invalid rows"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return strings.Join(parts, ", ")
}
