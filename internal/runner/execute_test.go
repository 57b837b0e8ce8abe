package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func sqliteStore(t *testing.T) store.Store {
	st, err := store.Open(ctxFor(t), filepath.Join(t.TempDir(), "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// runPartitions starts a run, executes each partition (in reverse order, as pods
// finish in any order), finishes the run and checks the store holds exactly the
// expected set and summary.
func runPartitions(t *testing.T, p *runnertest.Pair, plan runner.Plan, creds connect.Credentials, st store.Store, count int, id string) store.Run {
	t.Helper()
	ctx := ctxFor(t)
	if err := st.StartRun(ctx, store.Run{ID: id, Job: plan.Job, Trigger: "Manual", Partitions: count}); err != nil {
		t.Fatal(err)
	}
	var total diff.Summary
	for i := count - 1; i >= 0; i-- {
		var progress int64
		sum, err := runner.Execute(ctx, plan, creds, creds, runner.Partition{RunID: id, Index: i, Count: count}, st,
			runner.WithProgress(func(rows int64) { progress = rows }))
		if err != nil {
			t.Fatalf("partition %d: %v", i, err)
		}
		// Every partition reads both sides in full.
		if want := p.Manifest.Source.Rows + p.Manifest.Target.Rows; progress != want {
			t.Errorf("partition %d: progress says %d rows, want %d", i, progress, want)
		}
		total.Compared += sum.Compared
		total.SourceRows += sum.SourceRows
		total.TargetRows += sum.TargetRows
	}
	if total.SourceRows != p.Manifest.Source.Rows || total.TargetRows != p.Manifest.Target.Rows {
		t.Errorf("partitions kept %d/%d rows, want %d/%d", total.SourceRows, total.TargetRows, p.Manifest.Source.Rows, p.Manifest.Target.Rows)
	}
	run, err := st.FinishRun(ctx, id, store.RunDiscrepant, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := runnertest.SummaryJSON(run.Summary), runnertest.SummaryJSON(p.Expected.Summary); got != want {
		t.Errorf("run summary %s\n        want %s", got, want)
	}
	if run.PartitionsWritten != count {
		t.Errorf("%d partitions written, want %d", run.PartitionsWritten, count)
	}
	ds, err := st.Discrepancies(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	runnertest.Equal(t, runnertest.Lines(t, ds), runnertest.Lines(t, p.ExpectedDiscrepancies(t)))
	return run
}

// TestExecuteFiles compares generated file pairs (single and composite keys, sorted
// and not) in one partition and in three, and checks the store against the expected
// set exactly.
func TestExecuteFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		composite, sorted bool
	}{{false, false}, {true, true}} {
		t.Run(fmt.Sprintf("composite=%v,sorted=%v", tc.composite, tc.sorted), func(t *testing.T) {
			cfg := gen.DefaultConfig("")
			cfg.Rows, cfg.Composite, cfg.Sorted = 2000, tc.composite, tc.sorted
			st := sqliteStore(t)
			p := runnertest.Generate(t, cfg, "fin", st)
			p.Source.Spec.File.SortedByKey, p.Target.Spec.File.SortedByKey = tc.sorted, tc.sorted
			plan, err := runner.PlanFor(p.Job, p.Source, p.Target)
			if err != nil {
				t.Fatal(err)
			}
			for _, count := range []int{1, 3} {
				runPartitions(t, p, plan, nil, st, count, fmt.Sprintf("run-%d", count))
			}
		})
	}
}

func pgCreds(db *testdb.Database) connect.Credentials {
	return connect.CredentialsFunc(func(_ context.Context, ref chv1.CredentialsSecretRef) (connect.Credential, error) {
		if ref.Name != "pg-creds" {
			return connect.Credential{}, fmt.Errorf("secret fin/%s not found", ref.Name)
		}
		return connect.Credential{Username: db.Server.User, Password: db.Server.Password}, nil
	})
}

// TestExecutePostgres compares a generated pair loaded into PostgreSQL, results in a
// PostgreSQL store: merge in three partitions, one of them executed twice (a retried
// pod) leaving no duplicates; checksum bisection (Auto on two SQL sides) in three
// partitions, run whole by partition 0; hash in one.
func TestExecutePostgres(t *testing.T) {
	t.Parallel()
	db, storeDB := testdb.NewPostgres(t), testdb.NewPostgres(t)
	cfg := gen.DefaultConfig("")
	cfg.Rows, cfg.Composite = 3000, true
	ctx := ctxFor(t)
	st, err := store.Open(ctx, storeDB.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	p := runnertest.Generate(t, cfg, "fin", st)
	p.OnPostgres(t, db, "pg-creds")
	creds := pgCreds(db)
	planOf := func(s chv1.Strategy) runner.Plan {
		job := p.Job.DeepCopy()
		job.Spec.Strategy = s
		plan, err := runner.PlanFor(job, p.Source, p.Target)
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	finish := func(id string) {
		t.Helper()
		run, err := st.FinishRun(ctx, id, store.RunDiscrepant, time.Now(), "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := runnertest.SummaryJSON(run.Summary), runnertest.SummaryJSON(p.Expected.Summary); got != want {
			t.Errorf("%s: run summary %s\n        want %s", id, got, want)
		}
		ds, err := st.Discrepancies(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		runnertest.Equal(t, runnertest.Lines(t, ds), runnertest.Lines(t, p.ExpectedDiscrepancies(t)))
	}

	merge := planOf(chv1.StrategyMerge)
	if !merge.Source.Ordered || !merge.Target.Ordered || merge.Checksum {
		t.Fatalf("merge plan: %+v", merge)
	}
	if err := st.StartRun(ctx, store.Run{ID: "pg-merge", Job: merge.Job, Trigger: "Manual", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	// Partition 1 runs twice before the others: the second write replaces the first.
	for _, i := range []int{1, 1, 0, 2} {
		sum, err := runner.Execute(ctx, merge, creds, creds, runner.Partition{RunID: "pg-merge", Index: i, Count: 3}, st)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Strategy != diff.StrategyMerge {
			t.Errorf("partition %d ran %s, want merge", i, sum.Strategy)
		}
	}
	finish("pg-merge")
	if run, _ := st.GetRun(ctx, "pg-merge"); run.Summary.SourceRows != p.Manifest.Source.Rows || run.Summary.TargetRows != p.Manifest.Target.Rows {
		t.Errorf("merge read %d/%d rows, want %d/%d", run.Summary.SourceRows, run.Summary.TargetRows, p.Manifest.Source.Rows, p.Manifest.Target.Rows)
	}

	auto := planOf(chv1.StrategyAuto)
	if !auto.Checksum {
		t.Fatalf("two SQL sides under Auto should use checksums: %+v", auto)
	}
	if err := st.StartRun(ctx, store.Run{ID: "pg-checksum", Job: auto.Job, Trigger: "Manual", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{2, 0, 1} {
		var rows int64
		sum, err := runner.Execute(ctx, auto, creds, creds, runner.Partition{RunID: "pg-checksum", Index: i, Count: 3}, st,
			runner.WithProgress(func(n int64) { rows = n }))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (sum.Strategy != diff.StrategyChecksum || rows == 0) || i != 0 && sum.Compared != 0 {
			t.Errorf("partition %d: strategy %s compared %d progress %d", i, sum.Strategy, sum.Compared, rows)
		}
	}
	finish("pg-checksum")

	// Strategy Checksum: the plan's engine spec says checksum (a strategy the engine
	// knows but leaves to internal/checksum), and the run reports it.
	explicit := planOf(chv1.StrategyChecksum)
	if !explicit.Checksum || explicit.Spec.Strategy != diff.StrategyChecksum {
		t.Fatalf("Checksum plan: checksum %v, engine strategy %s", explicit.Checksum, explicit.Spec.Strategy)
	}
	if err := st.StartRun(ctx, store.Run{ID: "pg-checksum-explicit", Job: explicit.Job, Trigger: "Manual", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	sum, err := runner.Execute(ctx, explicit, creds, creds, runner.Partition{RunID: "pg-checksum-explicit", Index: 0, Count: 1}, st)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Strategy != diff.StrategyChecksum {
		t.Errorf("Checksum plan ran %s", sum.Strategy)
	}
	finish("pg-checksum-explicit")

	runPartitions(t, p, planOf(chv1.StrategyHash), creds, st, 1, "pg-hash")
}

// TestExecuteFailures: an unreachable source or a bad secret is an error naming the
// DataSource, without the password, and writes nothing.
func TestExecuteFailures(t *testing.T) {
	t.Parallel()
	const password = "s3cret-Pa55w0rd-xyz"
	cfg := gen.DefaultConfig("")
	cfg.Rows = 100
	st := sqliteStore(t)
	p := runnertest.Generate(t, cfg, "fin", st)
	ctx := ctxFor(t)

	unreachable := p.Source.DeepCopy()
	unreachable.Spec.Type, unreachable.Spec.File = chv1.DataSourcePostgreSQL, nil
	unreachable.Spec.PostgreSQL = &chv1.SQLSource{Host: "127.0.0.1", Port: 1, Database: "ledger", Table: "ledger",
		SecretRef: chv1.CredentialsSecretRef{Name: "pg-creds"}, TLSMode: "disable"}
	good := connect.CredentialsFunc(func(context.Context, chv1.CredentialsSecretRef) (connect.Credential, error) {
		return connect.Credential{Username: "clearhouse", Password: password}, nil
	})
	missing := connect.CredentialsFunc(func(_ context.Context, ref chv1.CredentialsSecretRef) (connect.Credential, error) {
		return connect.Credential{}, fmt.Errorf("secret fin/%s has no key %q", ref.Name, "password")
	})
	// Both SQL: the checksum path.
	unreachableTarget := unreachable.DeepCopy()
	unreachableTarget.Name = p.Target.Name
	for _, tc := range []struct {
		name   string
		creds  connect.Credentials
		target *chv1.DataSource
		want   string
	}{
		{"unreachable", good, p.Target, "datasource fin/ledger"},
		{"bad secret", missing, p.Target, `datasource fin/ledger: secret fin/pg-creds has no key "password"`},
		{"unreachable checksum", good, unreachableTarget, "fin/ledger"},
		{"bad secret checksum", missing, unreachableTarget, `datasource fin/ledger: secret fin/pg-creds has no key "password"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := runner.PlanFor(p.Job, unreachable, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			id := "fail-" + strings.ReplaceAll(tc.name, " ", "-")
			if err := st.StartRun(ctx, store.Run{ID: id, Job: plan.Job, Trigger: "Manual"}); err != nil {
				t.Fatal(err)
			}
			_, err = runner.Execute(ctx, plan, tc.creds, tc.creds, runner.Partition{RunID: id, Count: 1}, st)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("error leaks the password: %v", err)
			}
			run, err := st.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if run.PartitionsWritten != 0 {
				t.Errorf("a failed partition was written")
			}
		})
	}
	// A run past its timeout says so, and writes nothing.
	plan, err := runner.PlanFor(p.Job, p.Source, p.Target)
	if err != nil {
		t.Fatal(err)
	}
	plan.Timeout = time.Nanosecond
	if err := st.StartRun(ctx, store.Run{ID: "timeout", Job: plan.Job, Trigger: "Manual"}); err != nil {
		t.Fatal(err)
	}
	_, err = runner.Execute(ctx, plan, nil, nil, runner.Partition{RunID: "timeout", Count: 1}, st)
	if err == nil || !strings.HasPrefix(err.Error(), "run timed out after 1ns (spec.limits.timeout): ") {
		t.Errorf("timeout: %v", err)
	}
	if run, err := st.GetRun(ctx, "timeout"); err != nil || run.PartitionsWritten != 0 {
		t.Errorf("a timed-out partition was written: %+v %v", run, err)
	}

	_, err = runner.Execute(ctx, runner.Plan{}, nil, nil, runner.Partition{RunID: "x", Index: 3, Count: 3}, st)
	if err == nil || err.Error() != "runner: partition 3 of 3 is out of range" {
		t.Errorf("error %v", err)
	}
}
