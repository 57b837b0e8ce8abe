package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// Two DataSources in one namespace whose captures name the same Kafka topics (same
// spec.capture.topicPrefix and table): the second used to take the first's KafkaTopic
// over (server-side apply, same field manager) and start a second Debezium connector
// writing into its change topic. Now nothing of the second is applied, and its
// PipelineReady condition names the owner.
func TestTopicPrefixCollisionStartsNoSecondConnector(t *testing.T) {
	ctx := context.Background()
	ns := "topic-collision"
	namespace(t, ns)
	bm := &chv1.BusinessModule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments"},
		Spec: chv1.BusinessModuleSpec{Owners: []chv1.Owner{{Name: "t"}}, KafkaCluster: &chv1.KafkaClusterRef{Name: "events"}}}
	if err := env.Client.Create(ctx, bm); err != nil {
		t.Fatal(err)
	}
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	a := sqlSource(ns, "ledger-a", db, "entries", time.Hour, "id")
	a.Spec.Module = "payments"
	a.Spec.Capture = &chv1.CaptureSpec{KafkaConnect: "connect", TopicPrefix: "ledger"}
	createDataSource(t, a)
	waitLong(t, a, func() error {
		if len(pipelineObjects(t, a)) < 2 {
			return fmt.Errorf("A's pipeline not applied yet")
		}
		return nil
	})
	b := sqlSource(ns, "ledger-b", db, "entries", time.Hour, "id")
	b.Spec.Module = "payments"
	b.Spec.Capture = &chv1.CaptureSpec{KafkaConnect: "connect", TopicPrefix: "ledger"}
	createDataSource(t, b)
	waitLong(t, b, func() error {
		c := meta_find(b, "PipelineReady")
		if c == nil || c.Reason == chv1.ReasonCaptureNotRequested {
			return fmt.Errorf("B not reconciled yet")
		}
		return nil
	})
	t.Logf("B PipelineReady: %+v", *meta_find(b, "PipelineReady"))
	topic := &unstructured.Unstructured{}
	topic.SetGroupVersionKind(pipeline.KafkaTopicGVK)
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ledger.public.entries"}, topic); err != nil {
		t.Fatal(err)
	}
	for _, ref := range topic.GetOwnerReferences() {
		t.Logf("KafkaTopic %s owner %s %s controller=%v; labels %v", topic.GetName(), ref.Name, ref.UID, *ref.Controller, topic.GetLabels())
		if ref.UID != a.UID {
			t.Errorf("A's KafkaTopic %s is now owned by %s (deleting %s garbage-collects it, and Strimzi deletes the topic with A's data)", topic.GetName(), ref.Name, ref.Name)
		}
	}
	conn := &unstructured.Unstructured{}
	conn.SetGroupVersionKind(pipeline.KafkaConnectorGVK)
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: pipeline.ConnectorName(b)}, conn); err == nil {
		t.Errorf("B's KafkaConnector %s exists and writes into topics %v, which are A's", conn.GetName(), mustTopics(t, b))
	}
}

func mustTopics(t *testing.T, ds *chv1.DataSource) []string {
	ts, err := pipeline.Topics(ds)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func meta_find(ds *chv1.DataSource, typ string) *metav1.Condition {
	for i := range ds.Status.Conditions {
		if ds.Status.Conditions[i].Type == typ {
			return &ds.Status.Conditions[i]
		}
	}
	return nil
}
