package controllers

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// alertTimeout bounds the delivery of one run's alert to all its channels (each
// channel retries with backoff within it).
const alertTimeout = 2 * time.Minute

// alert sends the alert of a finished run when one is due (alert.ShouldAlert) and says
// what became of it. A channel that fails after its retries is an event and a metric;
// the run itself is unaffected.
func (r *ReconciliationJobReconciler) alert(ctx context.Context, job *chv1.ReconciliationJob, run store.Run) chv1.AlertOutcome {
	results, due := r.sendAlert(ctx, job, run)
	if !due {
		return chv1.AlertNone
	}
	return r.recordAlert(job, run, results)
}

// sendAlert sends the alert of a finished run when one is due, and returns what each
// channel answered.
func (r *ReconciliationJobReconciler) sendAlert(ctx context.Context, job *chv1.ReconciliationJob, run store.Run) ([]alert.Result, bool) {
	sum := runSummary(run)
	if !alert.ShouldAlert(job.Spec.Alerts, sum) {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, alertTimeout)
	defer cancel()
	n := r.Notifier
	n.Secrets = alert.FromCluster(r.APIReader, job.Namespace)
	size := n.SampleSize
	if size == 0 {
		size = alert.DefaultSampleSize
	}
	// The store's discrepancies were masked by the engine: the sample holds no
	// sensitive value in clear.
	sample, err := r.Store.Discrepancies(ctx, run.ID, size)
	if err != nil {
		logf.FromContext(ctx).Error(err, "read the alert's sample of discrepancies", "run", run.ID)
	}
	return n.Send(ctx, job.Spec.Alerts.Channels, alert.Alert{
		Namespace: job.Namespace, Job: job.Name, Run: sum, Threshold: job.Spec.Alerts.Threshold, Sample: sample,
	}), true
}

// recordAlert reports what the channels answered (events, metrics) and returns the
// alert's outcome.
func (r *ReconciliationJobReconciler) recordAlert(job *chv1.ReconciliationJob, run store.Run, results []alert.Result) chv1.AlertOutcome {
	outcome := chv1.AlertSent
	for _, res := range results {
		if r.Metrics != nil {
			r.Metrics.RecordAlert(job.Namespace, job.Name, res.Channel, res.Err)
		}
		if res.Err != nil {
			outcome = chv1.AlertFailed
			r.event(job, corev1.EventTypeWarning, "AlertFailed", "Alert", "alert of run %s to channel %s failed after %d attempts: %v",
				run.ID, res.Channel, res.Attempts, res.Err)
			continue
		}
		r.event(job, corev1.EventTypeNormal, "AlertSent", "Alert", "alert of run %s sent to channel %s", run.ID, res.Channel)
	}
	return outcome
}

// alertPending marks, in the reconciler's reported map, a run whose end is reported
// (event, metrics) and whose alert is being delivered. It never reaches status: a run
// without an outcome there is sent again by the next leader.
const alertPending chv1.AlertOutcome = "pending"

// maxDeliveries bounds the alerts being delivered at once.
const maxDeliveries = 16

// deliveries runs alert deliveries off the reconcilers' goroutines (a manager.Runnable):
// a channel that hangs for alertTimeout during an outage must not hold a reconcile
// worker, and with it the schedules and status of every other job.
type deliveries struct {
	slots   chan struct{}
	started chan struct{} // closed by Start, once ctx is set
	ctx     context.Context

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

func newDeliveries() *deliveries {
	return &deliveries{slots: make(chan struct{}, maxDeliveries), started: make(chan struct{})}
}

// Start gives deliveries the manager's context, and waits for those under way when
// the manager stops.
func (d *deliveries) Start(ctx context.Context) error {
	d.ctx = ctx
	close(d.started)
	<-ctx.Done()
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

// do runs fn on a goroutine of its own under the manager's context, at most
// maxDeliveries at once; it returns at once. It reports false when the manager has
// stopped (fn does not run).
func (d *deliveries) do(fn func(ctx context.Context)) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		<-d.started
		select {
		case d.slots <- struct{}{}:
		case <-d.ctx.Done():
			return
		}
		defer func() { <-d.slots }()
		fn(d.ctx)
	}()
	return true
}

// deliverAlert sends a run's alert in the background; reported holds alertPending for
// it meanwhile. The outcome then goes into reported and the job is woken to put it in
// status. When the manager stops first, the outcome is unknown and the run stays
// without one in status: the next leader sends the alert.
func (r *ReconciliationJobReconciler) deliverAlert(ctx context.Context, key types.NamespacedName, job *chv1.ReconciliationJob, run store.Run) {
	log := logf.FromContext(ctx)
	settle := func(outcome chv1.AlertOutcome, known bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		m := r.reported[key] // nil: the job is gone
		if m == nil || m[run.ID] != alertPending {
			return
		}
		if known {
			m[run.ID] = outcome
		} else {
			delete(m, run.ID)
		}
	}
	started := r.deliveries.do(func(dctx context.Context) {
		results, _ := r.sendAlert(logf.IntoContext(dctx, log), job, run)
		if dctx.Err() != nil {
			// The channels were cut off by the shutdown, not failed: nothing is counted
			// (no AlertFailed event, no delivery failure) and the next leader sends it.
			settle("", false)
			return
		}
		settle(r.recordAlert(job, run, results), true)
		r.wake.now(key)
	})
	if !started {
		settle("", false)
	}
}
