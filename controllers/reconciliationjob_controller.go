package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/metrics"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// jobDataSourceIndex indexes jobs by the DataSources they read, so a DataSource change
// wakes exactly the jobs that use it.
const jobDataSourceIndex = "spec.dataSources"

// storeTimeout bounds the store writes that must happen even when the run's own
// context is gone (recording how a cancelled run ended).
const storeTimeout = 30 * time.Second

// casesRecount is how often open cases are recounted without a run finishing (a
// reviewer may have resolved some).
const casesRecount = 5 * time.Minute

// ReconciliationJobReconciler runs ReconciliationJobs: it decides when a run is due
// (internal/trigger), starts it on its executor, follows it in the results store (the
// record of truth for runs) and mirrors it in status, metrics, events and alerts.
//
// A run is started at most once: its id is deterministic for its trigger, it is
// recorded with StartRun before anything executes, and a trigger whose run id the store
// already holds is consumed without starting anything. A run found running in the store
// that no executor of this manager is running (the manager restarted, or leadership
// moved) is finished Interrupted and retried under a new id (trigger.RetryOf).
type ReconciliationJobReconciler struct {
	client.Client
	// APIReader reads Secrets (never cached cluster-wide) and confirms Jobs.
	APIReader client.Reader
	// Store is the results store, opened once by the manager.
	Store store.Store
	// Clock is injected so schedules are testable.
	Clock clock.WithDelayedExecution
	// Recorder emits events on the job.
	Recorder events.EventRecorder
	// Metrics records runs, open cases and alerts (nil: not recorded).
	Metrics *metrics.Metrics
	// Inline runs Inline runs.
	Inline *InlineExecutor
	// Kubernetes configures the Kubernetes executor.
	Kubernetes KubernetesExecutor
	// TempDir is where inline runs spill (empty: the OS temp dir).
	TempDir string
	// Notifier delivers alerts; its Secrets reader is set per job.
	Notifier alert.Notifier

	wake *wakeups
	// deliveries sends alerts in the background (nil: within Reconcile).
	deliveries *deliveries

	mu      sync.Mutex
	counted map[types.NamespacedName]time.Time // when open cases were last counted
	// reported remembers the alert outcome of the runs whose end this manager has
	// reported, per job: the cache may serve a status older than the last patch, and a
	// run's end must not be reported (alerted) twice. Status is the record across
	// restarts.
	reported map[types.NamespacedName]map[string]chv1.AlertOutcome
}

