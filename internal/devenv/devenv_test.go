package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/freeport"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// TestLockRefusesSecondDev: two dev environments on one directory would share etcd's
// data; the second is refused with the first's pid.
func TestLockRefusesSecondDev(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir)
	want := fmt.Sprintf("another clearhouse dev (pid %d) is running on %s", os.Getpid(), dir)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second lock: %v, want %q", err, want)
	}
	unlock()
	unlock2, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

// TestControlPlaneReapsStaleAndStops: an etcd left on the state directory by a start
// that was killed (-9) is stopped before the new control plane starts (else etcd waits
// for its data directory forever); the new one installs the CRDs, applies the demo,
// and Stop leaves none of its processes.
func TestControlPlaneReapsStaleAndStops(t *testing.T) {
	root := testenv.RepoRoot()
	assets := testenv.AssetsDir(root)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etcd"), 0o700); err != nil {
		t.Fatal(err)
	}
	client, peer := freeport.Port(t), freeport.Port(t)
	stale := exec.Command(filepath.Join(assets, "etcd"), "--data-dir="+filepath.Join(dir, "etcd"),
		fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", client), fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", client),
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", peer), fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", peer),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", peer))
	if err := stale.Start(); err != nil {
		t.Fatal(err)
	}
	staleDone := make(chan error, 1)
	go func() { staleDone <- stale.Wait() }()
	defer func() { _ = stale.Process.Kill() }()

	cp, err := StartControlPlane(ControlPlaneOptions{Dir: dir, Root: root, Assets: assets, Shared: testenv.SharedDir(root)})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = cp.Stop()
		}
	}()
	if cp.Reaped != 1 {
		t.Errorf("reaped %d processes, want 1 (the stale etcd)", cp.Reaped)
	}
	select {
	case err := <-staleDone:
		t.Logf("stale etcd ended: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the stale etcd still runs")
	}

	ctx := context.Background()
	d, err := WriteDemo(filepath.Join(dir, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := RenderResources(d, "test-1")
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Apply(ctx, cp.Client, manifest)
	if err != nil {
		t.Fatal(err)
	}
	want := "Namespace/demo BusinessModule/payments DataSource/payments-ledger DataSource/bank-settlement ReconciliationJob/ledger-vs-bank"
	if got := strings.Join(applied, " "); got != want {
		t.Errorf("applied %s, want %s", got, want)
	}
	var job chv1.ReconciliationJob
	if err := cp.Client.Get(ctx, keyOf(Namespace, JobName), &job); err != nil {
		t.Fatal(err)
	}
	if job.Spec.RunNonce != "test-1" || len(job.Spec.Compare) != 5 {
		t.Errorf("job as applied: nonce %q, %d compared columns", job.Spec.RunNonce, len(job.Spec.Compare))
	}
	var ds chv1.DataSource
	if err := cp.Client.Get(ctx, keyOf(Namespace, "bank-settlement"), &ds); err != nil {
		t.Fatal(err)
	}
	if want := "file://" + d.SettlementPath; ds.Spec.File.URL != want {
		t.Errorf("bank DataSource url %q, want %q", ds.Spec.File.URL, want)
	}

	pids := cp.PIDs()
	if len(pids) != 2 {
		t.Fatalf("control plane pids %v, want etcd and kube-apiserver", pids)
	}
	stopped = true
	if err := cp.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) && cp.isOurs(pid) {
			t.Errorf("pid %d still runs after Stop", pid)
		}
	}
}

func keyOf(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
