package controllers_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// clearhouseBinary builds the clearhouse binary (the worker image's entrypoint).
func clearhouseBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clearhouse")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/clearhouse").CombinedOutput(); err != nil {
		t.Fatalf("build clearhouse: %v\n%s", err, out)
	}
	return bin
}

// kubelet plays the node for a worker Job: it resolves the worker container's
// environment as the kubelet does (values, the completion index, Secret keys) and runs
// the container's arguments with the clearhouse binary.
type kubelet struct {
	t   *testing.T
	job *batchv1.Job
	bin string
}

// env is the environment of the pod of index, with /tmp an emptyDir of its own.
func (k kubelet) env(index int) []string {
	k.t.Helper()
	c := k.job.Spec.Template.Spec.Containers[0]
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.Name == "TMPDIR":
			v = k.t.TempDir()
		case e.ValueFrom == nil:
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.annotations['batch.kubernetes.io/job-completion-index']":
			v = strconv.Itoa(index)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			var s corev1.Secret
			if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: k.job.Namespace, Name: ref.Name}, &s); err != nil {
				k.t.Fatalf("env %s: %v", e.Name, err)
			}
			b, ok := s.Data[ref.Key]
			if !ok {
				k.t.Fatalf("env %s: secret %s has no key %s (the pod would not start)", e.Name, ref.Name, ref.Key)
			}
			v = string(b)
		default:
			k.t.Fatalf("env %s: a source the test kubelet does not know", e.Name)
		}
		out = append(out, e.Name+"="+v)
	}
	return out
}

// start starts the pod of index with extra arguments; its output goes to lines.
func (k kubelet) start(ctx context.Context, index int, lines chan<- string, extra ...string) *exec.Cmd {
	k.t.Helper()
	c := k.job.Spec.Template.Spec.Containers[0]
	cmd := exec.CommandContext(ctx, k.bin, append(append([]string(nil), c.Args...), extra...)...)
	cmd.Env = k.env(index)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	go func() {
		_ = cmd.Wait()
		_ = w.Close()
	}()
	return cmd
}

// run runs the pod of index to its end and fails the test unless it succeeds.
func (k kubelet) run(index int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	lines := make(chan string, 64)
	cmd := k.start(ctx, index, lines)
	var out []string
	for l := range lines {
		out = append(out, l)
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		k.t.Fatalf("worker %d failed (%v):\n%s", index, cmd.ProcessState, strings.Join(out, "\n"))
	}
}

// startKubernetesRun creates the pair's objects with nonce deploy-1, waits for the run
// and returns the job, the run id and its worker Job.
func startKubernetesRun(t *testing.T, p *runnertest.Pair) (*chv1.ReconciliationJob, string, *batchv1.Job) {
	t.Helper()
	p.Job.Spec.RunNonce = "deploy-1"
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	job := getJob(t, p.Job)
	id := trigger.RunID(string(job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "deploy-1"})
	waitRunning(t, job, id)
	var bj batchv1.Job
	eventually(t, "worker Job", func() error {
		return env.Client.Get(context.Background(), types.NamespacedName{Namespace: job.Namespace, Name: kubejob.Name(id)}, &bj)
	})
	return job, id, &bj
}

// setJobStatus plays the Job controller: it writes the worker Job's status.
func setJobStatus(t *testing.T, bj *batchv1.Job, set func(st *batchv1.JobStatus, now metav1.Time)) {
	t.Helper()
	eventually(t, "update the worker Job's status", func() error {
		var cur batchv1.Job
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(bj), &cur); err != nil {
			return err
		}
		now := metav1.Now()
		cur.Status.StartTime = &now
		cur.Status.Ready, cur.Status.Terminating = ptr.To[int32](0), ptr.To[int32](0)
		set(&cur.Status, now)
		return env.Client.Status().Update(context.Background(), &cur)
	})
}

var progressRows = regexp.MustCompile(`msg=progress .*rows=(\d+)`)

