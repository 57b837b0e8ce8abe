package controllers_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob/kubejobtest"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// TestSucceededWithoutWriting: a worker Job every pod of which succeeded while
// no partition reached the store (workers writing elsewhere) fails the run; it is
// never taken for a balanced one.
func TestSucceededWithoutWriting(t *testing.T) {
	p := smallPair(t, "rkx-nowrite")
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	job, id, bj := startKubernetesRun(t, p)
	kubelet{t: t, job: bj, bin: clearhouseBinary(t)}.run(1) // only partition 1 writes
	finishWorkerJob(t, bj, false)
	done := waitRunEnded(t, job, id)
	want := "worker Job " + bj.Name + " completed but only 1 of 2 partitions wrote their results to the store (do the workers use the manager's store?)"
	if l := done.Status.LastRun; l.Result != chv1.RunFailed || l.Message != want {
		t.Errorf("lastRun %+v, want Failed: %s", l, want)
	}
	if err := cond(done, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonFailed, id); err != nil {
		t.Error(err)
	}
}

// TestWorkerJobDeletedByHand: deleting a running run's worker Job ends the run
// Interrupted (not balanced), and its retry gets a worker Job of its own.
func TestWorkerJobDeletedByHand(t *testing.T) {
	p := smallPair(t, "rkx-deleted")
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	job, id, bj := startKubernetesRun(t, p)
	kubelet{t: t, job: bj, bin: clearhouseBinary(t)}.run(0)
	if err := env.Client.Delete(context.Background(), bj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	done := waitRunEnded(t, job, id)
	if l := done.Status.LastRun; l.Result != chv1.RunInterrupted ||
		l.Message != "no executor is running it any more (the manager restarted or its worker Job is gone)" {
		t.Errorf("lastRun %+v, want Interrupted", l)
	}
	clk.Step(trigger.RetryBackoff)
	retry := id + "-r1"
	if kubejob.Name(retry) == bj.Name {
		t.Fatalf("the retry's worker Job has the first attempt's name %s", bj.Name)
	}
	var rj batchv1.Job
	eventually(t, "the retry's worker Job", func() error {
		return env.Client.Get(context.Background(), types.NamespacedName{Namespace: job.Namespace, Name: kubejob.Name(retry)}, &rj)
	})
	if rj.Annotations[kubejob.AnnotationRun] != retry {
		t.Errorf("retry Job annotations %v", rj.Annotations)
	}
}

// TestReplaceRemovesWorkerJob: under concurrencyPolicy Replace a new trigger
// deletes the running run's worker Job, aborts the run, and a late worker of the
// replaced run cannot write into it.
func TestReplaceRemovesWorkerJob(t *testing.T) {
	p := smallPair(t, "rkx-replace")
	p.Job.Spec.ConcurrencyPolicy = chv1.ConcurrencyReplace
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	job, id, bj := startKubernetesRun(t, p)
	setNonce(t, job, "deploy-2")
	next := trigger.RunID(string(job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "deploy-2"})
	waitRunning(t, job, next)
	eventually(t, "the replaced run's worker Job is deleted", func() error {
		var old batchv1.Job
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(bj), &old)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return errString("still there: " + old.Name)
	})
	var nj batchv1.Job
	eventually(t, "the new run's worker Job", func() error {
		return env.Client.Get(context.Background(), types.NamespacedName{Namespace: job.Namespace, Name: kubejob.Name(next)}, &nj)
	})
	old, err := mgr.Store.GetRun(context.Background(), id)
	if err != nil || old.State != store.RunAborted || !strings.Contains(old.Error, next) {
		t.Errorf("replaced run: %+v (%v), want Aborted naming %s", old, err, next)
	}
	// A pod of the replaced run that was still running writes nothing.
	k := kubelet{t: t, job: bj, bin: clearhouseBinary(t)}
	lines := make(chan string, 64)
	cmd := k.start(context.Background(), 0, lines)
	var out []string
	for l := range lines {
		out = append(out, l)
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(strings.Join(out, "\n"), "the run is already aborted") {
		t.Errorf("late worker of the replaced run: %v\n%s", cmd.ProcessState, strings.Join(out, "\n"))
	}
	if after, _ := mgr.Store.GetRun(context.Background(), id); after.PartitionsWritten != 0 {
		t.Errorf("the replaced run holds %d partitions", after.PartitionsWritten)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestKubernetesFailedPodReason: when the worker Job fails, the run's message carries
// why its failed pod failed (termination reason, exit code and the worker's last line,
// as the kubelet reports it with FallbackToLogsOnError), as an Inline run's would,
// not only the Job's "Job has failed indexes".
func TestKubernetesFailedPodReason(t *testing.T) {
	p := smallPair(t, "rkx-podfail")
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	job, id, bj := startKubernetesRun(t, p)
	// Partition 1's worker finds the source file gone.
	path := strings.TrimPrefix(p.Source.Spec.File.URL, "file://")
	if err := os.Rename(path, path+".gone"); err != nil {
		t.Fatal(err)
	}
	k := kubelet{t: t, job: bj, bin: clearhouseBinary(t)}
	lines := make(chan string, 64)
	cmd := k.start(context.Background(), 1, lines)
	var out []string
	for l := range lines {
		out = append(out, l)
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("worker 1: %v\n%s", cmd.ProcessState, strings.Join(out, "\n"))
	}
	last := out[len(out)-1]
	if !strings.HasPrefix(last, "clearhouse: run "+id+" partition 1: ") || !strings.Contains(last, path) {
		t.Fatalf("the worker's last line: %q", last)
	}
	// Play the Job controller and the kubelet: the failed pod of index 1, its
	// termination message the tail of its log.
	pod := failWorkerPod(t, bj, 1, out)
	failWorkerJob(t, bj)
	done := waitRunEnded(t, job, id)
	want := "worker Job " + bj.Name + " failed (FailedIndexes): Job has failed indexes; pod " + pod.Name + ": Error (exit code 2): " + last
	if l := done.Status.LastRun; l.Result != chv1.RunFailed || l.Message != want {
		t.Errorf("lastRun %+v\nwant Failed: %s", l, want)
	}
}

// TestKubernetesStoreSecretMissing: with --worker-store-secret, a run in a namespace
// where that Secret (or its key) is missing fails at once saying so, with no worker
// Job: its pods could never start, and the run would stay Running until its timeout,
// then fail saying only that the Job exceeded its deadline.
func TestKubernetesStoreSecretMissing(t *testing.T) {
	ctx := context.Background()
	p := smallPair(t, "rkx-storesecret")
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	create(t, p.Job) // without its DataSources nor a trigger: the suite's manager runs nothing
	deleteAtEnd(t, p.Job)
	job := getJob(t, p.Job)
	plan, err := runner.PlanFor(job, p.Source, p.Target)
	if err != nil {
		t.Fatal(err)
	}
	k := controllers.KubernetesExecutor{Image: "ghcr.io/clearhouse-dev/clearhouse:test",
		StoreSecret: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "results-store"}, Key: "uri"}}
	id := string(job.UID) + "-n1"
	noWorkerJob := func() {
		t.Helper()
		var bj batchv1.Job
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: kubejob.Name(id)}, &bj); !apierrors.IsNotFound(err) {
			t.Errorf("a worker Job was created: %v", err)
		}
	}

	err = controllers.StartKubernetesRun(ctx, env.Client, k, job, plan, id, 2)
	if want := "the workers' store Secret rkx-storesecret/results-store does not exist (--worker-store-secret: a Secret of that name must hold the store URI in each namespace where Kubernetes jobs run)"; err == nil || err.Error() != want {
		t.Errorf("no Secret: %v, want %s", err, want)
	}
	noWorkerJob()

	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "results-store", Namespace: job.Namespace},
		Data: map[string][]byte{"url": []byte("postgres://clearhouse:pw@db/results")}}
	create(t, s)
	err = controllers.StartKubernetesRun(ctx, env.Client, k, job, plan, id, 2)
	if want := `the workers' store Secret rkx-storesecret/results-store has no key "uri" (--worker-store-secret)`; err == nil || err.Error() != want {
		t.Errorf("no key: %v, want %s", err, want)
	}
	noWorkerJob()

	s.Data["uri"] = s.Data["url"]
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := controllers.StartKubernetesRun(ctx, env.Client, k, job, plan, id, 2); err != nil {
		t.Fatalf("with the Secret: %v", err)
	}
	var bj batchv1.Job
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: kubejob.Name(id)}, &bj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, &bj) })
}

