package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/devenv"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to write from the process's pipes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond every 200ms until it holds or timeout passes (generous: the
// machine is shared), failing with what the process printed.
func eventually(t *testing.T, timeout time.Duration, out *syncBuffer, what string, cond func(string) bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		if cond(out.String()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s; output:\n%s", what, timeout, out.String())
		}
	}
}

// controlPlaneChildren lists the etcd and kube-apiserver processes whose parent is pid.
func controlPlaneChildren(t *testing.T, pid int) map[int]string {
	t.Helper()
	found := map[int]string{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if b := filepath.Base(exe); b == "etcd" || b == "kube-apiserver" {
			found[p] = b
		}
	}
	return found
}

// TestDevEndToEnd runs `clearhouse dev` as a newcomer would: it starts the control
// plane and the manager, runs the demo job and prints exactly the demo's discrepancies;
// kubectl works with the kubeconfig it wrote; Ctrl-C stops it and leaves no etcd or
// kube-apiserver behind.
func TestDevEndToEnd(t *testing.T) {
	root := testenv.RepoRoot()
	assets := testenv.AssetsDir(root)
	dir := t.TempDir()
	bin := filepath.Join(dir, "clearhouse")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	cmd := exec.Command(bin, "dev", "--dir", state, "--root", root, "--assets", assets)
	cmd.Dir = dir
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() { // a failed test still stops the process and its control plane
		if !stopped {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case err := <-exited:
				t.Logf("clearhouse dev stopped: %v", err)
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
			}
		}
	}()

	eventually(t, 5*time.Minute, &out, "prompt after the run", func(s string) bool {
		return strings.Contains(s, "Press Ctrl-C to stop.") || strings.Contains(s, "✗")
	})
	text := out.String()

	// The discrepancy table is exactly the demo's expected set, with the counts of the
	// demo data, in the format of `clearhouse diff`.
	demo, err := devenv.WriteDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The run masked the IBANs with its namespace's key from the dev store.
	st, err := store.Open(t.Context(), devenv.StoreURI(state))
	if err != nil {
		t.Fatal(err)
	}
	storeKey, err := st.MaskKey(t.Context())
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}
	expected := demo.Expected(runner.NamespaceMaskKey(storeKey, devenv.Namespace))
	want := diff.Summary{
		Compared: demo.Matched + int64(len(expected)), Matched: demo.Matched,
		MissingInTarget: 1, MissingInSource: 1, Mismatched: 2, DuplicateKeys: 1,
		SourceRows: int64(demo.LedgerRows), TargetRows: int64(demo.SettlementRows),
		// The demo's files are not sorted by the key: auto ran hash, which the store
		// recorded.
		Strategy: diff.StrategyHash,
	}
	var table bytes.Buffer
	if err := writeTable(&table, want, expected, int64(len(expected)), false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, table.String()) {
		t.Errorf("output lacks the expected table:\n%s\noutput:\n%s", table.String(), text)
	}
	if !strings.Contains(text, "ledger-vs-bank   payments-ledger   bank-settlement") || !strings.Contains(text, "Discrepant") {
		t.Errorf("output lacks the job's status line:\n%s", text)
	}
	// The sensitive column is masked: the clear IBANs of the data appear nowhere.
	for _, d := range expected {
		for _, c := range d.Columns {
			if c.Name == "iban" && !strings.HasPrefix(c.Source.Text, "***") {
				t.Errorf("expected iban masked, got %q", c.Source.Text)
			}
		}
	}

	// kubectl works against the written kubeconfig, in the demo namespace by default.
	kubeconfig := filepath.Join(state, "kubeconfig")
	for args, want := range map[string]string{
		"get rj -o jsonpath={.items[*].metadata.name}":               devenv.JobName,
		"get rj ledger-vs-bank -o jsonpath={.status.lastRun.result}": "Discrepant",
		"get datasources -o jsonpath={.items[*].spec.type}":          "File File",
	} {
		kc := exec.Command(filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, strings.Fields(args)...)...)
		got, err := kc.CombinedOutput()
		if err != nil {
			t.Errorf("kubectl %s: %v\n%s", args, err, got)
			continue
		}
		if string(got) != want {
			t.Errorf("kubectl %s = %q, want %q", args, got, want)
		}
	}

	// While it runs, a run triggered with kubectl is printed too.
	patch := exec.Command(filepath.Join(assets, "kubectl"), "--kubeconfig", kubeconfig, "patch", "rj", devenv.JobName,
		"--type", "merge", "-p", `{"spec":{"runNonce":"e2e-again"}}`)
	if got, err := patch.CombinedOutput(); err != nil {
		t.Fatalf("kubectl patch: %v\n%s", err, got)
	}
	eventually(t, 5*time.Minute, &out, "second run printed", func(s string) bool {
		return strings.Count(s, table.String()) == 2
	})
	if !strings.Contains(out.String(), "a new run of ledger-vs-bank finished") {
		t.Errorf("second run not announced:\n%s", out.String())
	}

	// Ctrl-C stops everything it started.
	children := controlPlaneChildren(t, cmd.Process.Pid)
	names := map[string]int{}
	for _, n := range children {
		names[n]++
	}
	if names["etcd"] != 1 || names["kube-apiserver"] != 1 {
		t.Fatalf("control plane children of clearhouse dev: %v, want one etcd and one kube-apiserver", children)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("clearhouse dev after Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("clearhouse dev did not stop after Ctrl-C:\n%s", out.String())
	}
	for pid, name := range children {
		// Gone, or (pid reused) running something else.
		if exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe")); err == nil && filepath.Base(exe) == name {
			t.Errorf("%s (pid %d) still runs after clearhouse dev stopped", name, pid)
		}
	}
	if !strings.Contains(out.String(), "✓ stopping etcd and kube-apiserver") {
		t.Errorf("no clean stop reported:\n%s", out.String())
	}
}
