// Package devenv is the local Clearhouse of `clearhouse dev`: the test control plane
// (etcd and kube-apiserver from bin/k8s) with every CRD, the manager in-process, and a
// demo — a payments ledger against a bank settlement file — applied and run. Its state
// lives under one directory (.clearhouse/ by default), so a second start resumes it.
package devenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/clearhouse-dev/clearhouse/internal/manager"
)

// ControlPlaneOptions say where the control plane's pieces are.
type ControlPlaneOptions struct {
	// Dir holds the state: etcd's data (etcd/), the API server's certificates
	// (apiserver/) and the processes' logs (logs/).
	Dir string
	// Root is the repository root; its config/crd/bases holds the Clearhouse CRDs.
	Root string
	// Assets holds kube-apiserver, etcd and kubectl (bin/k8s).
	Assets string
	// Shared is the fixtures folder beside the checkout; its fixtures/crds/{strimzi,
	// prometheus-operator} are installed when present.
	Shared string
	// StartTimeout bounds the start of each process (a loaded machine is slow).
	StartTimeout time.Duration
}

// ControlPlane is a running etcd and kube-apiserver with the CRDs installed.
type ControlPlane struct {
	env    *envtest.Environment
	Config *rest.Config
	Client client.Client
	// CRDs counts the CustomResourceDefinitions installed.
	CRDs int
	// Missing lists the optional CRD folders that were not found (and not installed).
	Missing []string
	// Reaped counts the processes an earlier, killed start had left running.
	Reaped int
	assets string
	dir    string
	logs   []*os.File
	pids   []int
}

// FindRoot walks up from dir to the repository root: the first directory holding
// config/crd/bases with the Clearhouse CRDs.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if m, _ := filepath.Glob(filepath.Join(d, "config", "crd", "bases", "clearhouse.dev_*.yaml")); len(m) > 0 {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no Clearhouse checkout (config/crd/bases) at or above %s: run from the repository or pass --root", abs)
		}
	}
}

// StartControlPlane starts etcd and kube-apiserver and installs the CRDs. Processes
// left running by an earlier start that was killed are stopped first, so etcd's data
// directory is free.
func StartControlPlane(o ControlPlaneOptions) (cp *ControlPlane, err error) {
	for _, bin := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(o.Assets, bin)); err != nil {
			return nil, fmt.Errorf("no %s in %s: run `make envtest` (hack/build-control-plane.sh) first", bin, o.Assets)
		}
	}
	// The API server's certificates are made anew each start: envtest generates its CA
	// only into an empty directory.
	if err := os.RemoveAll(filepath.Join(o.Dir, "apiserver")); err != nil {
		return nil, fmt.Errorf("clear the API server's certificates: %w", err)
	}
	for _, d := range []string{"etcd", "apiserver", "logs"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Join(o.Dir, d), err)
		}
	}
	cp = &ControlPlane{assets: o.Assets, dir: o.Dir}
	cp.Reaped = cp.reapStale()
	paths := []string{filepath.Join(o.Root, "config", "crd", "bases")}
	for _, d := range []string{"strimzi", "prometheus-operator"} {
		p := filepath.Join(o.Shared, "fixtures", "crds", d)
		if _, err := os.Stat(p); err != nil {
			cp.Missing = append(cp.Missing, p)
			continue
		}
		paths = append(paths, p)
	}
	scheme := manager.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	etcdLog, err := cp.logFile("etcd.log")
	if err != nil {
		return nil, err
	}
	apiLog, err := cp.logFile("kube-apiserver.log")
	if err != nil {
		cp.closeLogs()
		return nil, err
	}
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	cp.env = &envtest.Environment{
		BinaryAssetsDirectory: o.Assets,
		CRDDirectoryPaths:     paths,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
		// etcd keeps its data in Dir so a restart finds the resources it left.
		ControlPlane: envtest.ControlPlane{
			Etcd:      &envtest.Etcd{DataDir: filepath.Join(o.Dir, "etcd"), Out: etcdLog, Err: etcdLog},
			APIServer: &envtest.APIServer{CertDir: filepath.Join(o.Dir, "apiserver"), Out: apiLog, Err: apiLog},
		},
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := startEnv(cp.env)
	// Record the children even when the start failed half-way, so Stop ends them.
	cp.pids = cp.children()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start etcd and kube-apiserver (logs in %s): %w", filepath.Join(o.Dir, "logs"), err), cp.Stop())
	}
	cp.Config = cfg
	cp.CRDs = len(cp.env.CRDs)
	if cp.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, errors.Join(fmt.Errorf("create client: %w", err), cp.Stop())
	}
	return cp, nil
}