// failWorkerPod plays the Job controller and the kubelet: the pod of index of bj
// failed (exit code 2), its termination message the tail of its log (out).
func failWorkerPod(t *testing.T, bj *batchv1.Job, index int, out []string) *corev1.Pod {
	t.Helper()
	pod, status := kubejobtest.FailedPod(bj, index, strings.Join(out, "\n"))
	create(t, pod)
	pod.Status = status
	if err := env.Client.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// failWorkerJob plays the Job controller: bj failed, an index out of retries.
func failWorkerJob(t *testing.T, bj *batchv1.Job) {
	t.Helper()
	setJobStatus(t, bj, func(st *batchv1.JobStatus, now metav1.Time) {
		st.Failed, st.FailedIndexes = 3, ptr.To("1")
		st.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonFailedIndexes, Message: "Job has failed indexes", LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonFailedIndexes, Message: "Job has failed indexes", LastTransitionTime: now, LastProbeTime: now},
		}
	})
}

// TestRunFailedEventOfLongReason: a run that fails with a long reason (a worker's
// long last line) still has its RunFailed event, its note cut to the 1024 bytes the
// API server takes (it refuses a longer one, and the event was lost); the run's
// message quotes at most 512 bytes of the line.
func TestRunFailedEventOfLongReason(t *testing.T) {
	p := smallPair(t, "rkx-longreason")
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 2}
	job, id, bj := startKubernetesRun(t, p)
	line := "clearhouse: run " + id + " partition 1: " + strings.Repeat("é", 600)
	pod := failWorkerPod(t, bj, 1, []string{"level=INFO msg=comparing", line})
	failWorkerJob(t, bj)
	done := waitRunEnded(t, job, id)
	prefix := "worker Job " + bj.Name + " failed (FailedIndexes): Job has failed indexes; pod " + pod.Name + ": Error (exit code 2): "
	msg := done.Status.LastRun.Message
	if !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, "…") || !utf8.ValidString(msg) ||
		len(strings.TrimPrefix(msg, prefix)) > 512+len("…") || !strings.HasPrefix(line, strings.TrimSuffix(strings.TrimPrefix(msg, prefix), "…")) {
		t.Errorf("lastRun message %q", msg)
	}
	eventually(t, "the RunFailed event", func() error {
		for _, e := range jobEvents(t, job) {
			if strings.HasPrefix(e, "RunFailed: run "+id+" failed: "+prefix) {
				if len(strings.TrimPrefix(e, "RunFailed: ")) > 1024 || !utf8.ValidString(e) {
					return errString("note too long or cut inside a rune: " + e)
				}
				return nil
			}
		}
		return errString("no RunFailed event")
	})
}

