package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

type workerOptions struct {
	run        string
	storeURI   string
	planFile   string
	index      int
	partitions int
	tempDir    string
	progress   time.Duration
}

// newWorkerCommand runs one partition of a run: what each pod of the Kubernetes
// executor's Indexed Job does.
func newWorkerCommand() *cobra.Command {
	var o workerOptions
	cmd := &cobra.Command{
		Use:   "worker --run ID --partitions N [--store URI] [--plan-file FILE] [--index N]",
		Short: "Run one partition of a reconciliation run (a pod of the Kubernetes executor)",
		Long: `Worker compares one partition of a run and writes its result to the results store,
replacing what an earlier attempt of the same partition wrote. The controller starts
the run, creates an Indexed Job of workers and finishes the run from the store.

Inputs: the plan from --plan-file or $` + kubejob.EnvPlan + `; the results store from --store or
$` + kubejob.EnvStore + `; the partition from --index or $` + kubejob.EnvCompletionIndex + `; DataSource
credentials from $` + kubejob.EnvSourcePrefix + `_USERNAME/_PASSWORD and $` + kubejob.EnvTargetPrefix + `_USERNAME/_PASSWORD,
CA certificates from the files $` + kubejob.EnvSourcePrefix + `_CA_FILE and $` + kubejob.EnvTargetPrefix + `_CA_FILE name. Under a
container memory limit (cgroup v2) the hash memory budget is lowered to the limit less
64 MiB when it does not fit.
Exits 0 when the partition was written (discrepancies are a result, not a failure),
2 with the reason otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("index") {
				o.index = -1
			}
			return runWorker(cmd.Context(), o, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.run, "run", "", "id of the run (started by the controller)")
	f.StringVar(&o.storeURI, "store", "", "results store URI (default $"+kubejob.EnvStore+")")
	f.StringVar(&o.planFile, "plan-file", "", "file holding the plan (default $"+kubejob.EnvPlan+")")
	f.IntVar(&o.index, "index", 0, "partition to compare (default $"+kubejob.EnvCompletionIndex+")")
	f.IntVar(&o.partitions, "partitions", 1, "number of partitions of the run")
	f.StringVar(&o.tempDir, "temp-dir", "", "where the hash strategy spills (default $TMPDIR)")
	f.DurationVar(&o.progress, "progress-interval", 10*time.Second, "how often progress is logged")
	_ = cmd.MarkFlagRequired("run")
	return cmd
}

func runWorker(ctx context.Context, o workerOptions, log *slog.Logger) error {
	plan, err := workerPlan(o.planFile)
	if err != nil {
		return err
	}
	index := o.index
	if index < 0 {
		v, ok := os.LookupEnv(kubejob.EnvCompletionIndex)
		if !ok {
			return fmt.Errorf("no partition: give --index or set %s", kubejob.EnvCompletionIndex)
		}
		if index, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%s=%q is not a partition number", kubejob.EnvCompletionIndex, v)
		}
	}
	if o.partitions < 1 || index < 0 || index >= o.partitions {
		return fmt.Errorf("partition %d of %d is out of range (--partitions N, index 0..N-1)", index, o.partitions)
	}
	uri := o.storeURI
	if uri == "" {
		uri = os.Getenv(kubejob.EnvStore)
	}
	if uri == "" {
		return fmt.Errorf("no results store: give --store or set %s", kubejob.EnvStore)
	}
	st, err := store.Open(ctx, uri)
	if err != nil {
		return fmt.Errorf("open results store: %w", redact.Error(err, redact.URLSecrets(uri)...))
	}
	defer func() { _ = st.Close() }()

	part := runner.Partition{RunID: o.run, Index: index, Count: o.partitions}
	log = log.With("job", plan.Job, "run", o.run, "partition", fmt.Sprintf("%d/%d", index, o.partitions))
	if limit, ok := containerMemoryLimit(cgroupMemoryMax); ok {
		var why string
		if plan.Spec.MemoryBudget, why = fitBudget(plan.Spec.MemoryBudget, limit); why != "" {
			log.Warn(why)
		}
	}
	log.Info("comparing", "source", plan.Source.Name(), "target", plan.Target.Name())
	start := time.Now()
	opts := []runner.Option{
		runner.WithProgressInterval(o.progress),
		runner.WithProgress(func(rows int64) { log.Info("progress", "rows", rows) }),
	}
	if o.tempDir != "" {
		opts = append(opts, runner.WithTempDir(o.tempDir))
	}
	sum, err := runner.Execute(ctx, plan, connect.FromEnv(kubejob.EnvSourcePrefix), connect.FromEnv(kubejob.EnvTargetPrefix), part, st, opts...)
	if err != nil {
		log.Error("partition failed", "error", err.Error())
		return fmt.Errorf("run %s partition %d: %w", o.run, index, err)
	}
	log.Info("partition written", "compared", sum.Compared, "matched", sum.Matched, "discrepancies", sum.Discrepancies(),
		"truncated", sum.Truncated, "sourceRows", sum.SourceRows, "targetRows", sum.TargetRows, "strategy", string(sum.Strategy),
		"seconds", time.Since(start).Seconds())
	return nil
}

// workerPlan reads the plan from a file or the environment.
func workerPlan(file string) (runner.Plan, error) {
	text, from := os.Getenv(kubejob.EnvPlan), "$"+kubejob.EnvPlan
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return runner.Plan{}, fmt.Errorf("--plan-file: %w", err)
		}
		text, from = string(b), file
	}
	if strings.TrimSpace(text) == "" {
		return runner.Plan{}, fmt.Errorf("no plan: give --plan-file or set %s", kubejob.EnvPlan)
	}
	p, err := kubejob.DecodePlan(text)
	if err != nil {
		return runner.Plan{}, fmt.Errorf("%s: %w", from, err)
	}
	if p.Job == "" || len(p.Spec.Keys) == 0 {
		return runner.Plan{}, fmt.Errorf("%s: not a plan (no job or keys)", from)
	}
	return p, nil
}
