package alert_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// The test is external: internal/testenv imports the manager, which imports alert.

const hookToken = "T000/B000/s3cr3t"

// FromCluster against a real kube-apiserver: a key's value, and errors that name the
// Secret and the key.
func TestFromCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "slack"},
		Data:       map[string][]byte{"url": []byte("https://hooks.slack.example/services/" + hookToken)},
	}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	read := alert.FromCluster(env.Client, "payments")
	if v, err := read(ctx, "slack", "url"); err != nil || v != "https://hooks.slack.example/services/"+hookToken {
		t.Fatalf("read = %q, %v", v, err)
	}
	for _, tc := range []struct{ name, key, want string }{
		{"slack", "token", `secret payments/slack has no key "token"`},
		{"smtp", "password", "secret payments/smtp not found"},
	} {
		if _, err := read(ctx, tc.name, tc.key); err == nil || err.Error() != tc.want {
			t.Errorf("read(%s, %s) error %v, want %s", tc.name, tc.key, err, tc.want)
		}
	}
}
