package connect_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/testcert"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

const password = "s3cr3t-Pa55"

func postgresSource(secret string) *chv1.DataSource {
	return &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ledger"},
		Spec: chv1.DataSourceSpec{
			Type:       chv1.DataSourcePostgreSQL,
			KeyColumns: []string{"id"},
			TimeZone:   "Europe/Paris",
			PostgreSQL: &chv1.SQLSource{
				Host: "db.example", Port: 6432, Database: "ledger", Table: "public.entries",
				SecretRef: chv1.CredentialsSecretRef{Name: secret}, TLSMode: "verify-full",
				ConnectTimeout: &metav1.Duration{Duration: 3e9},
			},
		},
	}
}

// TestFromCluster reads credentials from a real Secret through the API server, and
// names the Secret and key — never a value — when something is missing.
func TestFromCluster(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ledger-db"},
		Data:       map[string][]byte{"username": []byte("reader"), "password": []byte(password), "pw2": []byte("other")},
	}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	creds := connect.FromCluster(env.Client, "default")

	src, err := connect.Resolve(ctx, postgresSource("ledger-db"), creds)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := src.SQLConfig(connect.OpenOptions{Ordered: true, Filter: "amount > 0", Columns: []string{"id", "amount"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "reader" || cfg.Password != password || cfg.Host != "db.example" || cfg.Port != 6432 ||
		cfg.Database != "ledger" || cfg.Table != "public.entries" || cfg.TLS != "verify-full" ||
		cfg.TimeZone != "Europe/Paris" || !cfg.Ordered || cfg.Filter != "amount > 0" ||
		!slices.Equal(cfg.Keys, []string{"id"}) || cfg.ConnectTimeout != 3e9 || cfg.Name != "default/ledger" {
		t.Fatalf("config = %+v", cfg)
	}

	custom := postgresSource("ledger-db")
	custom.Spec.PostgreSQL.SecretRef.PasswordKey = "pw2"
	if src, err = connect.Resolve(ctx, custom, creds); err != nil || src.Credential().Password != "other" {
		t.Fatalf("custom key: %v, %v", src, err)
	}

	for name, tc := range map[string]struct {
		ds   *chv1.DataSource
		want string
	}{
		"missing secret": {postgresSource("nope"), "datasource default/ledger: secret default/nope not found"},
		"missing key": {func() *chv1.DataSource {
			ds := postgresSource("ledger-db")
			ds.Spec.PostgreSQL.SecretRef.UsernameKey = "user"
			return ds
		}(), `datasource default/ledger: secret default/ledger-db has no key "user"`},
	} {
		_, err := connect.Resolve(ctx, tc.ds, creds)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}

	// A caSecretRef's certificates, from another Secret.
	certs := testcert.New(t)
	if err := env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cluster-ca-cert"},
		Data:       map[string][]byte{"ca.crt": certs.CAPEM},
	}); err != nil {
		t.Fatal(err)
	}
	kafka := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "events"},
		Spec: chv1.DataSourceSpec{Type: chv1.DataSourceKafka, KeyColumns: []string{"id"}, Kafka: &chv1.KafkaSource{
			BootstrapServers: []string{"kafka:9093"}, Topic: "payments", TLS: true,
			SecretRef:   &chv1.CredentialsSecretRef{Name: "ledger-db"},
			CASecretRef: &chv1.SecretKeyRef{Name: "cluster-ca-cert", Key: "ca.crt"},
		}},
	}
	if got := connect.SecretNames(kafka); !slices.Equal(got, []string{"ledger-db", "cluster-ca-cert"}) {
		t.Errorf("secret names %q", got)
	}
	if src, err = connect.Resolve(ctx, kafka, creds); err != nil {
		t.Fatal(err)
	}
	kc, err := src.KafkaConfig()
	if err != nil || kc.TLSConfig == nil || !kc.TLSConfig.RootCAs.Equal(certs.Pool) || kc.Username != "reader" {
		t.Fatalf("kafka config %+v, %v: want the CA's pool and the credentials", kc, err)
	}
	kafka.Spec.Kafka.CASecretRef.Key = "ca.pem"
	if _, err := connect.Resolve(ctx, kafka, creds); err == nil ||
		err.Error() != `datasource default/events: caSecretRef: secret default/cluster-ca-cert has no key "ca.pem"` {
		t.Errorf("missing CA key: %v", err)
	}
	// Credentials given as a bare function cannot read a CA: said, not ignored.
	bare := connect.CredentialsFunc(creds.Credential)
	if _, err := connect.Resolve(ctx, kafka, bare); err == nil || !strings.Contains(err.Error(), "CA certificates of secret cluster-ca-cert") {
		t.Errorf("credentials without CAs: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	ctx := context.Background()
	creds := connect.FromEnv("CLEARHOUSE_SOURCE")
	if _, err := connect.Resolve(ctx, postgresSource("ledger-db"), creds); err == nil ||
		err.Error() != "datasource default/ledger: environment variable CLEARHOUSE_SOURCE_USERNAME (from secret ledger-db) is not set" {
		t.Fatalf("unset: %v", err)
	}
	t.Setenv("CLEARHOUSE_SOURCE_USERNAME", "reader")
	t.Setenv("CLEARHOUSE_SOURCE_PASSWORD", password)
	src, err := connect.Resolve(ctx, postgresSource("ledger-db"), creds)
	if err != nil {
		t.Fatal(err)
	}
	if c := src.Credential(); c.Username != "reader" || c.Password != password {
		t.Fatalf("credential %q", c.Username)
	}
}

// TestCredentialHidden: printing a credential, or a Source holding one, by mistake
// shows no password.
func TestCredentialHidden(t *testing.T) {
	c := connect.Credential{Username: "reader", Password: password}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(f, c); strings.Contains(s, password) {
			t.Errorf("%s shows the password: %s", f, s)
		}
	}
	if _, err := connect.Resolve(context.Background(), postgresSource("x"), nil); err == nil ||
		err.Error() != "datasource default/ledger: needs secret x but no credentials were given" {
		t.Fatalf("no credentials: %v", err)
	}
}

