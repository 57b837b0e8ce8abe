package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
)

// fieldOwner is the server-side apply field manager of everything the operator applies.
const fieldOwner = client.FieldOwner("clearhouse")

// pipelineKinds are the Strimzi kinds a capture pipeline is made of.
func pipelineKinds() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{pipeline.KafkaConnectorGVK, pipeline.KafkaTopicGVK}
}

func pipelineObject(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// reconcilePipeline applies the capture pipeline of ds (server-side apply, owned by ds
// so that deleting ds garbage-collects it), deletes the objects it rendered before and
// no longer does, and reads Strimzi's readiness back. Failures are reported in the
// observation, never returned: the probe and the rest of the status go on, and the
// next attempt is at the next probe (no retry storm when Strimzi is missing).
func (r *DataSourceReconciler) reconcilePipeline(ctx context.Context, ds *chv1.DataSource) pipelineObservation {
	strimzi := r.strimziInstalled()
	if ds.Spec.Capture == nil {
		if strimzi {
			if err := r.prunePipeline(ctx, ds, nil); err != nil {
				return pipelineObservation{Reason: chv1.ReasonPipelineFailed, Message: err.Error()}
			}
		}
		return pipelineObservation{Reason: chv1.ReasonCaptureNotRequested, Message: "spec.capture is not set"}
	}
	if !strimzi {
		return pipelineObservation{Reason: chv1.ReasonStrimziNotInstalled,
			Message: "the Strimzi CRDs (kafka.strimzi.io/v1 KafkaConnector and KafkaTopic) are not installed in the cluster; install Strimzi to capture changes"}
	}
	fail := func(err error) pipelineObservation {
		return pipelineObservation{Reason: chv1.ReasonPipelineFailed, Message: err.Error()}
	}
	module, err := r.module(ctx, ds)
	if err != nil {
		// Rendering without the module's Kafka cluster would prune its KafkaTopics, and
		// Strimzi would delete the topics with their data: try again later instead.
		return fail(err)
	}
	opts, _ := pipeline.OptionsFor(ds, module)
	objs, err := pipeline.Render(ds, opts)
	if err != nil {
		return fail(err)
	}
	// Nothing is applied while one of the objects is another DataSource's (two captures
	// with the same topic prefix and table): applying would take its KafkaTopic over,
	// and a connector would write into its change topic.
	for _, o := range objs {
		cur := pipelineObject(o.GroupVersionKind())
		err := r.Get(ctx, client.ObjectKeyFromObject(o), cur)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("datasource %s/%s: read %s %s: %w", ds.Namespace, ds.Name, o.GetKind(), o.GetName(), err))
		}
		if ref := metav1.GetControllerOf(cur); ref != nil && ref.UID != ds.UID {
			return fail(fmt.Errorf("datasource %s/%s: %s %s belongs to %s %s: give this capture another spec.capture.topicPrefix",
				ds.Namespace, ds.Name, o.GetKind(), o.GetName(), ref.Kind, ref.Name))
		}
	}
	for _, o := range objs {
		if err := controllerutil.SetControllerReference(ds, o, r.Scheme()); err != nil {
			return fail(fmt.Errorf("datasource %s/%s: own %s %s: %w", ds.Namespace, ds.Name, o.GetKind(), o.GetName(), err))
		}
		if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), fieldOwner, client.ForceOwnership); err != nil {
			return fail(fmt.Errorf("datasource %s/%s: apply %s %s: %w", ds.Namespace, ds.Name, o.GetKind(), o.GetName(), err))
		}
	}
	if err := r.prunePipeline(ctx, ds, objs); err != nil {
		return fail(err)
	}
	topics, err := pipeline.Topics(ds)
	if err != nil {
		return fail(err)
	}
	obs := pipelineObservation{Status: &chv1.PipelineStatus{Connector: pipeline.ConnectorName(ds), Topics: topics}}
	var notReady []string
	for _, o := range objs {
		cur := pipelineObject(o.GroupVersionKind())
		if err := r.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
			return fail(fmt.Errorf("datasource %s/%s: read %s %s: %w", ds.Namespace, ds.Name, o.GetKind(), o.GetName(), err))
		}
		ready, why := strimziReady(cur)
		if o.GroupVersionKind() == pipeline.KafkaConnectorGVK {
			obs.Status.ConnectorState, _, _ = unstructured.NestedString(cur.Object, "status", "connectorStatus", "connector", "state")
			if ready && obs.Status.ConnectorState != "" && obs.Status.ConnectorState != "RUNNING" {
				ready, why = false, "connector state "+obs.Status.ConnectorState
			}
			if ready {
				ready, why = tasksRunning(cur)
			}
		}
		if !ready {
			notReady = append(notReady, fmt.Sprintf("%s %s: %s", o.GetKind(), o.GetName(), why))
		}
	}
	if len(notReady) > 0 {
		obs.Reason, obs.Message = chv1.ReasonPipelineNotReady, strings.Join(notReady, "; ")
		return obs
	}
	obs.Ready, obs.Reason = true, chv1.ReasonPipelineReady
	obs.Message = fmt.Sprintf("KafkaConnector %s is Ready (%s), %d objects applied", obs.Status.Connector, obs.Status.ConnectorState, len(objs))
	return obs
}