// TestKubernetesExecutor: a job with executor Kubernetes and three partitions creates
// its Indexed worker Job (spec asserted); the test plays kubelet and the Job
// controller: runs `clearhouse worker` for each index against the generated pair in
// real PostgreSQL, kills one worker mid-partition and reruns it, reruns another after
// it finished (a pod lost after writing), marks the Job complete, and the job's status
// and the store equal the expected set exactly, nothing counted twice.
func TestKubernetesExecutor(t *testing.T) {
	ns := "rj-kubernetes"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	cfg := gen.DefaultConfig(t.TempDir())
	cfg.Rows = 1000
	p := runnertest.Generate(t, cfg, ns, mgr.Store)
	p.OnPostgres(t, db, "pg")
	secret(t, ns, "pg", db.Server.User, db.Server.Password)
	// Merge, so that each partition reads and keeps its share of the keys (under Auto,
	// two SQL sides use checksums and partition 0 does all the work).
	p.Job.Spec.Strategy = chv1.StrategyMerge
	// Slow reads (both sides at 400 rows/s) so that a worker can be killed mid-partition.
	p.Job.Spec.Limits.RowsPerSecond = 400
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	p.Job.Spec.Execution = chv1.Execution{
		Executor: chv1.ExecutorKubernetes, Parallelism: 3, Resources: resources, ServiceAccountName: "reconciler",
		TTLSecondsAfterFinished: ptr.To[int32](120), BackoffLimitPerIndex: ptr.To[int32](3),
	}
	job, id, bjp := startKubernetesRun(t, p)
	bj := *bjp
	s := bj.Spec
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 3 || *s.Parallelism != 3 ||
		*s.BackoffLimitPerIndex != 3 || *s.TTLSecondsAfterFinished != 120 {
		t.Errorf("job spec: mode %s completions %d parallelism %d backoffLimitPerIndex %d ttl %d",
			*s.CompletionMode, *s.Completions, *s.Parallelism, *s.BackoffLimitPerIndex, *s.TTLSecondsAfterFinished)
	}
	if d := s.ActiveDeadlineSeconds; d == nil || *d != 3600 { // spec.limits.timeout, 1h by default
		t.Errorf("activeDeadlineSeconds %v, want the run's timeout, 3600", d)
	}
	if owner := metav1.GetControllerOf(&bj); owner == nil || owner.UID != job.UID || owner.Kind != "ReconciliationJob" {
		t.Errorf("controller of the worker Job: %+v", owner)
	}
	if bj.Labels["clearhouse.dev/job"] != job.Name || bj.Labels["clearhouse.dev/run"] != kubejob.LabelValue(id) || bj.Annotations["clearhouse.dev/run-id"] != id {
		t.Errorf("labels %v annotations %v", bj.Labels, bj.Annotations)
	}
	pod := s.Template.Spec
	c := pod.Containers[0]
	if pod.ServiceAccountName != "reconciler" || !reflect.DeepEqual(c.Resources, resources) || c.Image != "ghcr.io/clearhouse-dev/clearhouse:test" {
		t.Errorf("pod: serviceAccount %q resources %+v image %q", pod.ServiceAccountName, c.Resources, c.Image)
	}
	if got := strings.Join(c.Args[:5], " "); got != "worker --run "+id+" --partitions 3" || len(c.Args) != 7 || c.Args[5] != "--store" {
		t.Errorf("args %q", c.Args)
	}
	envs := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		envs[e.Name] = e
	}
	for _, name := range []string{"CLEARHOUSE_SOURCE_USERNAME", "CLEARHOUSE_SOURCE_PASSWORD", "CLEARHOUSE_TARGET_USERNAME", "CLEARHOUSE_TARGET_PASSWORD"} {
		ref := envs[name].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "pg" || envs[name].Value != "" {
			t.Errorf("env %s: %+v, want a secretKeyRef to pg", name, envs[name])
		}
	}
	var src, tgt chv1.DataSource
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(p.Source), &src); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(p.Target), &tgt); err != nil {
		t.Fatal(err)
	}
	wantPlan, err := runner.PlanFor(job, &src, &tgt)
	if err != nil {
		t.Fatal(err)
	}
	gotPlan, err := kubejob.DecodePlan(envs["CLEARHOUSE_PLAN"].Value)
	if err != nil || !reflect.DeepEqual(gotPlan, wantPlan) {
		t.Errorf("plan in the pod (%v)\n got %+v\nwant %+v", err, gotPlan, wantPlan)
	}
	if strings.Contains(envs["CLEARHOUSE_PLAN"].Value, db.Server.Password) {
		t.Fatal("the plan carries the database password")
	}

	// Play kubelet. Partition 1 is killed mid-read, before it wrote anything, then its
	// retry runs to the end.
	k := kubelet{t: t, job: &bj, bin: clearhouseBinary(t)}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	lines := make(chan string, 64)
	total := p.Manifest.Source.Rows + p.Manifest.Target.Rows
	cmd := k.start(ctx, 1, lines, "--progress-interval=50ms")
	killed := false
	var out []string
	for l := range lines {
		out = append(out, l)
		if m := progressRows.FindStringSubmatch(l); m != nil && !killed {
			if n, _ := strconv.ParseInt(m[1], 10, 64); n > 0 && n < total {
				_ = cmd.Process.Kill()
				killed = true
			}
		}
	}
	if !killed {
		t.Fatalf("worker 1 was never seen mid-partition:\n%s", strings.Join(out, "\n"))
	}
	if run, err := mgr.Store.GetRun(context.Background(), id); err != nil || run.PartitionsWritten != 0 {
		t.Fatalf("after the kill: %d partitions written (%v), want 0", run.PartitionsWritten, err)
	}
	k.run(1)
	k.run(0)
	k.run(2)
	k.run(2) // a pod lost after it wrote: its retry replaces what it wrote
	if run, err := mgr.Store.GetRun(context.Background(), id); err != nil || run.PartitionsWritten != 3 {
		t.Fatalf("%d partitions written (%v), want 3", run.PartitionsWritten, err)
	}
	if l := getJob(t, job).Status.LastRun; l == nil || l.ID != id || l.Result != chv1.RunRunning {
		t.Fatalf("the run ended before its Job completed: %+v", l)
	}

	// Play the Job controller: every index succeeded.
	setJobStatus(t, &bj, func(st *batchv1.JobStatus, now metav1.Time) {
		st.CompletionTime = &now
		st.Succeeded, st.CompletedIndexes = 3, "0-2"
		st.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: now, LastProbeTime: now},
		}
	})

	done := waitRunEnded(t, job, id)
	last := done.Status.LastRun
	if last.Result != chv1.RunDiscrepant || last.Message != "" {
		t.Errorf("lastRun %+v, want Discrepant", last)
	}
	if want := counts(p); last.Counts != want {
		t.Errorf("counts %+v, want %+v", last.Counts, want)
	}
	run, err := mgr.Store.GetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Summary.SourceRows != p.Manifest.Source.Rows || run.Summary.TargetRows != p.Manifest.Target.Rows || run.Partitions != 3 {
		t.Errorf("run read %d/%d rows in %d partitions, want %d/%d in 3", run.Summary.SourceRows, run.Summary.TargetRows,
			run.Partitions, p.Manifest.Source.Rows, p.Manifest.Target.Rows)
	}
	got, err := mgr.Store.Discrepancies(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	runnertest.Equal(t, runnertest.Lines(t, got), runnertest.Lines(t, p.ExpectedDiscrepancies(t)))
	if t.Failed() {
		fmt.Fprintln(os.Stderr, "worker 1 before the kill:\n"+strings.Join(out, "\n"))
	}
}

