package controllers_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/manager"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

var (
	env *testenv.Env
	// mgr is the suite's manager; its results store is mgr.Store.
	mgr *manager.Manager
	// clk is the ReconciliationJob controller's clock: tests step it to fire
	// schedules and retries. It starts after the real time so that jobs created now
	// are older than every schedule the tests expect.
	clk = clocktesting.NewFakeClock(suiteEpoch)
	// metricsAddr is where the suite manager serves metrics (plain HTTP).
	metricsAddr string
)

// suiteEpoch is the fake clock's start: a Saturday, the day before Europe's 2027
// spring-forward (2027-03-28 02:00 CET becomes 03:00 CEST).
var suiteEpoch = time.Date(2027, 3, 27, 12, 0, 0, 0, time.UTC)

// TestMain starts the real control plane and the manager exactly as `clearhouse
// manager` builds it (probes off, plain-HTTP metrics on loopback, no leader election,
// an SQLite store in a temporary directory, the fake clock), and stops the database
// servers the tests started.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The manager's log is also kept in managerLogs, for tests that check what reaches it.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(os.Stderr, managerLogs)), zap.UseDevMode(true)))
	if time.Now().After(suiteEpoch) {
		fmt.Fprintln(os.Stderr, "the suite's fake clock must start after the real time; move suiteEpoch forward")
		return 1
	}
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop test control plane:", err)
		}
	}()
	dataDir, err := os.MkdirTemp("", "clearhouse-controllers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dataDir) }()
	metricsAddr, err = freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err = manager.New(env.Config, manager.Options{
		MetricsAddr:   metricsAddr,
		ProbeAddr:     "0",
		DataDir:       dataDir,
		InlineWorkers: 2,
		Clock:         clk,
		WorkerImage:   "ghcr.io/clearhouse-dev/clearhouse:test",
		// The tests play kubelet on this host: workers reach the manager's SQLite file.
		WorkerStoreURI: "sqlite:" + filepath.Join(dataDir, "results.db"),
		// Alert retries in real time, kept short: two attempts 10ms apart.
		Alerts: alert.Notifier{Backoff: alert.Backoff{Attempts: 2, Initial: 10 * time.Millisecond}},
		// Capture cleanup gives up after 3 failed attempts, 20ms to 80ms apart.
		CaptureCleanup: controllers.CleanupRetry{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, Attempts: 3},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	code := testdb.Run(m)
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}
