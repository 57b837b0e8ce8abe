package connect_test

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
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
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
	"github.com/clearhouse-dev/clearhouse/internal/testcert"
)

// TestKafkaPrivateCA reads a topic over TLS from brokers whose certificate a private
// CA signed (as a Strimzi cluster's CA signs its brokers'), with SCRAM credentials, the
// CA's certificate coming from caSecretRef — here through the environment, as a worker
// pod gets it. Without the CA the system's roots refuse the brokers; a key holding no
// certificate is an error naming the Secret and key, not the key's contents.
func TestKafkaPrivateCA(t *testing.T) {
	const user, kafkaPassword = "reader", "k4fka-Pa55"
	certs := testcert.New(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(certs.Server), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", user, kafkaPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: certs.Pool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: user, Pass: kafkaPassword}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := kadm.NewClient(pr).CreateTopic(ctx, 1, 1, nil, "payments"); err != nil {
		t.Fatal(err)
	}
	if err := pr.ProduceSync(ctx, &kgo.Record{Topic: "payments", Value: []byte(`{"id":"p1","amount":"1.50"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ds := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "events"},
		Spec: chv1.DataSourceSpec{
			Type:       chv1.DataSourceKafka,
			KeyColumns: []string{"id"},
			Kafka: &chv1.KafkaSource{
				BootstrapServers: c.ListenAddrs(), Topic: "payments", TLS: true,
				SecretRef:   &chv1.CredentialsSecretRef{Name: "kafka-reader"},
				CASecretRef: &chv1.SecretKeyRef{Name: "cluster-ca-cert", Key: "ca.crt"},
			},
		},
	}
	t.Setenv("KAFKA_USERNAME", user)
	t.Setenv("KAFKA_PASSWORD", kafkaPassword)
	if _, err := connect.Resolve(ctx, ds, connect.FromEnv("KAFKA")); err == nil ||
		err.Error() != "datasource payments/events: caSecretRef: environment variable KAFKA_CA_FILE or KAFKA_CA (from secret cluster-ca-cert) is not set" {
		t.Errorf("no CA in the environment: %v", err)
	}
	// As a worker pod gets it: the Secret key mounted as a file.
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	t.Setenv("KAFKA_CA_FILE", caFile)
	if _, err := connect.Resolve(ctx, ds, connect.FromEnv("KAFKA")); err == nil ||
		!strings.HasPrefix(err.Error(), `datasource payments/events: caSecretRef: environment variable KAFKA_CA_FILE (key "ca.crt" of secret cluster-ca-cert): open `) {
		t.Errorf("CA file missing: %v", err)
	}
	if err := os.WriteFile(caFile, certs.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := connect.Resolve(ctx, ds, connect.FromEnv("KAFKA"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := src.KafkaConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	if info, err := kafkasource.Probe(ctx, cfg); err != nil || len(info.Partitions) != 1 {
		t.Fatalf("probe with the CA: %+v, %v", info, err)
	}
	r, err := src.Open(ctx, connect.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	cells, err := r.Next()
	if err != nil || len(cells) != 2 || cells[0].Text != "p1" || cells[1].Text != "1.50" {
		t.Fatalf("row %+v, %v", cells, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the only row: %v", err)
	}

	// Without caSecretRef, the system's roots do not know the CA.
	noCA := ds.DeepCopy()
	noCA.Spec.Kafka.CASecretRef = nil
	src, err = connect.Resolve(ctx, noCA, connect.FromEnv("KAFKA"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = src.KafkaConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 2 * time.Second
	if _, err := kafkasource.Probe(ctx, cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("probe without the CA: %v, want a certificate error", err)
	}

	// A key that holds no certificate (given as a variable this time).
	if err := os.Unsetenv("KAFKA_CA_FILE"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAFKA_CA", "not a certificate: "+kafkaPassword)
	_, err = connect.Resolve(ctx, ds, connect.FromEnv("KAFKA"))
	if err == nil || err.Error() != `datasource payments/events: caSecretRef: key "ca.crt" of secret cluster-ca-cert holds no PEM certificate` {
		t.Errorf("bad PEM: %v", err)
	}
}
