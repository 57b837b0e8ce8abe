package controllers_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// pipelineObjects lists the KafkaConnectors and KafkaTopics rendered for ds.
func pipelineObjects(t *testing.T, ds *chv1.DataSource) []unstructured.Unstructured {
	t.Helper()
	var out []unstructured.Unstructured
	for _, gvk := range []schema.GroupVersionKind{pipeline.KafkaConnectorGVK, pipeline.KafkaTopicGVK} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := env.Client.List(context.Background(), list, client.InNamespace(ds.Namespace), client.MatchingLabels(pipeline.Selector(ds))); err != nil {
			t.Fatal(err)
		}
		out = append(out, list.Items...)
	}
	return out
}

// setStrimziStatus writes the status Strimzi would: Ready, and a connector state with
// its tasks' states (ids 0, 1, ...; a failed one with a trace).
func setStrimziStatus(t *testing.T, o *unstructured.Unstructured, state string, tasks ...string) {
	t.Helper()
	status := map[string]any{"conditions": []any{map[string]any{
		"type": "Ready", "status": "True", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
	if state != "" {
		cs := map[string]any{"connector": map[string]any{"state": state}}
		var ts []any
		for i, s := range tasks {
			task := map[string]any{"id": int64(i), "state": s, "worker_id": "connect-0:8083"}
			if s == "FAILED" {
				task["trace"] = "org.apache.kafka.connect.errors.ConnectException: connection refused"
			}
			ts = append(ts, task)
		}
		if ts != nil {
			cs["tasks"] = ts
		}
		status["connectorStatus"] = cs
	}
	o.Object["status"] = status
	if err := env.Client.Status().Update(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

// captureSource is a PostgreSQL DataSource "ledger" in ns capturing changes through the
// KafkaConnect "connect"; uid is set for DataSources the tests do not create.
func captureSource(ns string, uid types.UID) *chv1.DataSource {
	return &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger", UID: uid},
		Spec: chv1.DataSourceSpec{Type: chv1.DataSourcePostgreSQL, KeyColumns: []string{"id"},
			PostgreSQL: &chv1.SQLSource{Host: "db", Database: "ledger", Table: "entries", SecretRef: chv1.CredentialsSecretRef{Name: "db"}},
			Capture:    &chv1.CaptureSpec{KafkaConnect: "connect"}}}
}

// TestDataSourcePipeline: with the Strimzi CRDs installed, capture is applied with
// server-side apply as field owner clearhouse, every object controlled by the
// DataSource (so deleting it garbage-collects them); Strimzi's readiness and the
// connector's state are read back; dropping capture deletes what was created.
func TestDataSourcePipeline(t *testing.T) {
	ctx := context.Background()
	ns := "cdc"
	namespace(t, ns)
	bm := &chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments"},
		Spec: chv1.BusinessModuleSpec{Owners: []chv1.Owner{{Name: "payments-team"}}}}
	if err := env.Client.Create(ctx, bm); err != nil {
		t.Fatal(err)
	}
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	ds := sqlSource(ns, "ledger", db, "entries", time.Hour, "id")
	ds.Spec.Module = "payments"
	ds.Spec.Capture = &chv1.CaptureSpec{KafkaConnect: "connect", TopicPrefix: "ledger"}
	createDataSource(t, ds)
	topics, err := pipeline.Topics(ds)
	if err != nil {
		t.Fatal(err)
	}
	// The module names no Kafka cluster yet: the connector alone (Kafka Connect will
	// create the topics).
	waitLong(t, ds, func() error {
		return exactCondition(ds, "PipelineReady", metav1.ConditionFalse, chv1.ReasonPipelineNotReady,
			"KafkaConnector ledger-cdc: not Ready yet (no Ready condition from Strimzi)")
	})
	// Naming it renders the KafkaTopics there, without an edit to the DataSource.
	patch := client.MergeFrom(bm.DeepCopy())
	bm.Spec.KafkaCluster = &chv1.KafkaClusterRef{Name: "events"}
	if err := env.Client.Patch(ctx, bm, patch); err != nil {
		t.Fatal(err)
	}
	want, err := pipeline.Render(ds, pipeline.Options{KafkaCluster: "events"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range want {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	waitLong(t, ds, func() error {
		if err := exactCondition(ds, "PipelineReady", metav1.ConditionFalse, chv1.ReasonPipelineNotReady,
			fmt.Sprintf("KafkaConnector ledger-cdc: not Ready yet (no Ready condition from Strimzi); KafkaTopic %s: not Ready yet (no Ready condition from Strimzi)", want[1].GetName())); err != nil {
			return err
		}
		if p := ds.Status.Pipeline; p == nil || p.Connector != "ledger-cdc" || !reflect.DeepEqual(p.Topics, topics) {
			return fmt.Errorf("pipeline status %+v, want connector ledger-cdc and topics %v", p, topics)
		}
		return wantCondition(ds, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "")
	})

	objs := pipelineObjects(t, ds)
	var got []string
	for i := range objs {
		o := &objs[i]
		got = append(got, o.GetKind()+"/"+o.GetName())
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "DataSource" || refs[0].Name != "ledger" || refs[0].UID != ds.UID ||
			refs[0].Controller == nil || !*refs[0].Controller || refs[0].BlockOwnerDeletion == nil || !*refs[0].BlockOwnerDeletion {
			t.Errorf("%s %s: owner references %+v, want the DataSource as controller", o.GetKind(), o.GetName(), refs)
		}
		if !slices.ContainsFunc(o.GetManagedFields(), func(m metav1.ManagedFieldsEntry) bool {
			return m.Manager == "clearhouse" && m.Operation == metav1.ManagedFieldsOperationApply
		}) {
			t.Errorf("%s %s: not applied by field manager clearhouse: %+v", o.GetKind(), o.GetName(), o.GetManagedFields())
		}
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("objects %v, want %v", got, names)
	}

	// Strimzi reports the connector running and the topic ready.
	for i := range objs {
		state := ""
		if objs[i].GetKind() == "KafkaConnector" {
			state = "RUNNING"
		}
		setStrimziStatus(t, &objs[i], state)
	}
	waitLong(t, ds, func() error {
		if err := exactCondition(ds, "PipelineReady", metav1.ConditionTrue, chv1.ReasonPipelineReady,
			"KafkaConnector ledger-cdc is Ready (RUNNING), 2 objects applied"); err != nil {
			return err
		}
		if ds.Status.Pipeline.ConnectorState != "RUNNING" {
			return fmt.Errorf("connector state %q", ds.Status.Pipeline.ConnectorState)
		}
		return nil
	})

	// No more capture: the controller deletes what it created.
	patch = client.MergeFrom(ds.DeepCopy())
	ds.Spec.Capture = nil
	if err := env.Client.Patch(ctx, ds, patch); err != nil {
		t.Fatal(err)
	}
	waitLong(t, ds, func() error {
		if err := exactCondition(ds, "PipelineReady", metav1.ConditionFalse, chv1.ReasonCaptureNotRequested, "spec.capture is not set"); err != nil {
			return err
		}
		if ds.Status.Pipeline != nil {
			return fmt.Errorf("pipeline status %+v, want none", ds.Status.Pipeline)
		}
		for _, o := range want {
			cur := &unstructured.Unstructured{}
			cur.SetGroupVersionKind(o.GroupVersionKind())
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), cur)
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s %s still there (%v)", o.GetKind(), o.GetName(), err)
			}
		}
		return nil
	})
}

// TestDataSourcePipelineWithoutStrimzi: in a cluster that does not serve the Strimzi
// kinds (a RESTMapper without them, against the same API server), capture reports
// PipelineReady=False StrimziNotInstalled and creates nothing; without capture it
// reports CaptureNotRequested and does not try to list Strimzi objects.
func TestDataSourcePipelineWithoutStrimzi(t *testing.T) {
	ctx := context.Background()
	ns := "no-strimzi"
	namespace(t, ns)
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, kind := range []string{"DataSource", "BusinessModule"} {
		mapper.Add(chv1.GroupVersion.WithKind(kind), meta.RESTScopeNamespace)
	}
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme, Mapper: mapper})
	if err != nil {
		t.Fatal(err)
	}
	ds := captureSource(ns, "0f0e0d0c-0000-4000-8000-000000000001")
	ready, reason, msg := controllers.ReconcilePipelineWith(ctx, c, ds)
	if ready || reason != chv1.ReasonStrimziNotInstalled ||
		msg != "the Strimzi CRDs (kafka.strimzi.io/v1 KafkaConnector and KafkaTopic) are not installed in the cluster; install Strimzi to capture changes" {
		t.Errorf("PipelineReady = %v %s %q, want False StrimziNotInstalled", ready, reason, msg)
	}
	if objs := pipelineObjects(t, ds); len(objs) != 0 {
		t.Errorf("created %d objects without Strimzi", len(objs))
	}
	ds.Spec.Capture = nil
	if ready, reason, _ := controllers.ReconcilePipelineWith(ctx, c, ds); ready || reason != chv1.ReasonCaptureNotRequested {
		t.Errorf("without capture: PipelineReady = %v %s, want False CaptureNotRequested", ready, reason)
	}
}

// TestDataSourcePipelineModuleUnreadable: when the BusinessModule cannot be read (here
// a client that does not know the kind; in a cluster, an API error), the pipeline is
// not rendered without its Kafka cluster: its KafkaTopics are not pruned (Strimzi
// would delete the topics and their data) and PipelineReady says why.
func TestDataSourcePipelineModuleUnreadable(t *testing.T) {
	ctx := context.Background()
	ns := "cdc-module-unreadable"
	namespace(t, ns)
	bm := &chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments"},
		Spec: chv1.BusinessModuleSpec{Owners: []chv1.Owner{{Name: "payments-team"}}, KafkaCluster: &chv1.KafkaClusterRef{Name: "events"}}}
	if err := env.Client.Create(ctx, bm); err != nil {
		t.Fatal(err)
	}
	// Not created: the suite's manager must not act on it; only the calls below do.
	ds := captureSource(ns, "0f0e0d0c-0000-4000-8000-000000000002")
	ds.Spec.Module = "payments"
	want, err := pipeline.Render(ds, pipeline.Options{KafkaCluster: "events"})
	if err != nil {
		t.Fatal(err)
	}
	if _, reason, msg := controllers.ReconcilePipelineWith(ctx, env.Client, ds); reason != chv1.ReasonPipelineNotReady {
		t.Fatalf("PipelineReady reason %s (%s), want PipelineNotReady", reason, msg)
	}
	if objs := pipelineObjects(t, ds); len(objs) != len(want) {
		t.Fatalf("%d objects applied, want %d", len(objs), len(want))
	}

	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(chv1.GroupVersion.WithKind("DataSource"), meta.RESTScopeNamespace)
	for _, gvk := range []schema.GroupVersionKind{pipeline.KafkaConnectorGVK, pipeline.KafkaTopicGVK} {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme, Mapper: mapper})
	if err != nil {
		t.Fatal(err)
	}
	ready, reason, msg := controllers.ReconcilePipelineWith(ctx, c, ds)
	wantMsg := `datasource cdc-module-unreadable/ledger: read BusinessModule "payments" (spec.module): `
	if ready || reason != chv1.ReasonPipelineFailed || !strings.HasPrefix(msg, wantMsg) {
		t.Errorf("PipelineReady = %v %s %q, want False PipelineFailed starting %q", ready, reason, msg, wantMsg)
	}
	var got []string
	for _, o := range pipelineObjects(t, ds) {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	if len(got) != len(want) {
		t.Errorf("objects after the failed read: %v, want all %d kept", got, len(want))
	}
	for _, o := range pipelineObjects(t, ds) {
		if err := env.Client.Delete(ctx, &o); client.IgnoreNotFound(err) != nil {
			t.Error(err)
		}
	}
}

