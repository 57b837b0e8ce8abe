// Package manager builds the Clearhouse controller manager: scheme, leader election,
// probes, secure metrics, the results store, the run executors and the four
// reconcilers. cmd/clearhouse, `clearhouse dev` and the tests all start it from here, so
// what is tested is what runs.
package manager

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/metrics"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// Options configure the manager. The zero value (with MetricsAddr and ProbeAddr set to
// "0" in tests) is a working single-replica manager with an SQLite store in the OS
// temp dir and two inline workers.
type Options struct {
	// MetricsAddr is where metrics are served; "0" turns them off.
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS behind Kubernetes authn/authz.
	SecureMetrics bool
	// ProbeAddr serves /healthz and /readyz.
	ProbeAddr string
	// LeaderElection makes only one replica active.
	LeaderElection bool
	// LeaderElectionNamespace holds the lease; the in-cluster namespace when empty.
	LeaderElectionNamespace string
	// LeaderElectionID names the lease (default "clearhouse.clearhouse.dev").
	LeaderElectionID string
	// EnableHTTP2 is off by default (CVE-2023-44487 / CVE-2023-39325).
	EnableHTTP2 bool

	// DataDir holds the embedded SQLite store and the inline runs' spill files
	// (default: <os temp dir>/clearhouse). Created when missing.
	DataDir string
	// StoreURI is the results store (store.Open: sqlite:/path.db, a plain path, or
	// postgres://...). Default: SQLite at <DataDir>/results.db.
	StoreURI string
	// InlineWorkers bounds the Inline runs executing at once (default 2).
	InlineWorkers int
	// WorkerImage is the image of Kubernetes worker pods (`clearhouse worker`). Empty:
	// jobs with executor Kubernetes report Ready=False (InvalidSpec, saying why) and
	// do not run.
	WorkerImage string
	// WorkerStoreURI is the store worker pods write to, passed on their command line:
	// it must name the manager's database, reachable from the pods, and carry no
	// password. Default: StoreURI when that is PostgreSQL without a password.
	WorkerStoreURI string
	// WorkerStoreSecret is the Secret key (in each job's namespace) holding the
	// workers' store URI with its password; it wins over WorkerStoreURI.
	WorkerStoreSecret *corev1.SecretKeySelector
	// Clock drives schedules, retries and run times (nil: the real clock). Tests pass
	// a k8s.io/utils/clock/testing.FakeClock and step it.
	Clock clock.WithDelayedExecution
	// MetricsRegistry receives the clearhouse_ collectors (nil: controller-runtime's
	// metrics.Registry, which the metrics endpoint serves). A second manager in one
	// process needs its own.
	MetricsRegistry prometheus.Registerer
	// SeveralInProcess allows more than one manager in a process (tests of leader
	// election): controller names are then not checked for uniqueness. Give each one
	// its own MetricsRegistry.
	SeveralInProcess bool
	// Alerts configures alert delivery: TLS roots for SMTP relays, the retry policy, a
	// console link ("{namespace}", "{job}", "{run}" are replaced). Secrets are read
	// per job; leave Secrets nil.
	Alerts alert.Notifier
	// StopTimeout bounds how long Start may take to return once its context ends
	// (default DefaultStopTimeout): past it, Start gives up on the manager and returns
	// an error, so the process can exit.
	StopTimeout time.Duration
	// CaptureCleanup bounds the retries of dropping a PostgreSQL capture's replication
	// slot and publication when its DataSource or capture is deleted (zero: the
	// defaults, about 15 minutes). Tests shorten it.
	CaptureCleanup controllers.CleanupRetry
}

// Manager is the controller manager with the results store it opened. Start runs it
// and closes the store once every run has stopped.
type Manager struct {
	ctrl.Manager
	// Store is the results store the reconcilers use.
	Store store.Store
	// Metrics are the clearhouse_ collectors.
	Metrics *metrics.Metrics

	stopTimeout time.Duration
}

// DefaultStopTimeout is how long Start waits for the manager to stop once its context
// ends: controller-runtime's graceful shutdown (30 s) and some.
const DefaultStopTimeout = 45 * time.Second

