package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// SettlementWindowReconciler reconciles SettlementWindows.
type SettlementWindowReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=clearhouse.dev,resources=settlementwindows,verbs=get;list;watch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=settlementwindows/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=clearhouse.dev,resources=reconciliationjobs,verbs=get;list;watch

// Reconcile sets the status of one SettlementWindow.
func (r *SettlementWindowReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sw chv1.SettlementWindow
	if err := r.Get(ctx, req.NamespacedName, &sw); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	in := windowInputs{window: &sw}
	sel, err := metav1.LabelSelectorAsSelector(&sw.Spec.Jobs.Selector)
	if err != nil {
		in.selectorErr = err
	} else {
		var jobs chv1.ReconciliationJobList
		if err := r.List(ctx, &jobs, client.InNamespace(sw.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return ctrl.Result{}, err
		}
		for _, j := range jobs.Items {
			in.jobs = append(in.jobs, j.Name)
		}
	}
	before := sw.DeepCopy()
	sw.Status = windowStatus(in)
	return ctrl.Result{}, patchStatus(ctx, r.Client, before, &sw)
}

// SetupWithManager registers the reconciler; any job change in a namespace re-checks its
// windows, since the selector and the dependency order depend on the jobs present.
func (r *SettlementWindowReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&chv1.SettlementWindow{}).
		Watches(&chv1.ReconciliationJob{}, handler.EnqueueRequestsFromMapFunc(r.windowsInNamespace)).
		Named("settlementwindow").
		Complete(r)
}

func (r *SettlementWindowReconciler) windowsInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var windows chv1.SettlementWindowList
	if err := r.List(ctx, &windows, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(windows.Items))
	for _, w := range windows.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&w)})
	}
	return reqs
}