// TestDataSourcePipelineFailedTask: Kafka Connect keeps a Debezium connector RUNNING
// when its task failed, and Strimzi's Ready can stay True: PipelineReady reads the
// task states (never their traces) and is False, naming the task.
func TestDataSourcePipelineFailedTask(t *testing.T) {
	ctx := context.Background()
	ns := "cdc-failed-task"
	namespace(t, ns)
	// Not created: only the calls below act on it.
	ds := captureSource(ns, "0f0e0d0c-0000-4000-8000-000000000003")
	controllers.ReconcilePipelineWith(ctx, env.Client, ds)
	objs := pipelineObjects(t, ds)
	if len(objs) != 1 {
		t.Fatalf("%d objects, want the KafkaConnector", len(objs))
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, &objs[0]) })
	// Applying what is already there writes nothing: no new version, so the watch on
	// owned objects does not wake the controller into a loop.
	controllers.ReconcilePipelineWith(ctx, env.Client, ds)
	if again := pipelineObjects(t, ds); again[0].GetResourceVersion() != objs[0].GetResourceVersion() {
		t.Errorf("a second apply of the same KafkaConnector wrote version %s (was %s)", again[0].GetResourceVersion(), objs[0].GetResourceVersion())
	}
	setStrimziStatus(t, &objs[0], "RUNNING", "RUNNING", "FAILED")
	ready, reason, msg := controllers.ReconcilePipelineWith(ctx, env.Client, ds)
	if ready || reason != chv1.ReasonPipelineNotReady || msg != "KafkaConnector ledger-cdc: task 1 FAILED" {
		t.Errorf("PipelineReady = %v %s %q, want False PipelineNotReady naming task 1", ready, reason, msg)
	}
	cur := pipelineObjects(t, ds)[0]
	setStrimziStatus(t, &cur, "RUNNING", "RUNNING", "RUNNING")
	ready, reason, msg = controllers.ReconcilePipelineWith(ctx, env.Client, ds)
	if !ready || reason != chv1.ReasonPipelineReady || msg != "KafkaConnector ledger-cdc is Ready (RUNNING), 1 objects applied" {
		t.Errorf("PipelineReady = %v %s %q, want True PipelineReady", ready, reason, msg)
	}
}