// +kubebuilder:rbac:groups=clearhouse.dev,resources=reconciliationjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=reconciliationjobs/status,verbs=get;update;patch
// (finalizers: a worker Job's owner reference blocks the job's deletion, which needs update on them.)
// +kubebuilder:rbac:groups=clearhouse.dev,resources=reconciliationjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=pods,verbs=list
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile observes the job's runs, starts what is due, and reports.
func (r *ReconciliationJobReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var job chv1.ReconciliationJob
	if err := r.Get(ctx, req.NamespacedName, &job); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(ctx, req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !job.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	now := r.Clock.Now().UTC()
	before := job.DeepCopy()
	in := jobInputs{job: &job, missing: map[string]string{}, notReady: map[string]string{}}
	if executorOf(&job) == chv1.ExecutorKubernetes {
		in.noKubernetes = r.Kubernetes.unavailable()
	}
	sides, err := r.dataSources(ctx, &job, &in)
	if err != nil {
		return reconcile.Result{}, err
	}
	var plan runner.Plan
	if len(in.missing) == 0 {
		plan, in.planErr = runner.PlanFor(&job, sides[0], sides[1])
	}
	ready, _ := jobReady(in)

	// Observe: finish what ended (an executor done, a run orphaned by a restart).
	runs, err := r.runs(ctx, &job)
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(runs) > 0 && runs[0].State == store.RunRunning {
		changed, err := r.observe(ctx, &job, runs[0])
		if err != nil {
			return reconcile.Result{}, err
		}
		if changed {
			if runs, err = r.runs(ctx, &job); err != nil {
				return reconcile.Result{}, err
			}
		}
	}

	// Decide and act: start what is due.
	d, decideErr := trigger.Decide(triggerSpec(&job), triggerState(&job), now)
	wakeAt := d.Next
	if decideErr == nil && ready {
		started, retryAt, err := r.startDue(ctx, &job, plan, runs, d, now)
		if err != nil {
			return reconcile.Result{}, err
		}
		if started {
			if runs, err = r.runs(ctx, &job); err != nil {
				return reconcile.Result{}, err
			}
		}
		if !retryAt.IsZero() && (wakeAt.IsZero() || retryAt.Before(wakeAt)) {
			wakeAt = retryAt
		}
	}
	in.runs = runs
	in.next = d.Next

	// Report: the finish of each run once (event, metrics, alert), then status. Runs
	// reported before this manager started give back the gauges first.
	if r.Metrics != nil {
		var reported []chv1.RunSummary
		for _, s := range job.Status.RecentRuns {
			if s.Alert != "" {
				reported = append(reported, s)
			}
		}
		r.Metrics.Restore(job.Namespace, job.Name, reported)
		if a := job.Spec.Alerts; a != nil {
			names := make([]string, len(a.Channels))
			for i, ch := range a.Channels {
				names[i] = ch.Name
			}
			r.Metrics.Channels(job.Namespace, job.Name, names)
		}
	}
	var ended bool
	in.alerts, ended = r.reportFinished(ctx, &job, runs)
	if ended || len(in.alerts) > 0 || r.recount(req.NamespacedName, now) {
		n, err := r.openCases(ctx, &job)
		if err != nil {
			return reconcile.Result{}, err
		}
		in.openCases = &n
	}
	job.Status = jobStatus(in)
	if r.Metrics != nil {
		r.Metrics.SetRunning(job.Namespace, job.Name, len(runs) > 0 && runs[0].State == store.RunRunning)
		r.Metrics.SetOpenCases(job.Namespace, job.Name, job.Status.OpenCases)
	}
	if job.Status.OpenCases > 0 { // reviewers close cases outside any run: count again later
		if at := r.recountAt(req.NamespacedName); !at.IsZero() && (wakeAt.IsZero() || at.Before(wakeAt)) {
			wakeAt = at
		}
	}
	r.wake.at(req.NamespacedName, wakeAt)
	return reconcile.Result{}, patchStatus(ctx, r.Client, before, &job)
}

// dataSources reads both DataSources; a missing one is recorded in in.missing, one that
// is not ready in in.notReady.
func (r *ReconciliationJobReconciler) dataSources(ctx context.Context, job *chv1.ReconciliationJob, in *jobInputs) ([2]*chv1.DataSource, error) {
	var out [2]*chv1.DataSource
	for i, side := range []struct{ name, ds string }{{"source", job.Spec.Source.DataSource}, {"target", job.Spec.Target.DataSource}} {
		var ds chv1.DataSource
		err := r.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: side.ds}, &ds)
		switch {
		case apierrors.IsNotFound(err):
			in.missing[side.name] = side.ds
			continue
		case err != nil:
			return out, fmt.Errorf("read DataSource %s/%s: %w", job.Namespace, side.ds, err)
		}
		if msg, blocks := dataSourceBlocks(&ds); blocks {
			in.notReady[side.name] = msg
		} else if msg, gone := jobColumnsGone(job, side.name, &ds); gone {
			in.notReady[side.name] = msg
		}
		out[i] = &ds
	}
	return out, nil
}

// runs returns this job's runs from the store, newest first. Runs of an earlier job of
// the same name (deleted and recreated) are left out: run ids start with the job's UID.
func (r *ReconciliationJobReconciler) runs(ctx context.Context, job *chv1.ReconciliationJob) ([]store.Run, error) {
	limit := int(job.Spec.HistoryLimit)
	if limit < 1 {
		limit = 10
	}
	all, err := r.Store.Runs(ctx, jobRef(job), limit+10)
	if err != nil {
		return nil, fmt.Errorf("read runs of %s: %w", jobRef(job), err)
	}
	runs := all[:0]
	for _, run := range all {
		if strings.HasPrefix(run.ID, string(job.UID)+"-") {
			runs = append(runs, run)
		}
	}
	return runs, nil
}

// jobRef is how the store names a job.
func jobRef(job *chv1.ReconciliationJob) string { return job.Namespace + "/" + job.Name }

func triggerSpec(job *chv1.ReconciliationJob) trigger.Spec {
	return trigger.Spec{
		Schedule:                job.Spec.Schedule,
		TimeZone:                job.Spec.TimeZone,
		StartingDeadlineSeconds: job.Spec.StartingDeadlineSeconds,
		Suspend:                 job.Spec.Suspend,
		RunNonce:                job.Spec.RunNonce,
	}
}

