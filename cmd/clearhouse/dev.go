package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/devenv"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

type devFlags struct {
	dir, root, assets, shared string
	exitAfterRun, noWait      bool
	fresh                     bool
	runTimeout                time.Duration
}

func newDevCommand() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run Clearhouse locally with demo data: control plane, manager, a reconciliation",
		Long: `Dev starts a local Clearhouse on this machine, without a cluster: etcd and
kube-apiserver from bin/k8s (built with hack/build-control-plane.sh the first time)
with every CRD installed, the manager in this process (inline executor, SQLite
results store), and a demo: a payments ledger reconciled against a bank settlement
file with a few planted differences. It runs the demo job, prints its status and
discrepancies, writes a kubeconfig for kubectl, and keeps running until Ctrl-C,
which stops everything it started.

State lives in --dir (default .clearhouse in the checkout): etcd's data, the results
store, the demo files and resources, the kubeconfig and the logs (logs/). A second
start resumes it and runs the job again; --fresh starts from nothing.`,
		Example: `  make dev                       # builds bin/k8s and bin/clearhouse first
  clearhouse dev --exit-after-run # print the result and stop`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "directory of the dev environment's state (default <root>/.clearhouse)")
	fl.StringVar(&f.root, "root", "", "repository root holding config/crd/bases (default: found from the current directory)")
	fl.StringVar(&f.assets, "assets", "", "directory of kube-apiserver, etcd and kubectl (default $KUBEBUILDER_ASSETS, else <root>/bin/k8s)")
	fl.StringVar(&f.shared, "shared", "", "folder whose fixtures/crds holds the Strimzi and Prometheus Operator CRDs (default $CLEARHOUSE_SHARED, else <root>/../shared)")
	fl.BoolVar(&f.fresh, "fresh", false, "start from nothing: remove the cluster's data, the results store and the demo files first")
	fl.BoolVar(&f.exitAfterRun, "exit-after-run", false, "stop everything once the demo run is printed")
	fl.BoolVar(&f.noWait, "no-wait", false, "apply the demo resources without waiting for the run")
	fl.DurationVar(&f.runTimeout, "run-timeout", 5*time.Minute, "how long to wait for the demo run")
	return cmd
}