// TestDataSourceDeletingLeavesPipelineToGC: a DataSource deleted in the foreground
// waits for the garbage collector to delete its pipeline objects; the controller must
// not apply them again meanwhile (the test plays the collector: there is none in the
// test control plane).
func TestDataSourceDeletingLeavesPipelineToGC(t *testing.T) {
	ctx := context.Background()
	ns := "cdc-deleting"
	namespace(t, ns)
	ds := captureSource(ns, "")
	ds.Spec.ProbeInterval = &metav1.Duration{Duration: time.Hour}
	ds.Spec.PostgreSQL.Host, ds.Spec.PostgreSQL.Port = "127.0.0.1", 1 // refused at once
	if err := env.Client.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Without a garbage collector the foregroundDeletion finalizer stays: drop it.
		_ = env.Client.Patch(ctx, ds, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
	})
	waitLong(t, ds, func() error {
		if n := len(pipelineObjects(t, ds)); n != 1 {
			return fmt.Errorf("%d pipeline objects, want the KafkaConnector", n)
		}
		return nil
	})
	if err := env.Client.Delete(ctx, ds, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		t.Fatal(err)
	}
	// The collector deletes the dependents (a PostgreSQL capture's KafkaConnector may
	// already be gone: the controller deletes it before dropping the slot).
	for _, o := range pipelineObjects(t, ds) {
		if err := env.Client.Delete(ctx, &o); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
	}
	r := &controllers.DataSourceReconciler{Client: env.Client, APIReader: env.Client, Clock: clock.RealClock{},
		Recorder: mgr.GetEventRecorder("clearhouse-datasource-test")}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ds)}); err != nil {
		t.Fatal(err)
	}
	if objs := pipelineObjects(t, ds); len(objs) != 0 {
		t.Errorf("%d pipeline objects applied again while the DataSource is being deleted", len(objs))
	}
}
