package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// jobDataSourceIndex indexes jobs by the DataSources they read, so a DataSource change
// wakes exactly the jobs that use it.
const jobDataSourceIndex = "spec.dataSources"

// ReconciliationJobReconciler reconciles ReconciliationJobs.
type ReconciliationJobReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=clearhouse.dev,resources=reconciliationjobs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=reconciliationjobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=reconciliationjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources,verbs=get;list;watch

// Reconcile sets the status of one ReconciliationJob.
func (r *ReconciliationJobReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var job chv1.ReconciliationJob
	if err := r.Get(ctx, req.NamespacedName, &job); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	in := jobInputs{job: &job, missing: map[string]string{}}
	for side, name := range map[string]string{"source": job.Spec.Source.DataSource, "target": job.Spec.Target.DataSource} {
		var ds chv1.DataSource
		err := r.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: name}, &ds)
		switch {
		case apierrors.IsNotFound(err):
			in.missing[side] = name
		case err != nil:
			return reconcile.Result{}, err
		}
	}
	before := job.DeepCopy()
	job.Status = jobStatus(in)
	return reconcile.Result{}, patchStatus(ctx, r.Client, before, &job)
}

// SetupWithManager registers the reconciler and wakes jobs when their DataSources change.
func (r *ReconciliationJobReconciler) SetupWithManager(mgr manager.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &chv1.ReconciliationJob{}, jobDataSourceIndex,
		func(o client.Object) []string {
			j := o.(*chv1.ReconciliationJob)
			return []string{j.Spec.Source.DataSource, j.Spec.Target.DataSource}
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&chv1.ReconciliationJob{}).
		Watches(&chv1.DataSource{}, handler.EnqueueRequestsFromMapFunc(r.jobsReading)).
		Named("reconciliationjob").
		Complete(r)
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
