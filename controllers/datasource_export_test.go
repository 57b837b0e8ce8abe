package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// ReconcilePipelineWith runs the pipeline step of a DataSource reconciler built on c,
// so that a test can give it a client whose RESTMapper does not know Strimzi (a cluster
// without the Strimzi CRDs) while the suite's API server has them.
func ReconcilePipelineWith(ctx context.Context, c client.Client, ds *chv1.DataSource) (ready bool, reason, message string) {
	o := (&DataSourceReconciler{Client: c}).reconcilePipeline(ctx, ds)
	return o.Ready, o.Reason, o.Message
}
