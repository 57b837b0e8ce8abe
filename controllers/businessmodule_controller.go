package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// dataSourceModuleIndex indexes DataSources by the module they belong to.
const dataSourceModuleIndex = "spec.module"

// BusinessModuleReconciler reconciles BusinessModules.
type BusinessModuleReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=clearhouse.dev,resources=businessmodules,verbs=get;list;watch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=businessmodules/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=datasources,verbs=get;list;watch

// Reconcile sets the status of one BusinessModule.
func (r *BusinessModuleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var bm chv1.BusinessModule
	if err := r.Get(ctx, req.NamespacedName, &bm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var sources chv1.DataSourceList
	if err := r.List(ctx, &sources, client.InNamespace(bm.Namespace), client.MatchingFields{dataSourceModuleIndex: bm.Name}); err != nil {
		return ctrl.Result{}, err
	}
	before := bm.DeepCopy()
	bm.Status = moduleStatus(moduleInputs{module: &bm, dataSources: int32(len(sources.Items))})
	return ctrl.Result{}, patchStatus(ctx, r.Client, before, &bm)
}

// SetupWithManager registers the reconciler; a DataSource joining or leaving a module
// updates the module's counts.
func (r *BusinessModuleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &chv1.DataSource{}, dataSourceModuleIndex,
		func(o client.Object) []string {
			if m := o.(*chv1.DataSource).Spec.Module; m != "" {
				return []string{m}
			}
			return nil
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&chv1.BusinessModule{}).
		Watches(&chv1.DataSource{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if m := o.(*chv1.DataSource).Spec.Module; m != "" {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: m}}}
			}
			return nil
		})).
		Named("businessmodule").
		Complete(r)
}