func triggerState(job *chv1.ReconciliationJob) trigger.State {
	st := trigger.State{Created: job.CreationTimestamp.UTC(), LastRunNonce: job.Status.LastRunNonce}
	if t := job.Status.LastScheduleTime; t != nil {
		st.LastScheduleTime = t.UTC()
	}
	return st
}

// observe follows the running run: it reports whether the run finished now.
func (r *ReconciliationJobReconciler) observe(ctx context.Context, job *chv1.ReconciliationJob, run store.Run) (bool, error) {
	if r.Inline.Active(run.ID) {
		return false, nil
	}
	ended, state, msg, err := r.Kubernetes.observe(ctx, r, job, run)
	if err != nil {
		return false, err
	}
	if !ended {
		return false, nil
	}
	if _, err := r.Store.FinishRun(ctx, run.ID, state, r.Clock.Now().UTC(), msg); err != nil {
		return false, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	return true, nil
}

// nonceReused reports whether a nonce's run, found in the store, is from an earlier use of
// the value rather than this one (started by this manager before a restart, or by a former
// leader, status not yet written): a later trigger has run since, its retries aside.
func nonceReused(runs []store.Run, existing store.Run) bool {
	if len(runs) == 0 {
		return false
	}
	latest, _ := trigger.Attempt(runs[0].ID)
	return latest != existing.ID
}

// startDue starts the first due trigger (a nonce outranks the schedule; a trigger due
// at the same time as another is covered by it), or the retry of the last run when
// nothing else is due. It consumes triggers in job.Status and returns whether a run
// was started and when a pending retry is due.
func (r *ReconciliationJobReconciler) startDue(ctx context.Context, job *chv1.ReconciliationJob, plan runner.Plan,
	runs []store.Run, d trigger.Decision, now time.Time) (started bool, retryAt time.Time, err error) {
	type due struct {
		id, trigger string
		consume     func()
	}
	var todo []due
	for _, t := range d.Due {
		t := t
		todo = append(todo, due{id: trigger.RunID(string(job.UID), t), trigger: string(t.Kind), consume: func() {
			if t.Kind == trigger.Nonce {
				job.Status.LastRunNonce = t.Nonce
			} else {
				mt := metav1.NewTime(t.Time)
				job.Status.LastScheduleTime = &mt
			}
		}})
	}
	if d.Missed > 0 && len(d.Due) > 0 {
		more := ""
		if d.MissedTooMany {
			more = " or more"
		}
		r.event(job, corev1.EventTypeWarning, "MissedSchedules", "Start",
			"%d%s scheduled runs were missed; running only the latest, scheduled at %s", d.Missed, more, d.Due[len(d.Due)-1].Time.Format(time.RFC3339))
	}
	if len(todo) == 0 && len(runs) > 0 {
		last := runs[0]
		suspended := job.Spec.Suspend && last.Trigger == string(trigger.Schedule) // suspend stops scheduled runs, retries too
		if (last.State == store.RunFailed || last.State == store.RunInterrupted) && !suspended {
			if id, at, ok := trigger.RetryOf(last.ID, last.FinishedAt); ok {
				if at.After(now) {
					return false, at, nil
				}
				todo = append(todo, due{id: id, trigger: last.Trigger, consume: func() {}})
			}
		}
	}
	if len(todo) > 0 && todo[0].trigger == string(trigger.Nonce) {
		// A value the job's nonce had before (a revert, a toggle) found its run: each value
		// starts one run. Say so, and let a trigger due with it start its own run.
		if existing, err := r.Store.GetRun(ctx, todo[0].id); err == nil && nonceReused(runs, existing) {
			todo[0].consume()
			r.event(job, corev1.EventTypeWarning, "RunNonceReused", "Start",
				"runNonce %q started run %s before: each value starts one run; set a value not used before to run again", job.Spec.RunNonce, existing.ID)
			todo = todo[1:]
		}
	}
	if len(todo) == 0 {
		return false, time.Time{}, nil
	}
	first := todo[0]
	for _, t := range todo[1:] {
		t.consume()
		r.event(job, corev1.EventTypeNormal, "RunCoalesced", "Start", "%s trigger covered by run %s, due at the same time", t.trigger, first.id)
	}

	if existing, err := r.Store.GetRun(ctx, first.id); err == nil {
		// Started before (by this manager, whose cached status is behind, before a
		// restart, or by a former leader): never start it twice. If it is orphaned,
		// observe() interrupts it and it is retried under a new id.
		first.consume()
		logf.FromContext(ctx).V(1).Info("run already recorded; not starting it again", "run", first.id, "state", existing.State)
		return false, time.Time{}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, time.Time{}, fmt.Errorf("look up run %s: %w", first.id, err)
	}
	if len(runs) > 0 && runs[0].State == store.RunRunning {
		active := runs[0]
		if job.Spec.ConcurrencyPolicy != chv1.ConcurrencyReplace {
			first.consume()
			job.Status.SkippedRuns++
			r.event(job, corev1.EventTypeNormal, "RunSkipped", "Start",
				"%s trigger skipped: run %s is still in progress (concurrencyPolicy Forbid)", first.trigger, active.ID)
			return false, time.Time{}, nil
		}
		if err := r.abort(ctx, job, active, replacedBy{id: first.id}); err != nil {
			return false, time.Time{}, err
		}
	}

	parts := 1
	if job.Spec.Execution.Executor == chv1.ExecutorKubernetes && job.Spec.Execution.Parallelism > 1 {
		parts = int(job.Spec.Execution.Parallelism)
	}
	// Runs list newest first by start time: keep start times strictly increasing even
	// when the clock has not moved (a fake clock, two triggers in one instant).
	start := now
	if len(runs) > 0 && !start.After(runs[0].StartedAt) {
		start = runs[0].StartedAt.Add(time.Millisecond)
	}
	if err := r.Store.StartRun(ctx, store.Run{ID: first.id, Job: jobRef(job), Trigger: first.trigger, Partitions: parts, StartedAt: start}); err != nil {
		return false, time.Time{}, fmt.Errorf("start run %s: %w", first.id, err)
	}
	first.consume()
	r.event(job, corev1.EventTypeNormal, "RunStarted", "Start", "run %s started (%s trigger, %s executor)", first.id, first.trigger, executorOf(job))
	if err := r.execute(ctx, job, plan, first.id, parts); err != nil {
		// The run could not even be handed to its executor: it failed, with the reason;
		// or the manager is stopping, and it is interrupted like the runs shutdown
		// cancels (retried by the next leader, no alert).
		state := store.RunFailed
		if errors.Is(err, errShutdown) {
			state = store.RunInterrupted
		}
		if _, ferr := r.Store.FinishRun(ctx, first.id, state, r.Clock.Now().UTC(), err.Error()); ferr != nil {
			return true, time.Time{}, fmt.Errorf("finish run %s: %w", first.id, ferr)
		}
	}
	return true, time.Time{}, nil
}

func executorOf(job *chv1.ReconciliationJob) chv1.Executor {
	if job.Spec.Execution.Executor == "" {
		return chv1.ExecutorInline
	}
	return job.Spec.Execution.Executor
}

// execute hands a started run to the job's executor.
func (r *ReconciliationJobReconciler) execute(ctx context.Context, job *chv1.ReconciliationJob, plan runner.Plan, id string, parts int) error {
	if executorOf(job) == chv1.ExecutorKubernetes {
		return r.Kubernetes.start(ctx, r, job, plan, id, parts)
	}
	key := client.ObjectKeyFromObject(job)
	ns := job.Namespace
	return r.Inline.Submit(id, func(ctx context.Context) {
		var sum diff.Summary
		var err error
		if ctx.Err() == nil {
			creds := connect.FromCluster(r.APIReader, ns)
			var opts []runner.Option
			if r.TempDir != "" {
				opts = append(opts, runner.WithTempDir(r.TempDir))
			}
			sum, err = runner.Execute(ctx, plan, creds, creds, runner.Partition{RunID: id, Index: 0, Count: 1}, r.Store, opts...)
		}
		state, msg := outcome(sum, err, context.Cause(ctx))
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		if _, ferr := r.Store.FinishRun(fctx, id, state, r.Clock.Now().UTC(), msg); ferr != nil {
			logf.FromContext(ctx).Error(ferr, "record the end of an inline run", "run", id, "job", key)
		}
		r.wake.now(key)
	})
}

// outcome is how a run ended, from its summary, its error and why its context was
// cancelled (nil when it was not).
func outcome(sum diff.Summary, err, cause error) (store.RunState, string) {
	var replaced replacedBy
	switch {
	case cause != nil && errors.As(cause, &replaced):
		return store.RunAborted, cause.Error()
	case cause != nil && errors.Is(cause, errDeleted):
		return store.RunAborted, cause.Error()
	case cause != nil && errors.Is(cause, errShutdown):
		return store.RunInterrupted, cause.Error()
	case err != nil:
		return store.RunFailed, err.Error()
	case sum.Truncated:
		return store.RunTruncated, ""
	case sum.Discrepancies() > 0:
		return store.RunDiscrepant, ""
	}
	return store.RunBalanced, ""
}

// abort cancels the active run (Replace) and records it Aborted.
func (r *ReconciliationJobReconciler) abort(ctx context.Context, job *chv1.ReconciliationJob, run store.Run, cause error) error {
	r.Inline.Cancel(run.ID, cause)
	if err := r.Kubernetes.stop(ctx, r, job, run.ID); err != nil {
		return err
	}
	if _, err := r.Store.FinishRun(ctx, run.ID, store.RunAborted, r.Clock.Now().UTC(), cause.Error()); err != nil {
		return fmt.Errorf("abort run %s: %w", run.ID, err)
	}
	return nil
}

// reportFinished handles, once per run, the end of each finished run status has not
// reported yet (no alert outcome): an event, the run's metrics and its alert, which is
// delivered in the background when one is due (deliverAlert). It returns the alert
// outcome of each run whose outcome is known, and whether it reported the end of a run
// (its open cases are to be counted now, not when its alert's outcome is known).
func (r *ReconciliationJobReconciler) reportFinished(ctx context.Context, job *chv1.ReconciliationJob, runs []store.Run) (map[string]chv1.AlertOutcome, bool) {
	key := client.ObjectKeyFromObject(job)
	reported := map[string]bool{}
	for _, s := range job.Status.RecentRuns {
		reported[s.ID] = s.Alert != ""
	}
	if l := job.Status.LastRun; l != nil && l.Alert != "" {
		reported[l.ID] = true
	}
	limit := int(job.Spec.HistoryLimit)
	if limit < 1 {
		limit = 10
	}
	r.mu.Lock()
	mine := r.reported[key]
	kept := map[string]chv1.AlertOutcome{}
	out := map[string]chv1.AlertOutcome{}
	mineNow := map[string]bool{} // reported by this manager: an outcome, or pending
	for i, run := range runs {
		if a, ok := mine[run.ID]; ok && i < limit {
			kept[run.ID] = a
			mineNow[run.ID] = true
			if !reported[run.ID] && a != alertPending {
				out[run.ID] = a // reported already; the cached status is behind
			}
		}
	}
	r.reported[key] = kept
	r.mu.Unlock()
	ended := false
	for i, run := range runs {
		if i == limit {
			break
		}
		if run.State == store.RunRunning || reported[run.ID] || mineNow[run.ID] {
			continue
		}
		ended = true
		sum := runSummary(run)
		switch run.State {
		case store.RunFailed:
			r.event(job, corev1.EventTypeWarning, "RunFailed", "Finish", "run %s failed: %s", run.ID, run.Error)
		case store.RunAborted, store.RunInterrupted:
			r.event(job, corev1.EventTypeWarning, "Run"+string(sum.Result), "Finish", "run %s %s: %s", run.ID, strings.ToLower(string(sum.Result)), run.Error)
		default:
			r.event(job, corev1.EventTypeNormal, "RunFinished", "Finish", "run %s finished %s: %d compared, %d discrepancies",
				run.ID, sum.Result, run.Summary.Compared, run.Summary.Discrepancies())
		}
		if r.Metrics != nil {
			r.Metrics.RecordRun(job.Namespace, job.Name, sum)
		}
		if r.deliveries != nil && alert.ShouldAlert(job.Spec.Alerts, sum) {
			r.mu.Lock()
			r.reported[key][run.ID] = alertPending
			r.mu.Unlock()
			r.deliverAlert(ctx, key, job.DeepCopy(), run)
			continue
		}
		out[run.ID] = r.alert(ctx, job, run)
		r.mu.Lock()
		r.reported[key][run.ID] = out[run.ID]
		r.mu.Unlock()
	}
	return out, ended
}

// openCases counts the job's unresolved cases.
func (r *ReconciliationJobReconciler) openCases(ctx context.Context, job *chv1.ReconciliationJob) (int64, error) {
	n, err := r.Store.CountCases(ctx, store.CaseFilter{Job: jobRef(job), States: []store.CaseState{store.CaseOpen, store.CaseAcknowledged}})
	if err != nil {
		return 0, fmt.Errorf("count open cases of %s: %w", jobRef(job), err)
	}
	r.mu.Lock()
	r.counted[client.ObjectKeyFromObject(job)] = r.Clock.Now()
	r.mu.Unlock()
	return n, nil
}

// recount says whether open cases are due for a recount with no run finished.
func (r *ReconciliationJobReconciler) recount(key types.NamespacedName, now time.Time) bool {
	return !now.Before(r.recountAt(key))
}

// recountAt is when open cases are due for a recount (zero: never counted).
func (r *ReconciliationJobReconciler) recountAt(key types.NamespacedName) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.counted[key]
	if !ok {
		return time.Time{}
	}
	return at.UTC().Add(casesRecount)
}

