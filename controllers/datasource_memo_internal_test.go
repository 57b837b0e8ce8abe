package controllers

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
)

// A Kafka topic (no schema to discover) reached once, then its brokers down: its
// SchemaDiscovered condition used to turn to NotProbed "the source has not been reached
// yet" (it had been) and back to NotSupported when the brokers returned, a flap with
// every outage. What an outage cannot tell is kept.
func TestKafkaOutageKeepsSchemaDiscovered(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	ds := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders", Generation: 1},
		Spec: chv1.DataSourceSpec{Type: chv1.DataSourceKafka, TimeZone: "UTC", KeyColumns: []string{"payload.id"},
			Kafka: &chv1.KafkaSource{BootstrapServers: []string{"kafka:9092"}, Topic: "orders"}},
	}
	pipe := pipelineObservation{Reason: chv1.ReasonCaptureNotRequested, Message: "spec.capture is not set"}
	rows := int64(5)
	ok := probeObservation{Result: probe.Result{EstimatedRows: &rows, Detail: "3 partitions, end offsets 2, 0, 3"}, At: at}
	ds.Status = dataSourceStatus(ds, &ok, pipe)
	reached := cond(t, ds.Status, "SchemaDiscovered")
	if reached.Reason != probe.ReasonNotSupported {
		t.Fatalf("SchemaDiscovered %+v", reached)
	}

	down := probeObservation{Err: &probe.Error{DataSource: "ns/orders", Stage: probe.StageConnect, Reason: probe.ReasonUnreachable,
		Err: errors.New("kafka topic \"orders\": brokers not reachable within 10s")}, At: at}
	st := dataSourceStatus(ds, &down, pipe)
	if c := cond(t, st, "SchemaDiscovered"); c.Status != reached.Status || c.Reason != reached.Reason || c.Message != reached.Message {
		t.Errorf("SchemaDiscovered after an outage %s/%s %q, want it kept: %s/%s %q", c.Status, c.Reason, c.Message,
			reached.Status, reached.Reason, reached.Message)
	}

	// Never reached: it says so.
	fresh := ds.DeepCopy()
	fresh.Status = chv1.DataSourceStatus{}
	st = dataSourceStatus(fresh, &down, pipe)
	if c := cond(t, st, "SchemaDiscovered"); c.Status != metav1.ConditionFalse || c.Reason != chv1.ReasonNotProbed || c.Message != "the source has not been reached yet" {
		t.Errorf("SchemaDiscovered of a source never reached %+v", c)
	}
}
