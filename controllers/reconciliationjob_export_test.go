package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// ObserveKubernetesRun asks the Kubernetes executor whether run (as the caller read it
// from st) has ended, reading worker Jobs in namespace ns through c, so that a test can
// pass a run read before its partitions were written.
func ObserveKubernetesRun(ctx context.Context, c client.Client, st store.Store, ns string, run store.Run) (bool, store.RunState, string, error) {
	r := &ReconciliationJobReconciler{Client: c, APIReader: c, Store: st}
	job := &chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns}}
	return KubernetesExecutor{}.observe(ctx, r, job, run)
}

// StartKubernetesRun hands run id of job to a Kubernetes executor configured as k,
// reading and writing through c, so that a test can give the executor a store Secret
// the suite's manager does not have.
func StartKubernetesRun(ctx context.Context, c client.Client, k KubernetesExecutor, job *chv1.ReconciliationJob, plan runner.Plan, id string, parts int) error {
	return k.start(ctx, &ReconciliationJobReconciler{Client: c, APIReader: c}, job, plan, id, parts)
}

// CasesRecount is how often a job with open cases counts them again.
const CasesRecount = casesRecount