// startEnv starts env, turning envtest's panics (it panics on some half-started
// states) into errors so the processes already started are still stopped.
func startEnv(env *envtest.Environment) (cfg *rest.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("envtest: %v", r)
		}
	}()
	return env.Start()
}

// PIDs are the process ids of etcd and kube-apiserver.
func (cp *ControlPlane) PIDs() []int { return cp.pids }

// Kubectl is the kubectl built with the control plane.
func (cp *ControlPlane) Kubectl() string { return filepath.Join(cp.assets, "kubectl") }

// WriteKubeconfig writes a kubeconfig for an administrator of the control plane, with
// namespace as its default, so `kubectl --kubeconfig path get rj` needs nothing more.
func (cp *ControlPlane) WriteKubeconfig(path, namespace string) error {
	user, err := cp.env.ControlPlane.AddUser(envtest.User{Name: "clearhouse-dev", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add the kubeconfig's user: %w", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	kc, err := clientcmd.Load(b)
	if err != nil {
		return fmt.Errorf("read kubeconfig: %w", err)
	}
	for _, c := range kc.Contexts {
		c.Namespace = namespace
	}
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}

// Stop stops kube-apiserver and etcd (SIGTERM, then SIGKILL after the stop timeout)
// and makes sure no process of theirs is left.
func (cp *ControlPlane) Stop() error {
	var errs []error
	if cp.env != nil {
		if err := cp.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop etcd and kube-apiserver: %w", err))
		}
	}
	// Belt and braces: whatever envtest could not stop is killed.
	for _, pid := range append(cp.pids, cp.stale()...) {
		if alive(pid) && cp.isOurs(pid) {
			signal(pid, true)
		}
	}
	cp.closeLogs()
	return errors.Join(errs...)
}

func (cp *ControlPlane) logFile(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(cp.dir, "logs", name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	cp.logs = append(cp.logs, f)
	return f, nil
}

func (cp *ControlPlane) closeLogs() {
	for _, f := range cp.logs {
		_ = f.Close()
	}
	cp.logs = nil
}

// children lists this process's children that run a binary of the control plane
// (read from /proc; empty where there is none).
func (cp *ControlPlane) children() []int {
	var pids []int
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid(pid) == self && cp.isOurs(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isOurs reports whether pid runs etcd or kube-apiserver from the assets directory.
func (cp *ControlPlane) isOurs(pid int) bool {
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if want, err := filepath.Abs(filepath.Join(cp.assets, bin)); err == nil && exe == want {
			return true
		}
	}
	return false
}

// stale lists the processes of our binaries serving this state directory: etcd on
// its data directory, kube-apiserver on its certificate directory. They can only be
// left by an earlier start that died without stopping them (kill -9).
func (cp *ControlPlane) stale() []int {
	marks := []string{"--data-dir=" + filepath.Join(cp.dir, "etcd"), "--cert-dir=" + filepath.Join(cp.dir, "apiserver")}
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) || !cp.isOurs(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if slices.Contains(marks, arg) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// reapStale stops the control plane an earlier start left running on this state
// directory (etcd would otherwise wait forever for its data directory's lock): SIGTERM,
// then SIGKILL after 20s.
func (cp *ControlPlane) reapStale() int {
	pids := cp.stale()
	n := len(pids)
	for _, pid := range pids {
		signal(pid, false)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(pids) > 0 {
		time.Sleep(100 * time.Millisecond)
		pids = slices.DeleteFunc(pids, func(pid int) bool { return !alive(pid) })
		if time.Now().After(deadline) {
			for _, pid := range pids {
				signal(pid, true)
			}
		}
	}
	return n
}

// ppid is the parent of pid from /proc/pid/stat, or -1.
func ppid(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return -1
	}
	p, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return p
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// Reset removes the state a dev environment keeps between starts — etcd's data, the
// results store, the demo files, spill files, kubeconfig and logs — leaving the lock.
func Reset(dir string) error {
	for _, name := range []string{"etcd", "apiserver", "demo", "tmp", "logs", "kubeconfig", "results.db", "results.db-wal", "results.db-shm"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("reset %s: %w", dir, err)
		}
	}
	return nil
}