// forget drops what the reconciler keeps for a deleted job and aborts its inline runs.
func (r *ReconciliationJobReconciler) forget(ctx context.Context, key types.NamespacedName) {
	r.wake.forget(key)
	r.mu.Lock()
	delete(r.counted, key)
	delete(r.reported, key)
	r.mu.Unlock()
	if r.Metrics != nil {
		r.Metrics.Forget(key.Namespace, key.Name)
	}
	runs, err := r.Store.Runs(ctx, key.Namespace+"/"+key.Name, 1)
	if err != nil || len(runs) == 0 || runs[0].State != store.RunRunning {
		return
	}
	if id := runs[0].ID; r.Inline.Active(id) {
		r.Inline.Cancel(id, errDeleted) // the run records its own end
	} else if _, err := r.Store.FinishRun(ctx, id, store.RunAborted, r.Clock.Now().UTC(), errDeleted.Error()); err != nil {
		// A Kubernetes run: its worker Job goes with the job (owner reference).
		logf.FromContext(ctx).Error(err, "record the end of a deleted job's run", "run", id)
	}
}

// event records an event on the job.
func (r *ReconciliationJobReconciler) event(job *chv1.ReconciliationJob, typ, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(job, nil, typ, reason, action, "%s", eventNote(fmt.Sprintf(format, args...)))
	}
}