// strimziInstalled reports whether the API server serves the Strimzi kinds.
func (r *DataSourceReconciler) strimziInstalled() bool {
	for _, gvk := range pipelineKinds() {
		if _, err := r.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return false
		}
	}
	return true
}

// strimziReady reads the Ready condition Strimzi writes into an object's status.
func strimziReady(u *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		if m["status"] == string(metav1.ConditionTrue) {
			return true, ""
		}
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return false, strings.TrimSpace(fmt.Sprintf("Ready=%v %s %s", m["status"], reason, msg))
	}
	return false, "not Ready yet (no Ready condition from Strimzi)"
}

// tasksRunning reads the connector's task states that Kafka Connect reports through
// Strimzi: a Debezium connector whose task failed stays RUNNING (and Strimzi's Ready
// may stay True) while it captures nothing. Only states are quoted, never a task's
// trace (it can hold connection details).
func tasksRunning(u *unstructured.Unstructured) (bool, string) {
	tasks, _, _ := unstructured.NestedSlice(u.Object, "status", "connectorStatus", "tasks")
	var bad []string
	for i, t := range tasks {
		m, ok := t.(map[string]any)
		if !ok {
			continue
		}
		state, _ := m["state"].(string)
		if state == "RUNNING" {
			continue
		}
		id := fmt.Sprint(i)
		if v, ok := m["id"]; ok {
			id = fmt.Sprint(v)
		}
		bad = append(bad, fmt.Sprintf("task %s %s", id, state))
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, ", ")
	}
	return true, ""
}

// module is the BusinessModule ds names, nil when it names none or it does not exist
// (pipeline.OptionsFor decides what that means for the topics).
func (r *DataSourceReconciler) module(ctx context.Context, ds *chv1.DataSource) (*chv1.BusinessModule, error) {
	if ds.Spec.Module == "" {
		return nil, nil
	}
	var bm chv1.BusinessModule
	err := r.Get(ctx, types.NamespacedName{Namespace: ds.Namespace, Name: ds.Spec.Module}, &bm)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("datasource %s/%s: read BusinessModule %q (spec.module): %w", ds.Namespace, ds.Name, ds.Spec.Module, err)
	}
	return &bm, nil
}

// prunePipeline deletes the pipeline objects owned by ds that keep is not rendering
// any more (all of them when keep is nil).
func (r *DataSourceReconciler) prunePipeline(ctx context.Context, ds *chv1.DataSource, keep []*unstructured.Unstructured) error {
	for _, gvk := range pipelineKinds() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.List(ctx, list, client.InNamespace(ds.Namespace), client.MatchingLabels(pipeline.Selector(ds))); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return fmt.Errorf("datasource %s/%s: list %s: %w", ds.Namespace, ds.Name, gvk.Kind, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			if !ownedBy(o, ds) || slices.ContainsFunc(keep, func(k *unstructured.Unstructured) bool {
				return k.GroupVersionKind().Kind == gvk.Kind && k.GetName() == o.GetName()
			}) {
				continue
			}
			if err := r.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("datasource %s/%s: delete %s %s: %w", ds.Namespace, ds.Name, gvk.Kind, o.GetName(), err)
			}
		}
	}
	return nil
}

func ownedBy(o metav1.Object, ds *chv1.DataSource) bool {
	return slices.ContainsFunc(o.GetOwnerReferences(), func(ref metav1.OwnerReference) bool { return ref.UID == ds.UID })
}
