package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

var workerBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// builtBinary builds the clearhouse binary once per test binary.
func builtBinary(t *testing.T) string {
	t.Helper()
	workerBin.once.Do(func() {
		// Under the directory TestMain removes.
		dir := filepath.Join(os.TempDir(), "clearhouse-difftest-"+strconv.Itoa(os.Getpid()), "bin")
		workerBin.path = filepath.Join(dir, "clearhouse")
		workerBin.out, workerBin.err = exec.Command("go", "build", "-o", workerBin.path, ".").CombinedOutput()
	})
	if workerBin.err != nil {
		t.Fatalf("build: %v\n%s", workerBin.err, workerBin.out)
	}
	return workerBin.path
}

// worker runs `clearhouse worker` with exactly env (plus PATH and HOME) and returns its
// output and exit code.
func worker(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, builtBinary(t), append([]string{"worker"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestWorkerBinary runs the built binary as the Kubernetes executor's pods would: three
// partitions of a PostgreSQL pair into a PostgreSQL store, the plan once from a file
// and otherwise from the environment, one partition twice; then a wrong password.
func TestWorkerBinary(t *testing.T) {
	t.Parallel()
	db, storeDB := testdb.NewPostgres(t), testdb.NewPostgres(t)
	cfg := gen.DefaultConfig("")
	cfg.Rows = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, storeDB.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	p := runnertest.Generate(t, cfg, "fin", st)
	p.OnPostgres(t, db, "ledger-creds")
	plan, err := runner.PlanFor(p.Job, p.Source, p.Target)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := kubejob.EncodePlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(t.TempDir(), "plan.json")
	b, _ := json.Marshal(plan)
	if err := os.WriteFile(planFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	const id = "fin/ledger-vs-bank@Nonce:1"
	if err := st.StartRun(ctx, store.Run{ID: id, Job: plan.Job, Trigger: "Nonce", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	password := db.Server.Password
	creds := []string{
		"CLEARHOUSE_SOURCE_USERNAME=" + db.Server.User, "CLEARHOUSE_SOURCE_PASSWORD=" + password,
		"CLEARHOUSE_TARGET_USERNAME=" + db.Server.User, "CLEARHOUSE_TARGET_PASSWORD=" + password,
	}
	podEnv := func(index string) []string {
		return append([]string{"CLEARHOUSE_PLAN=" + encoded, "CLEARHOUSE_STORE=" + storeDB.URI(), "JOB_COMPLETION_INDEX=" + index}, creds...)
	}
	check := func(out string, code int) {
		t.Helper()
		if code != 0 {
			t.Fatalf("worker exited %d:\n%s", code, out)
		}
		if strings.Contains(out, password) {
			t.Fatalf("worker output leaks a password:\n%s", out)
		}
		if !strings.Contains(out, "partition written") {
			t.Errorf("no summary line in:\n%s", out)
		}
	}
	check(worker(t, append(creds, "CLEARHOUSE_STORE="+storeDB.URI()), "--run", id, "--partitions", "3", "--plan-file", planFile, "--index", "0"))
	check(worker(t, podEnv("1"), "--run", id, "--partitions", "3"))
	check(worker(t, podEnv("2"), "--run", id, "--partitions", "3"))
	check(worker(t, podEnv("2"), "--run", id, "--partitions", "3")) // a retried pod

	run, err := st.FinishRun(ctx, id, store.RunDiscrepant, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := runnertest.SummaryJSON(run.Summary), runnertest.SummaryJSON(p.Expected.Summary); got != want {
		t.Errorf("summary %s\n    want %s", got, want)
	}
	ds, err := st.Discrepancies(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	runnertest.Equal(t, runnertest.Lines(t, ds), runnertest.Lines(t, p.ExpectedDiscrepancies(t)))

	// Failures exit 2 with the reason, name the DataSource, never print a password,
	// and write nothing.
	const failed = "fin/ledger-vs-bank@Nonce:2"
	if err := st.StartRun(ctx, store.Run{ID: failed, Job: plan.Job, Trigger: "Nonce", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	const wrong = "not-the-Password-123"
	env := []string{"CLEARHOUSE_PLAN=" + encoded, "CLEARHOUSE_STORE=" + storeDB.URI(), "JOB_COMPLETION_INDEX=0",
		"CLEARHOUSE_TARGET_USERNAME=" + db.Server.User, "CLEARHOUSE_TARGET_PASSWORD=" + password,
		"CLEARHOUSE_SOURCE_USERNAME=" + db.Server.User, "CLEARHOUSE_SOURCE_PASSWORD=" + wrong}
	out, code := worker(t, env, "--run", failed)
	if code != 2 || !strings.Contains(out, "fin/ledger") || !strings.Contains(out, "password authentication failed") || strings.Contains(out, wrong) {
		t.Errorf("wrong password: exit %d, output:\n%s", code, out)
	}
	env = append(env[:3], "CLEARHOUSE_SOURCE_USERNAME="+db.Server.User, "CLEARHOUSE_SOURCE_PASSWORD="+password) // no target credentials
	out, code = worker(t, env, "--run", failed)
	if code != 2 || !strings.Contains(out, "datasource fin/bank: environment variable CLEARHOUSE_TARGET_USERNAME (from secret ledger-creds) is not set") {
		t.Errorf("missing target credentials: exit %d, output:\n%s", code, out)
	}
	if r, err := st.GetRun(ctx, failed); err != nil || r.PartitionsWritten != 0 {
		t.Errorf("failed partitions were written: %+v %v", r, err)
	}
}

// TestWorkerUsage: missing inputs are named.
func TestWorkerUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--run", "r"}, "clearhouse: no plan: give --plan-file or set CLEARHOUSE_PLAN"},
		{[]string{"CLEARHOUSE_PLAN={bad"}, []string{"--run", "r"}, "clearhouse: $CLEARHOUSE_PLAN: decode plan:"},
		{[]string{`CLEARHOUSE_PLAN={"job":"a/b","spec":{"keys":[{"name":"id"}]}}`}, []string{"--run", "r"}, "clearhouse: no partition: give --index or set JOB_COMPLETION_INDEX"},
		{[]string{`CLEARHOUSE_PLAN={"job":"a/b","spec":{"keys":[{"name":"id"}]}}`, "JOB_COMPLETION_INDEX=3"}, []string{"--run", "r", "--partitions", "3"}, "clearhouse: partition 3 of 3 is out of range"},
		{[]string{`CLEARHOUSE_PLAN={"job":"a/b","spec":{"keys":[{"name":"id"}]}}`}, []string{"--run", "r", "--index", "0"}, "clearhouse: no results store: give --store or set CLEARHOUSE_STORE"},
		{nil, nil, `required flag(s) "run" not set`},
	} {
		out, code := worker(t, tc.env, tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v %v: exit %d, output %q, want %q", tc.env, tc.args, code, out, tc.want)
		}
	}
}