// TestKubernetesDataSourceSecretMissing: a Kubernetes run whose DataSource names a
// Secret (credentials, or a CA) that is missing, or lacks the key, fails at once naming
// the DataSource, the Secret and the key, and creates no worker Job: its pods would
// wait in CreateContainerConfigError until the run's timeout.
func TestKubernetesDataSourceSecretMissing(t *testing.T) {
	ctx := context.Background()
	ns := "rkx-dssecret"
	p := smallPair(t, ns)
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes}
	create(t, p.Job) // without its DataSources nor a trigger: the suite's manager runs nothing
	deleteAtEnd(t, p.Job)
	job := getJob(t, p.Job)
	k := controllers.KubernetesExecutor{Image: "ghcr.io/clearhouse-dev/clearhouse:test", StoreURI: "postgres://results-db/results"}
	id := string(job.UID) + "-n1"

	src := p.Source.DeepCopy()
	src.Spec.File.URL = "https://files.bank.example/ledger.csv"
	src.Spec.File.SecretRef = &chv1.CredentialsSecretRef{Name: "files"}
	plan, err := runner.PlanFor(job, src, p.Target)
	if err != nil {
		t.Fatal(err)
	}
	err = controllers.StartKubernetesRun(ctx, env.Client, k, job, plan, id, 1)
	if want := "datasource " + ns + "/" + src.Name + ": secret " + ns + "/files not found"; err == nil || err.Error() != want {
		t.Errorf("no Secret: %v, want %s", err, want)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "files"}, Data: map[string][]byte{"username": []byte("u")}})
	err = controllers.StartKubernetesRun(ctx, env.Client, k, job, plan, id, 1)
	if want := "datasource " + ns + "/" + src.Name + `: secret ` + ns + `/files has no key "password"`; err == nil || err.Error() != want {
		t.Errorf("no key: %v, want %s", err, want)
	}
	var bj batchv1.Job
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: kubejob.Name(id)}, &bj); !apierrors.IsNotFound(err) {
		t.Errorf("a worker Job was created: %v", err)
	}
}
