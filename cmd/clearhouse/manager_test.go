package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clearhouse-dev/clearhouse/internal/freeport"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// TestManagerBinary builds and starts `clearhouse manager` as a Deployment would run it:
// leader election, health probes and the secure metrics endpoint, against the real API
// server.
func TestManagerBinary(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "clearhouse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	probe, metrics := freeport.Port(t), freeport.Port(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "manager",
		"--kubeconfig", kubeconfig,
		"--leader-elect", "--leader-election-namespace", "default",
		"--data-dir", filepath.Join(dir, "data"),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metrics))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	poll := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s never happened; manager output:\n%s", what, logs.String())
	}
	httpOK := func(c *http.Client, url string, want int) func() bool {
		return func() bool {
			resp, err := c.Get(url)
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == want
		}
	}
	poll("/healthz 200", httpOK(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/healthz", probe), http.StatusOK))
	poll("/readyz 200", httpOK(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/readyz", probe), http.StatusOK))
	poll("leader lease", func() bool {
		var lease coordinationv1.Lease
		err := env.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: "clearhouse.clearhouse.dev"}, &lease)
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
	})
	// Secure metrics: HTTPS, and an anonymous scrape is refused by authn/authz.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	poll("metrics refusing anonymous scrapes", httpOK(insecure, fmt.Sprintf("https://127.0.0.1:%d/metrics", metrics), http.StatusUnauthorized))

	// SIGINT: a clean exit that releases the lease, so a standby takes over at once.
	cancel()
	_ = cmd.Wait() // reports the cancelled context; the exit status is what matters
	if !cmd.ProcessState.Success() {
		t.Errorf("manager exited with %v after SIGINT:\n%s", cmd.ProcessState, logs.String())
	}
	// The embedded results store lives in --data-dir.
	if _, err := os.Stat(filepath.Join(dir, "data", "results.db")); err != nil {
		t.Errorf("results store: %v", err)
	}
	var lease coordinationv1.Lease
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "clearhouse.clearhouse.dev"}, &lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("lease still held by %q after shutdown", *h)
	}
}
