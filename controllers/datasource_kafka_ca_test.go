package controllers_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/testcert"
)

// TestDataSourceKafkaPrivateCA: a Kafka DataSource over TLS to brokers a private CA
// signed (a Strimzi cluster's) trusts the certificates its caSecretRef names, and is
// Ready. A change of the CA's Secret (a CA renewed) re-probes at once, not at the next
// probeInterval: the controller watches the CA's Secret too. Here the new CA is not
// the brokers', so the probe fails on the certificate.
func TestDataSourceKafkaPrivateCA(t *testing.T) {
	ns := "kafka-ca"
	namespace(t, ns)
	certs, other := testcert.New(t), testcert.New(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(certs.Server), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ca := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "events-cluster-ca-cert"},
		Data:       map[string][]byte{"ca.crt": certs.CAPEM},
	}
	create(t, ca)
	ds := &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders"}, Spec: chv1.DataSourceSpec{
		Type: chv1.DataSourceKafka, Kafka: &chv1.KafkaSource{BootstrapServers: c.ListenAddrs(), Topic: "orders", TLS: true,
			CASecretRef: &chv1.SecretKeyRef{Name: ca.Name, Key: "ca.crt"}},
		KeyColumns: []string{"id"}, ProbeInterval: &metav1.Duration{Duration: time.Hour}}}
	createDataSource(t, ds)
	waitLong(t, ds, func() error {
		return exactCondition(ds, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 1 partitions, end offsets 0")
	})

	ca.Data = map[string][]byte{"ca.crt": other.CAPEM}
	if err := env.Client.Update(context.Background(), ca); err != nil {
		t.Fatal(err)
	}
	waitLong(t, ds, func() error {
		return wantCondition(ds, "Ready", metav1.ConditionFalse, "Unreachable", "certificate")
	})
}
