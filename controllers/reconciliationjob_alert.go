package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	sum := runSummary(run)
	if !alert.ShouldAlert(job.Spec.Alerts, sum) {
		return chv1.AlertNone
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
	results := n.Send(ctx, job.Spec.Alerts.Channels, alert.Alert{
		Namespace: job.Namespace, Job: job.Name, Run: sum, Threshold: job.Spec.Alerts.Threshold, Sample: sample,
	})
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
