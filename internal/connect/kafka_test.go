package connect_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// TestKafka opens a Kafka DataSource against an in-process broker that asks for
// SCRAM-SHA-512, with the credentials its secretRef resolves to (here from the
// environment, as a worker gets them), and reads the topic as a snapshot. A wrong
// password fails naming the DataSource and the topic, never the password.
func TestKafka(t *testing.T) {
	const user, kafkaPassword = "reader", "k4fka-Pa55"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", user, kafkaPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(scram.Auth{User: user, Pass: kafkaPassword}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := kadm.NewClient(pr).CreateTopic(ctx, 2, 1, nil, "payments"); err != nil {
		t.Fatal(err)
	}
	if err := pr.ProduceSync(ctx,
		&kgo.Record{Topic: "payments", Key: []byte("1"), Value: []byte(`{"payment":{"id":"p1"},"amount":1.50}`)},
		&kgo.Record{Topic: "payments", Key: []byte("2"), Value: []byte(`{"payment":{"id":"p2"},"amount":null}`)},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ds := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "events"},
		Spec: chv1.DataSourceSpec{
			Type:       chv1.DataSourceKafka,
			KeyColumns: []string{"payment.id"},
			Kafka: &chv1.KafkaSource{
				BootstrapServers: c.ListenAddrs(), Topic: "payments",
				SecretRef: &chv1.CredentialsSecretRef{Name: "kafka-reader"},
			},
		},
	}
	t.Setenv("KAFKA_USERNAME", user)
	t.Setenv("KAFKA_PASSWORD", kafkaPassword)
	src, err := connect.Resolve(ctx, ds, connect.FromEnv("KAFKA"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(ctx, connect.OpenOptions{Columns: []string{"amount"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if got := strings.Join(r.Columns(), ","); got != "amount,payment.id" {
		t.Errorf("columns %s", got)
	}
	got := map[string]diff.Cell{}
	for {
		cells, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.Position(), "payments/events partition ") {
			t.Errorf("position %q", r.Position())
		}
		got[cells[1].Text] = cells[0]
	}
	if len(got) != 2 || got["p1"] != (diff.Cell{Text: "1.50"}) || got["p2"] != (diff.Cell{Null: true}) {
		t.Errorf("rows %v", got)
	}

	if _, err := src.Open(ctx, connect.OpenOptions{Filter: "amount > 0"}); err == nil || !strings.Contains(err.Error(), "filter is only supported") {
		t.Errorf("filter on Kafka: %v", err)
	}

	t.Setenv("KAFKA_PASSWORD", "wrong-Pa55-word")
	bad, err := connect.Resolve(ctx, ds, connect.FromEnv("KAFKA"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := bad.KafkaConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 2 * time.Second // fail fast; the default is 10s
	_, err = kafkasource.Probe(ctx, cfg)
	_, err2 := bad.Open(ctx, connect.OpenOptions{})
	for _, e := range []error{err, err2} {
		if e == nil {
			t.Fatal("wrong password: no error")
		}
		if strings.Contains(e.Error(), "wrong-Pa55-word") || strings.Contains(e.Error(), kafkaPassword) {
			t.Errorf("error shows a password: %v", e)
		}
		if !strings.Contains(e.Error(), `kafka topic "payments"`) {
			t.Errorf("error does not name the topic: %v", e)
		}
	}
	if !strings.HasPrefix(err2.Error(), "datasource payments/events: ") {
		t.Errorf("open error does not name the DataSource: %v", err2)
	}
}

// TestKafkaChangeTopic reads a Debezium change topic as the table it describes, as a
// DataSource with valuePath "after" and read LatestPerKey asks: updates supersede, a
// delete (after: null) and a tombstone remove the key.
func TestKafkaChangeTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := kadm.NewClient(pr).CreateTopic(ctx, 1, 1, nil, "ledger.public.entries"); err != nil {
		t.Fatal(err)
	}
	rec := func(key, value string) *kgo.Record {
		r := &kgo.Record{Topic: "ledger.public.entries", Key: []byte(key)}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	if err := pr.ProduceSync(ctx,
		rec(`{"id":"a"}`, `{"before":null,"after":{"id":"a","amount":"1.00"},"op":"c"}`),
		rec(`{"id":"b"}`, `{"before":null,"after":{"id":"b","amount":"2.00"},"op":"c"}`),
		rec(`{"id":"c"}`, `{"before":null,"after":{"id":"c","amount":"3.00"},"op":"c"}`),
		rec(`{"id":"a"}`, `{"before":{"id":"a","amount":"1.00"},"after":{"id":"a","amount":"1.50"},"op":"u"}`),
		rec(`{"id":"b"}`, `{"before":{"id":"b","amount":"2.00"},"after":null,"op":"d"}`),
		rec(`{"id":"b"}`, ""),
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ds := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "entries-cdc"},
		Spec: chv1.DataSourceSpec{
			Type: chv1.DataSourceKafka, KeyColumns: []string{"id"},
			Kafka: &chv1.KafkaSource{BootstrapServers: c.ListenAddrs(), Topic: "ledger.public.entries",
				ValuePath: "after", Read: chv1.KafkaLatestPerKey},
		},
	}
	src, err := connect.Resolve(ctx, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(ctx, connect.OpenOptions{Columns: []string{"id", "amount"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got := map[string]string{}
	for {
		cells, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[cells[0].Text] = cells[1].Text
	}
	if len(got) != 2 || got["a"] != "1.50" || got["c"] != "3.00" {
		t.Errorf("table %v, want a=1.50 c=3.00", got)
	}
}