// TestKubernetesExecutorJobFailed: when the worker Job fails (a partition out of
// retries), the run fails with the Job's reason even though other partitions wrote
// their results, status never shows it balanced, and no case is opened from it.
func TestKubernetesExecutorJobFailed(t *testing.T) {
	ns := "rj-kubernetes-failed"
	p := smallPair(t, ns)
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	job, id, bj := startKubernetesRun(t, p)
	// Partition 0 succeeds; partition 1 never does.
	kubelet{t: t, job: bj, bin: clearhouseBinary(t)}.run(0)
	setJobStatus(t, bj, func(st *batchv1.JobStatus, now metav1.Time) {
		st.Succeeded, st.Failed = 1, 3
		st.CompletedIndexes, st.FailedIndexes = "0", ptr.To("1")
		st.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonFailedIndexes, Message: "Job has failed indexes", LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonFailedIndexes, Message: "Job has failed indexes", LastTransitionTime: now, LastProbeTime: now},
		}
	})
	done := waitRunEnded(t, job, id)
	if l := done.Status.LastRun; l.Result != chv1.RunFailed || !strings.Contains(l.Message, bj.Name) || !strings.Contains(l.Message, "FailedIndexes") {
		t.Errorf("lastRun %+v, want Failed naming the worker Job and its reason", l)
	}
	if err := cond(done, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonFailed, id); err != nil {
		t.Error(err)
	}
	if done.Status.OpenCases != 0 {
		t.Errorf("a failed run opened %d cases", done.Status.OpenCases)
	}
}