// Start runs the manager until ctx ends, then closes the store. If the manager has not
// returned stopTimeout after ctx ended, Start returns an error without it: a manager
// stopped before its caches synced (an API server that cannot be reached, or refuses
// the manager's role) spins forever in controller-runtime v0.24/v0.25
// (runnableGroup.Start loops on a closed Done channel, kubernetes-sigs/controller-
// runtime#3440), burning a core and never exiting.
func (m *Manager) Start(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- m.Manager.Start(ctx) }()
	select {
	case err := <-done:
		_ = m.Store.Close()
		return err
	case <-ctx.Done():
	}
	timer := time.NewTimer(m.stopTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		_ = m.Store.Close()
		return err
	case <-timer.C:
		// The store stays open: runs may still be writing to it.
		return fmt.Errorf("the manager did not stop within %s of being asked to (its caches may never have synced: is the API server reachable, and does the manager's role allow its watches?)", m.stopTimeout)
	}
}

// NewScheme returns a scheme with the Kubernetes and Clearhouse kinds.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(chv1.AddToScheme(s))
	return s
}

// New builds a manager with every reconciler registered and the store opened.
func New(cfg *rest.Config, o Options) (*Manager, error) {
	o = withDefaults(o)
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", o.DataDir, err)
	}
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   o.MetricsAddr,
		SecureServing: o.SecureMetrics,
		TLSOpts:       tlsOpts,
	}
	if o.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        NewScheme(),
		Metrics:                       metricsOpts,
		WebhookServer:                 webhook.NewServer(webhook.Options{TLSOpts: tlsOpts}),
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(o.SeveralInProcess)},
		Cache:                         cache.Options{ByObject: controllers.CacheByObject()},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	m, err := metrics.New(o.MetricsRegistry)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(context.Background(), o.StoreURI)
	if err != nil {
		return nil, fmt.Errorf("open results store: %w", err)
	}
	if err := controllers.SetupAll(mgr, controllers.Options{
		Store:         st,
		Clock:         o.Clock,
		Metrics:       m,
		InlineWorkers: o.InlineWorkers,
		Kubernetes: controllers.KubernetesExecutor{Image: o.WorkerImage, StoreURI: o.WorkerStoreURI,
			StoreSecret: o.WorkerStoreSecret},
		TempDir:        filepath.Join(o.DataDir, "tmp"),
		Alerts:         o.Alerts,
		CaptureCleanup: o.CaptureCleanup,
	}); err != nil {
		_ = st.Close()
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.DataDir, "tmp"), 0o750); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("create spill dir: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("add ready check: %w", err)
	}
	return &Manager{Manager: mgr, Store: st, Metrics: m, stopTimeout: o.StopTimeout}, nil
}

// withDefaults fills the options' defaults.
func withDefaults(o Options) Options {
	if o.DataDir == "" {
		o.DataDir = filepath.Join(os.TempDir(), "clearhouse")
	}
	if o.StoreURI == "" {
		o.StoreURI = "sqlite:" + filepath.Join(o.DataDir, "results.db")
	}
	if o.WorkerStoreURI == "" && isPostgres(o.StoreURI) && !redact.HasPassword(o.StoreURI) {
		// Never a password on a Job's command line; never the embedded SQLite store, a
		// file on the manager's volume that worker pods cannot reach (each would fail
		// to open it, and the run with "Job has failed indexes"): without a store for
		// workers, Kubernetes jobs report Ready=False saying why. An explicit
		// WorkerStoreURI may still name SQLite (workers on the manager's host).
		o.WorkerStoreURI = o.StoreURI
	}
	if o.InlineWorkers < 1 {
		o.InlineWorkers = 2
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "clearhouse.clearhouse.dev"
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.MetricsRegistry == nil {
		o.MetricsRegistry = crmetrics.Registry
	}
	return o
}

// isPostgres reports whether a store URI names PostgreSQL (store.Open).
func isPostgres(uri string) bool {
	return strings.HasPrefix(uri, "postgres://") || strings.HasPrefix(uri, "postgresql://")
}
