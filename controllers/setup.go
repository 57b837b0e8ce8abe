package controllers

import (
	"fmt"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/metrics"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// Options are what the reconcilers need beyond the manager.
type Options struct {
	// Store is the results store, opened once by the manager (required).
	Store store.Store
	// Clock drives schedules, retries and run times (nil: the real clock).
	Clock clock.WithDelayedExecution
	// Metrics records runs, open cases and alerts (nil: not recorded).
	Metrics *metrics.Metrics
	// InlineWorkers bounds the Inline runs executing at once (< 1: 1).
	InlineWorkers int
	// Kubernetes configures the Kubernetes executor (no image: Kubernetes runs fail
	// saying the executor is not configured).
	Kubernetes KubernetesExecutor
	// TempDir is where inline runs spill (empty: the OS temp dir).
	TempDir string
	// Alerts configures alert delivery (TLS roots for SMTP, retries, console link);
	// the Secrets reader is set per job.
	Alerts alert.Notifier
	// CaptureCleanup bounds the retries of dropping a PostgreSQL capture's replication
	// slot and publication (zero: the defaults).
	CaptureCleanup CleanupRetry
}

// SetupAll registers the reconcilers of all four kinds with the manager.
func SetupAll(mgr ctrl.Manager, o Options) error {
	c := mgr.GetClient()
	jobs := &ReconciliationJobReconciler{
		Client:     c,
		APIReader:  mgr.GetAPIReader(),
		Store:      o.Store,
		Clock:      o.Clock,
		Recorder:   mgr.GetEventRecorder("clearhouse-reconciliationjob"),
		Metrics:    o.Metrics,
		Inline:     NewInlineExecutor(o.InlineWorkers),
		Kubernetes: o.Kubernetes,
		TempDir:    o.TempDir,
		Notifier:   o.Alerts,
	}
	for name, setup := range map[string]func(ctrl.Manager) error{
		"BusinessModule":    (&BusinessModuleReconciler{Client: c}).SetupWithManager,
		"DataSource":        (&DataSourceReconciler{Client: c, CleanupRetry: o.CaptureCleanup}).SetupWithManager,
		"ReconciliationJob": jobs.SetupWithManager,
		"SettlementWindow":  (&SettlementWindowReconciler{Client: c}).SetupWithManager,
	} {
		if err := setup(mgr); err != nil {
			return fmt.Errorf("set up %s controller: %w", name, err)
		}
	}
	return nil
}
