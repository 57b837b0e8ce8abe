// Package deploy checks the install paths a user takes — kustomize (config/default) and
// Helm (charts/clearhouse) — by having the real API server validate every object they
// render, server-side.
package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

var (
	env        *testenv.Env
	kubeconfig string
)

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, _ := os.MkdirTemp("", "deploy-test")
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.Kubeconfig(kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "clearhouse-system"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = env.Root
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// dryRun applies manifests with a server-side dry run and returns the objects accepted.
func dryRun(t *testing.T, manifests []byte) []string {
	t.Helper()
	out := run(t, manifests, env.Kubectl(), "--kubeconfig", kubeconfig, "apply", "--server-side", "--dry-run=server", "-f", "-")
	return strings.Split(strings.TrimSpace(out), "\n")
}

func TestKustomizeInstallIsValid(t *testing.T) {
	for _, dir := range []string{"config/default", "config/prometheus"} {
		rendered := run(t, nil, env.Kubectl(), "kustomize", dir)
		accepted := dryRun(t, []byte(rendered))
		if want := strings.Count(rendered, "\n---\n") + 1; len(accepted) != want {
			t.Errorf("%s: %d objects accepted, want %d:\n%s", dir, len(accepted), want, strings.Join(accepted, "\n"))
		}
	}
}

func TestHelmChartIsValid(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run through `make test`, which installs Helm into bin/")
	}
	run(t, nil, helm, "lint", "charts/clearhouse")
	rendered := run(t, nil, helm, "template", "clearhouse", "charts/clearhouse",
		"--namespace", "clearhouse-system", "--set", "metrics.serviceMonitor.enabled=true")
	accepted := dryRun(t, []byte(rendered))
	for _, want := range []string{
		"customresourcedefinition.apiextensions.k8s.io/reconciliationjobs.clearhouse.dev serverside-applied (server dry run)",
		"deployment.apps/clearhouse serverside-applied (server dry run)",
		"clusterrole.rbac.authorization.k8s.io/clearhouse-manager serverside-applied (server dry run)",
		"servicemonitor.monitoring.coreos.com/clearhouse serverside-applied (server dry run)",
	} {
		if !strings.Contains(strings.Join(accepted, "\n"), want) {
			t.Errorf("helm template output lacks %q; accepted:\n%s", want, strings.Join(accepted, "\n"))
		}
	}
	// Production values: two replicas on a PostgreSQL store from a Secret, which the
	// workers get too.
	rendered = run(t, nil, helm, "template", "clearhouse", "charts/clearhouse", "--namespace", "clearhouse-system",
		"--set", "replicas=2", "--set", "store.existingSecret=clearhouse-store")
	for _, want := range []string{"--worker-store-secret=clearhouse-store/uri", "secretKeyRef: {name: clearhouse-store, key: uri}"} {
		if !strings.Contains(rendered, want) {
			t.Errorf("production values: output lacks %q", want)
		}
	}
	dryRun(t, []byte(rendered))
	// One replica on SQLite with a persistent data volume.
	rendered = run(t, nil, helm, "template", "clearhouse", "charts/clearhouse", "--namespace", "clearhouse-system",
		"--set", "store.persistence.enabled=true")
	if !strings.Contains(rendered, "claimName: clearhouse-data") {
		t.Error("persistent SQLite: output lacks claimName: clearhouse-data")
	}
	accepted = dryRun(t, []byte(rendered))
	if !strings.Contains(strings.Join(accepted, "\n"), "persistentvolumeclaim/clearhouse-data serverside-applied (server dry run)") {
		t.Errorf("persistent SQLite: no PersistentVolumeClaim accepted:\n%s", strings.Join(accepted, "\n"))
	}
	// Two replicas on two SQLite files would each keep half the history.
	cmd := exec.CommandContext(t.Context(), helm, "template", "clearhouse", "charts/clearhouse", "--set", "replicas=2")
	cmd.Dir = env.Root
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "replicas > 1 need a shared results store") {
		t.Errorf("replicas=2 without a store: %v\n%s", err, out)
	}
	// The chart's manager rules are the generated ones, not a hand-kept copy.
	generated, err := os.ReadFile(filepath.Join(env.Root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	chartCopy, err := os.ReadFile(filepath.Join(env.Root, "charts", "clearhouse", "files", "manager-role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(generated, chartCopy) {
		t.Error("charts/clearhouse/files/manager-role.yaml differs from config/rbac/role.yaml: run make manifests")
	}
}
