package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// DataSourceReconciler reconciles DataSources.
type DataSourceReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources/finalizers,verbs=update

// Reconcile sets the status of one DataSource.
func (r *DataSourceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ds chv1.DataSource
	if err := r.Get(ctx, req.NamespacedName, &ds); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := ds.DeepCopy()
	ds.Status = dataSourceStatus(&ds)
	return ctrl.Result{}, patchStatus(ctx, r.Client, before, &ds)
}

// SetupWithManager registers the reconciler.
func (r *DataSourceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&chv1.DataSource{}).Named("datasource").Complete(r)
}