// maxEventNote is the longest note the API server takes in an events.k8s.io Event: a
// longer one is refused, and the event lost.
const maxEventNote = 1024

// eventNote cuts a note to what an Event holds, on a rune boundary, ending in "…".
func eventNote(s string) string {
	if len(s) <= maxEventNote {
		return s
	}
	const more = "…"
	return strings.ToValidUTF8(s[:maxEventNote-len(more)], "") + more
}

// SetupWithManager registers the reconciler: jobs, their DataSources, their worker
// Jobs, the clock's wake-ups, and the inline pool.
func (r *ReconciliationJobReconciler) SetupWithManager(mgr manager.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Inline == nil {
		r.Inline = NewInlineExecutor(1)
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Store == nil {
		return errors.New("ReconciliationJob controller: no results store")
	}
	r.wake = newWakeups(r.Clock)
	r.counted = map[types.NamespacedName]time.Time{}
	r.reported = map[types.NamespacedName]map[string]chv1.AlertOutcome{}
	if err := mgr.Add(r.Inline); err != nil {
		return fmt.Errorf("add inline executor: %w", err)
	}
	if err := mgr.Add(r.wake); err != nil {
		return fmt.Errorf("add wake-ups: %w", err)
	}
	r.deliveries = newDeliveries()
	if err := mgr.Add(r.deliveries); err != nil {
		return fmt.Errorf("add alert deliveries: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &chv1.ReconciliationJob{}, jobDataSourceIndex,
		func(o client.Object) []string {
			j := o.(*chv1.ReconciliationJob)
			return []string{j.Spec.Source.DataSource, j.Spec.Target.DataSource}
		}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&chv1.ReconciliationJob{}).
		Watches(&chv1.DataSource{}, handler.EnqueueRequestsFromMapFunc(r.jobsReading)).
		WatchesRawSource(source.Channel(r.wake.ch, &handler.TypedEnqueueRequestForObject[*chv1.ReconciliationJob]{})).
		// Store reads wait on the network: one slow job must not hold the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("reconciliationjob")
	b = r.Kubernetes.watch(b)
	return b.Complete(r)
}

// jobsReading maps a DataSource to the jobs that read it.
func (r *ReconciliationJobReconciler) jobsReading(ctx context.Context, ds client.Object) []reconcile.Request {
	var jobs chv1.ReconciliationJobList
	if err := r.List(ctx, &jobs, client.InNamespace(ds.GetNamespace()), client.MatchingFields{jobDataSourceIndex: ds.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(jobs.Items))
	for _, j := range jobs.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&j)})
	}
	return reqs
}