func runDev(ctx context.Context, stdout, stderr io.Writer, f devFlags) (err error) {
	root := f.root
	if root == "" {
		if root, err = devenv.FindRoot("."); err != nil {
			return err
		}
	}
	dir := f.dir
	if dir == "" {
		dir = filepath.Join(root, ".clearhouse") // git ignores it
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	assets, shared := f.assets, f.shared
	if assets == "" {
		assets = testenv.AssetsDir(root)
	}
	if shared == "" {
		shared = testenv.SharedDir(root)
	}
	unlock, err := devenv.Lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if f.fresh {
		if err := devenv.Reset(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// The manager's and client-go's logs go to a file: the terminal shows progress.
	logFile, err := os.OpenFile(filepath.Join(dir, "logs", "manager.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("open manager log: %w", err)
	}
	defer func() { _ = logFile.Close() }()
	logger := zap.New(zap.WriteTo(logFile), zap.UseDevMode(true))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	p := newSteps(stderr)
	fmt.Fprintf(stderr, "clearhouse dev: state in %s\n", rel(dir))

	var demo *devenv.Demo
	if err := p.step("generating demo data", func() (string, error) {
		demo, err = devenv.WriteDemo(filepath.Join(dir, "demo"))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d ledger payments, %d settlement rows", demo.LedgerRows, demo.SettlementRows), nil
	}); err != nil {
		return interrupted(ctx, err)
	}

	if script := filepath.Join(root, "hack", "build-control-plane.sh"); !controlPlaneBuilt(assets) {
		if err := p.step("building etcd, kube-apiserver and kubectl into "+rel(assets)+" (first time only: several minutes)", func() (string, error) {
			return "", buildControlPlane(ctx, script, assets, filepath.Join(dir, "logs", "build-control-plane.log"))
		}); err != nil {
			return interrupted(ctx, err)
		}
	}

	var cp *devenv.ControlPlane
	if err := p.step("starting etcd and kube-apiserver", func() (string, error) {
		cp, err = devenv.StartControlPlane(devenv.ControlPlaneOptions{Dir: dir, Root: root, Assets: assets, Shared: shared})
		if err != nil {
			return "", err
		}
		detail := fmt.Sprintf("%d CRDs installed", cp.CRDs)
		if cp.Reaped > 0 {
			detail += fmt.Sprintf("; stopped %d processes an earlier run left behind", cp.Reaped)
		}
		if len(cp.Missing) > 0 {
			detail += "; Strimzi/Prometheus fixture CRDs not found in " + rel(shared) + ", skipped"
		}
		return detail, nil
	}); err != nil {
		return interrupted(ctx, err)
	}
	defer func() {
		if stopErr := p.step("stopping etcd and kube-apiserver", func() (string, error) { return "", cp.Stop() }); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
	}()

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := p.step("writing kubeconfig", func() (string, error) {
		return rel(kubeconfig), cp.WriteKubeconfig(kubeconfig, devenv.Namespace)
	}); err != nil {
		return interrupted(ctx, err)
	}

	var mgr *devenv.Manager
	if err := p.step("starting the manager", func() (string, error) {
		mgr, err = devenv.StartManager(ctx, cp.Config, dir)
		if err != nil {
			return "", err
		}
		return "inline executor, results in " + rel(strings.TrimPrefix(devenv.StoreURI(dir), "sqlite:")), nil
	}); err != nil {
		return interrupted(ctx, err)
	}
	defer func() {
		if stopErr := p.step("stopping the manager", func() (string, error) { return "", mgr.Stop(time.Minute) }); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
	}()

	nonce := "dev-" + time.Now().UTC().Format("20060102T150405.000Z")
	if err := p.step("applying demo resources", func() (string, error) {
		manifest, err := devenv.RenderResources(demo, nonce)
		if err != nil {
			return "", err
		}
		path := filepath.Join(dir, "demo", "resources.yaml")
		if err := os.WriteFile(path, manifest, 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		applied, err := devenv.Apply(ctx, cp.Client, manifest)
		return fmt.Sprintf("%s in namespace %s (%s)", strings.Join(applied, ", "), devenv.Namespace, rel(path)), err
	}); err != nil {
		return interrupted(ctx, err)
	}

	kubectl := kubectlCommand(cp.Kubectl(), kubeconfig)
	if !f.noWait {
		var job *chv1.ReconciliationJob
		waitErr := p.step("running "+devenv.JobName+" (runNonce "+nonce+")", func() (string, error) {
			wctx, cancel := context.WithTimeout(ctx, f.runTimeout)
			defer cancel()
			job, err = devenv.WaitForRun(wctx, cp.Client, nonce)
			if err != nil {
				return "", err
			}
			return string(job.Status.LastRun.Result), nil
		})
		switch {
		case ctx.Err() != nil:
			return nil // Ctrl-C while waiting: stop quietly
		case waitErr != nil:
			if f.exitAfterRun {
				return waitErr
			}
			fmt.Fprintf(stderr, "The demo run did not complete; the control plane keeps running so you can look (logs in %s).\n", rel(filepath.Join(dir, "logs")))
		default:
			fmt.Fprintln(stdout)
			printJob(stdout, job)
			if err := printRun(ctx, stdout, mgr.Store, job); err != nil {
				fmt.Fprintf(stderr, "clearhouse: reading the run's discrepancies: %v\n", err)
			}
		}
	}

	if f.exitAfterRun {
		return nil
	}
	fmt.Fprintf(stdout, "\nClearhouse is running. In another terminal:\n")
	fmt.Fprintf(stdout, "  %s get rj                 # the job, its last run and result\n", kubectl)
	fmt.Fprintf(stdout, "  %s get clearhouse         # every Clearhouse resource\n", kubectl)
	fmt.Fprintf(stdout, "  %s patch rj %s --type merge -p '{\"spec\":{\"runNonce\":\"again-1\"}}'   # run it again\n", kubectl, devenv.JobName)
	fmt.Fprintf(stdout, "Demo files and resources: %s   Logs: %s\n", rel(filepath.Join(dir, "demo")), rel(filepath.Join(dir, "logs")))
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	last := ""
	if job, err := getJob(ctx, cp); err == nil && job.Status.LastRun != nil {
		last = job.Status.LastRun.ID
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
			return nil
		case <-mgr.Done():
			return mgr.Err()
		case <-tick.C:
		}
		// A run started since (kubectl patch of runNonce, or an edit): show its result.
		job, err := getJob(ctx, cp)
		if err != nil || job.Status.LastRun == nil || job.Status.LastRun.ID == last || job.Status.LastRun.Result == chv1.RunRunning {
			continue
		}
		last = job.Status.LastRun.ID
		fmt.Fprintf(stdout, "\n%s: a new run of %s finished\n", time.Now().Format(time.TimeOnly), devenv.JobName)
		printJob(stdout, job)
		if err := printRun(ctx, stdout, mgr.Store, job); err != nil {
			fmt.Fprintf(stderr, "clearhouse: reading the run's discrepancies: %v\n", err)
		}
	}
}

func getJob(ctx context.Context, cp *devenv.ControlPlane) (*chv1.ReconciliationJob, error) {
	var job chv1.ReconciliationJob
	err := cp.Client.Get(ctx, types.NamespacedName{Namespace: devenv.Namespace, Name: devenv.JobName}, &job)
	return &job, err
}

// controlPlaneBuilt reports whether the assets directory has the three binaries.
func controlPlaneBuilt(assets string) bool {
	for _, bin := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return false
		}
	}
	return true
}

// buildControlPlane runs hack/build-control-plane.sh into assets (what `make envtest`
// does), so `clearhouse dev` alone works on a fresh clone; its output goes to logPath.
func buildControlPlane(ctx context.Context, script, assets, logPath string) error {
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("no kube-apiserver, etcd and kubectl in %s, and no %s to build them: run `make envtest` in a Clearhouse checkout or pass --assets", assets, script)
	}
	log, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("open build log: %w", err)
	}
	defer func() { _ = log.Close() }()
	cmd := exec.CommandContext(ctx, script)
	cmd.Env = append(os.Environ(), "OUT="+assets)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w (output in %s)", script, err, rel(logPath))
	}
	return nil
}

