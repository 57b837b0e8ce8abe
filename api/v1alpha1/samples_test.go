package v1alpha1_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubectl runs the kubectl built with the control plane against it, as a user would.
func kubectl(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), env.Kubectl(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Dir = env.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// TestSamplesApplyAsTheREADMESays applies the CRDs and every sample with the real
// kubectl, server-side, exactly as the README's walk-through does.
func TestSamplesApplyAsTheREADMESays(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	createNamespace(t, "samples")

	out := kubectl(t, kubeconfig, "apply", "--server-side", "-f", "config/crd/bases")
	for _, crd := range []string{"businessmodules", "datasources", "reconciliationjobs", "settlementwindows"} {
		if !strings.Contains(out, crd+".clearhouse.dev serverside-applied") {
			t.Errorf("CRD %s not applied:\n%s", crd, out)
		}
	}

	out = kubectl(t, kubeconfig, "apply", "--server-side", "-n", "samples", "-k", "config/samples")
	want := []string{
		"secret/ledger-db serverside-applied",
		"secret/payments-alerts serverside-applied",
		"secret/catalog-db serverside-applied",
		"businessmodule.clearhouse.dev/payments serverside-applied",
		"businessmodule.clearhouse.dev/promotions serverside-applied",
		"datasource.clearhouse.dev/payments-ledger serverside-applied",
		"datasource.clearhouse.dev/bank-settlement-file serverside-applied",
		"datasource.clearhouse.dev/catalog-skus serverside-applied",
		"datasource.clearhouse.dev/storefront-prices serverside-applied",
		"reconciliationjob.clearhouse.dev/ledger-vs-bank serverside-applied",
		"reconciliationjob.clearhouse.dev/sku-sync serverside-applied",
		"settlementwindow.clearhouse.dev/payments-daily-close serverside-applied",
		"settlementwindow.clearhouse.dev/black-friday-clearing serverside-applied",
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("kubectl apply -k config/samples printed\n%s\nwant exactly\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The category lists all four kinds; short names work.
	out = kubectl(t, kubeconfig, "get", "clearhouse", "-n", "samples", "-o", "name")
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != 10 {
		t.Errorf("kubectl get clearhouse listed %d objects, want 10:\n%s", n, out)
	}
	out = kubectl(t, kubeconfig, "get", "rj", "-n", "samples")
	for _, col := range []string{"NAME", "SOURCE", "TARGET", "LAST RUN", "RESULT", "DISCREPANCIES", "AGE", "ledger-vs-bank", "payments-ledger", "bank-settlement-file"} {
		if !strings.Contains(out, col) {
			t.Errorf("kubectl get rj lacks %q:\n%s", col, out)
		}
	}
}