func fileSource(url string) *chv1.DataSource {
	return &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "bank"},
		Spec: chv1.DataSourceSpec{
			Type: chv1.DataSourceFile, KeyColumns: []string{"ref"},
			File: &chv1.FileSource{URL: url, Format: chv1.FileCSV, SortedByKey: true,
				CSV: &chv1.CSVOptions{Delimiter: ";", Quote: "'", NullValue: `\N`}},
		},
	}
}

// TestOpenFile opens a CSV DataSource with its delimiter, NULL marker and sort promise.
func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.csv")
	if err := os.WriteFile(path, []byte("ref;amount\na;1.50\nb;\\N\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := connect.Resolve(context.Background(), fileSource("file://"+path), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(context.Background(), connect.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	or, ok := r.(diff.OrderedReader)
	if !ok || !slices.Equal(or.OrderedBy(), []string{"ref"}) {
		t.Fatalf("sortedByKey not promised: %T", r)
	}
	var got []string
	for {
		row, err := r.Next()
		if err != nil {
			break
		}
		for _, c := range row {
			if c.Null {
				got = append(got, "NULL")
			} else {
				got = append(got, c.Text)
			}
		}
	}
	if want := []string{"a", "1.50", "b", "NULL"}; !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
}

// TestHTTPBasicAuth puts a file source's credential into its http(s) URL as basic
// auth, and the reader's name stays the DataSource's (no URL with a password).
func TestHTTPBasicAuth(t *testing.T) {
	ds := fileSource("https://files.example/bank.csv")
	ds.Spec.File.SecretRef = &chv1.CredentialsSecretRef{Name: "files"}
	creds := connect.CredentialsFunc(func(context.Context, chv1.CredentialsSecretRef) (connect.Credential, error) {
		return connect.Credential{Username: "u", Password: password}, nil
	})
	src, err := connect.Resolve(context.Background(), ds, creds)
	if err != nil {
		t.Fatal(err)
	}
	uri, opts, err := src.FileOptions(connect.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if uri != "https://u:"+password+"@files.example/bank.csv" || opts.Name != "ops/bank" || opts.Delimiter != ';' || opts.Quote != '\'' || opts.NullMarker != `\N` {
		t.Fatalf("uri %q opts %+v", uri, opts)
	}
}