// interrupted drops the error of a step that failed because Ctrl-C cancelled it: the
// user asked to stop, and the deferred steps report the stop.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// kubectlCommand is the command line to give people: kubectl when it is installed,
// else the one built with the control plane.
func kubectlCommand(built, kubeconfig string) string {
	bin := "kubectl"
	if _, err := exec.LookPath("kubectl"); err != nil {
		bin = rel(built)
	}
	return bin + " --kubeconfig " + rel(kubeconfig)
}

// printJob prints the job as `kubectl get rj -o wide` would, then its conditions.
func printJob(w io.Writer, job *chv1.ReconciliationJob) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tTARGET\tLAST RUN\tRESULT\tDISCREPANCIES\tOPEN CASES")
	lr := job.Status.LastRun
	last, result := "<none>", ""
	if lr != nil {
		last = lr.StartTime.UTC().Format(time.RFC3339)
		result = string(lr.Result)
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", job.Name, job.Spec.Source.DataSource, job.Spec.Target.DataSource,
		last, result, job.Status.Discrepancies, job.Status.OpenCases)
	_ = tw.Flush()
	if lr != nil && lr.Message != "" {
		fmt.Fprintf(w, "\nLast run %s: %s\n", lr.ID, lr.Message)
	}
	fmt.Fprintln(w)
	for _, t := range []string{chv1.ConditionReady, chv1.JobRunning, chv1.JobBalanced} {
		if c := meta.FindStatusCondition(job.Status.Conditions, t); c != nil {
			fmt.Fprintf(w, "  %s=%s  %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	fmt.Fprintln(w)
}

// printRun prints the run's counts and discrepancies from the results store, with the
// table of `clearhouse diff`.
func printRun(ctx context.Context, w io.Writer, st store.Store, job *chv1.ReconciliationJob) error {
	run, err := st.GetRun(ctx, job.Status.LastRun.ID)
	if err != nil {
		return fmt.Errorf("run %s: %w", job.Status.LastRun.ID, err)
	}
	ds, err := st.Discrepancies(ctx, run.ID, 0)
	if err != nil {
		return fmt.Errorf("run %s: %w", run.ID, err)
	}
	took := run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond)
	fmt.Fprintf(w, "Run %s (trigger %s) took %s, %.0f rows/s\n\n", run.ID, run.Trigger, took, run.RowsPerSecond)
	sum := run.Summary
	// What the run's partitions ran (hash, merge, checksum or mixed), not the job's
	// request: auto is no strategy.
	sum.Strategy = run.Strategy
	if sum.Strategy == "" {
		sum.Strategy = "unknown" // a run recorded before strategies were
	}
	return writeTable(w, sum, ds, int64(len(ds)), isTerminal(w))
}

// rel shows a path relative to the current directory when it is below it.
func rel(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// steps shows what dev is doing: a spinner with the elapsed time on a terminal, a
// line when each step starts and ends otherwise (logs, CI, tests).
type steps struct {
	w     io.Writer
	tty   bool
	start time.Time
}

func newSteps(w io.Writer) *steps { return &steps{w: w, tty: isTerminal(w), start: time.Now()} }

// step runs fn as one step; fn returns a detail shown when it succeeds.
func (s *steps) step(name string, fn func() (string, error)) error {
	t0 := time.Now()
	var bar *progressbar.ProgressBar
	if s.tty {
		bar = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(s.w),
			progressbar.OptionSetDescription(name),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionClearOnFinish(),
		)
		_ = bar.RenderBlank()
	} else {
		fmt.Fprintf(s.w, "[%6.1fs] %s …\n", time.Since(s.start).Seconds(), name)
	}
	detail, err := fn()
	if bar != nil {
		_ = bar.Finish()
		_ = bar.Clear()
	}
	mark := "✓"
	if err != nil {
		mark, detail = "✗", err.Error()
	}
	if detail != "" {
		detail = ": " + detail
	}
	fmt.Fprintf(s.w, "[%6.1fs] %s %s%s (%s)\n", time.Since(s.start).Seconds(), mark, name, detail, time.Since(t0).Round(100*time.Millisecond))
	return err
}
