// Package testenv starts the real test control plane (kube-apiserver and etcd built by
// hack/build-control-plane.sh) with the Clearhouse CRDs and the third-party CRDs the
// operator renders objects for (Strimzi, Prometheus Operator), for tests and for
// `clearhouse dev`.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/clearhouse-dev/clearhouse/internal/manager"
)

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
	Client client.Client
	// Root is the repository's root directory.
	Root string
}

// RepoRoot finds the repository root from this source file's location, so tests work
// from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir is the design-and-fixtures folder beside the checkout (../shared), or
// $CLEARHOUSE_SHARED.
func SharedDir(root string) string {
	if d := os.Getenv("CLEARHOUSE_SHARED"); d != "" {
		return d
	}
	return filepath.Join(root, "..", "shared")
}

// AssetsDir is where kube-apiserver, etcd and kubectl are: $KUBEBUILDER_ASSETS, else the
// repository's bin/k8s.
func AssetsDir(root string) string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	return filepath.Join(root, "bin", "k8s")
}

// Start starts kube-apiserver and etcd and installs every CRD. Each configure function
// may adjust the environment before it starts (say, API server flags).
func Start(configure ...func(*envtest.Environment)) (*Env, error) {
	root := RepoRoot()
	assets := AssetsDir(root)
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("no kube-apiserver in %s: run `make envtest` (hack/build-control-plane.sh) first", assets)
	}
	shared := SharedDir(root)
	scheme := manager.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: []string{
			filepath.Join(root, "config", "crd", "bases"),
			filepath.Join(shared, "fixtures", "crds", "strimzi"),
			filepath.Join(shared, "fixtures", "crds", "prometheus-operator"),
		},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	for _, c := range configure {
		c(env)
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start test control plane: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("create client: %w", err), env.Stop())
	}
	return &Env{Environment: env, Config: cfg, Client: c, Root: root}, nil
}

// Kubeconfig writes a kubeconfig for an admin user of the control plane to path, so the
// real kubectl can be pointed at it.
func (e *Env) Kubeconfig(path string) error {
	user, err := e.ControlPlane.AddUser(envtest.User{Name: "clearhouse-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	return os.WriteFile(path, b, 0o600)
}

// Kubectl is the path of the kubectl built with the control plane.
func (e *Env) Kubectl() string { return filepath.Join(AssetsDir(e.Root), "kubectl") }
