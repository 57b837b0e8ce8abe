// Package rbac runs the manager under exactly the RBAC an install gives it: the
// ClusterRole generated from the reconcilers' kubebuilder:rbac markers
// (config/rbac/role.yaml, which the chart ships as files/manager-role.yaml), the
// leader-election Role and the metrics-auth ClusterRole, bound by the kustomize files of
// config/rbac to the ServiceAccount controller-manager, which the manager impersonates.
// The other suites run the manager as an administrator and cannot see a missing verb.
//
// Every request the manager makes goes through a transport that records each one the
// API server refuses (401 or 403): each test fails on any. A refused request is often
// no error a test would otherwise see (an informer retries its list forever, an event
// is dropped with a log line).
package rbac_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/manager"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

const (
	// system is the manager's namespace (config/default's), holding its
	// ServiceAccount and its leader-election lease.
	system = "clearhouse-system"
	// serviceAccount is the manager's ServiceAccount (config/rbac/service_account.yaml).
	serviceAccount = "controller-manager"
	// patience is how long a test waits for the manager to act.
	patience = 90 * time.Second
)

var (
	env *testenv.Env
	mgr *manager.Manager
	// refused records the requests of the manager the API server refused.
	refused = &refusals{}
	// metricsAddr is where the manager serves its metrics, over HTTPS behind
	// Kubernetes authentication and authorization.
	metricsAddr string
	// managerUser is the user the manager acts as.
	managerUser = "system:serviceaccount:" + system + ":" + serviceAccount
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	var err error
	// OwnerReferencesPermissionEnforcement (on in OpenShift and in many hardened
	// clusters) lets an owner reference block its owner's deletion only for a user who
	// may update the owner's finalizers: the worker Jobs and the Strimzi objects the
	// manager creates carry such references.
	env, err = testenv.Start(func(e *envtest.Environment) {
		e.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop test control plane:", err)
		}
	}()
	if err := installRBAC(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "install RBAC:", err)
		return 1
	}
	cfg := managerConfig()
	if err := checkImpersonation(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.Wrap(refused.wrap)
	dataDir, err := os.MkdirTemp("", "clearhouse-rbac-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dataDir) }()
	if metricsAddr, err = freeAddr(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err = manager.New(cfg, manager.Options{
		MetricsAddr:             metricsAddr,
		SecureMetrics:           true,
		ProbeAddr:               "0",
		LeaderElection:          true,
		LeaderElectionNamespace: system,
		DataDir:                 dataDir,
		InlineWorkers:           2,
		WorkerImage:             "ghcr.io/clearhouse-dev/clearhouse:test",
		// As the chart configures it (--worker-store-secret): the manager reads it.
		WorkerStoreSecret: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "results-store"}, Key: "uri"},
		Alerts:            alert.Notifier{Backoff: alert.Backoff{Attempts: 2, Initial: 10 * time.Millisecond}},
		CaptureCleanup:    controllers.CleanupRetry{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, Attempts: 3},
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
		code = 1
	}
	// Releasing the lease on the way out is done as the ServiceAccount too.
	if r := refused.list(); len(r) > 0 {
		fmt.Fprintf(os.Stderr, "the API server refused the manager:\n%s\n", strings.Join(r, "\n"))
		code = 1
	}
	return code
}

// managerConfig is the admin's config impersonating the manager's ServiceAccount (the
// API server gives it the ServiceAccount's groups).
func managerConfig() *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser}
	return cfg
}

// checkImpersonation makes sure the manager is held to its role: the API server
// authorizes with RBAC and the impersonated ServiceAccount may not list ConfigMaps.
func checkImpersonation(cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}
	err = c.List(context.Background(), &corev1.ConfigMapList{}, client.InNamespace(system))
	if !apierrors.IsForbidden(err) {
		return fmt.Errorf("as %s, listing ConfigMaps: %v, want forbidden (is the API server authorizing with RBAC?)", managerUser, err)
	}
	return nil
}

// rbacFiles are the files of config/rbac that give the manager its permissions, with
// the ServiceAccount they are bound to. The chart renders the same rules
// (test/deploy's TestHelmRBACIsTheKustomizeRBAC).
var rbacFiles = []string{
	"service_account.yaml",
	"role.yaml", "role_binding.yaml",
	"leader_election_role.yaml", "leader_election_role_binding.yaml",
	"metrics_auth_role.yaml", "metrics_auth_role_binding.yaml",
	"metrics_reader_role.yaml",
}

// installRBAC creates the manager's namespace and the objects of rbacFiles as
// kustomize's config/default places them: namespaced ones in system, subjects in the
// namespace "system" moved there.
func installRBAC(ctx context.Context) error {
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: system}}); err != nil {
		return err
	}
	for _, f := range rbacFiles {
		o, err := readObject(filepath.Join(env.Root, "config", "rbac", f))
		if err != nil {
			return err
		}
		switch o.GetKind() {
		case "ServiceAccount", "Role", "RoleBinding":
			o.SetNamespace(system)
		}
		if subjects, ok := o.Object["subjects"].([]any); ok {
			for _, s := range subjects {
				if s, ok := s.(map[string]any); ok && s["namespace"] == "system" {
					s["namespace"] = system
				}
			}
		}
		if err := env.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

// readObject reads one Kubernetes object from a YAML file.
func readObject(path string) (*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	o := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &o.Object); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

// refusals records the requests the API server refused.
type refusals struct {
	mu   sync.Mutex
	reqs []string
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wrap records each request rt sends that is refused, with the API server's reason.
func (f *refusals) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		if err != nil || (resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized) {
			return resp, err
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		msg := statusMessage(body)
		if rerr != nil {
			msg = rerr.Error()
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		what := r.Method + " " + r.URL.Path // not the query: a retried watch is one refusal
		if r.URL.Query().Get("watch") == "true" {
			what += " (watch)"
		}
		f.reqs = append(f.reqs, fmt.Sprintf("%s: %d %s", what, resp.StatusCode, msg))
		return resp, nil
	})
}

// statusMessage is the message of the Status the API server answers a refusal with
// (JSON or protobuf), or the body quoted.
func statusMessage(body []byte) string {
	obj, _, err := clientgoscheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if st, ok := obj.(*metav1.Status); err == nil && ok {
		return st.Message
	}
	return strconv.Quote(string(body))
}

// list returns the refused requests so far, each once.
func (f *refusals) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.reqs)
	slices.Sort(out)
	return slices.Compact(out)
}

// noneRefused fails t if the API server refused any request of the manager so far.
func noneRefused(t *testing.T) {
	t.Helper()
	if r := refused.list(); len(r) > 0 {
		t.Errorf("the API server refused %d requests of the manager (a permission missing from its role):\n%s",
			len(r), strings.Join(r, "\n"))
	}
}

// eventually polls check until it passes, or fails the test with its last error. It
// stops at once when the API server has refused the manager anything.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	var last error
	for time.Now().Before(deadline) {
		if last = check(); last == nil {
			return
		}
		if r := refused.list(); len(r) > 0 {
			t.Fatalf("%s: %v; the API server refused %d requests of the manager (a permission missing from its role):\n%s",
				what, last, len(r), strings.Join(r, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, last)
}

// namespace creates a namespace.
func namespace(t *testing.T, name string) {
	t.Helper()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// create creates objects as the administrator, failing the test on error.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// get reads obj afresh as the administrator.
func get(obj client.Object) error {
	return env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
}

// freeAddr is a free loopback address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}
