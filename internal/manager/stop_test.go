package manager_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/clearhouse-dev/clearhouse/internal/manager"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// TestStopsWithoutAPIServer: a manager asked to stop before its caches synced (here:
// its API server went away after the manager was built) returns from Start within its
// StopTimeout. controller-runtime alone never returns then, and spins a core
// (kubernetes-sigs/controller-runtime#3440): a manager of a test run that was killed
// with its API server burned a core, deaf to SIGTERM, until killed with SIGKILL.
func TestStopsWithoutAPIServer(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	m, err := manager.New(cfg, manager.Options{MetricsAddr: "0", ProbeAddr: "0", DataDir: t.TempDir(),
		StopTimeout: 2 * time.Second, SeveralInProcess: true, MetricsRegistry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	time.Sleep(time.Second) // the caches are trying to list
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not stop within 2s") {
			t.Errorf("Start returned %v, want the stop timeout's error", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Start did not return a minute after its context ended")
	}
}
