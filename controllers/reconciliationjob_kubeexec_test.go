package controllers_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// finishWorkerJob plays the Job controller for a worker Job whose pods all succeeded,
// or whose index 0 ran out of retries.
func finishWorkerJob(t *testing.T, bj *batchv1.Job, failed bool) {
	t.Helper()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	n := *bj.Spec.Completions
	bj.Status.StartTime = &now
	if failed {
		bj.Status.Failed = 1
		bj.Status.FailedIndexes = ptrTo("0")
		bj.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonMaxFailedIndexesExceeded, Message: "Job has exceeded the specified maximal number of failed indexes", LastProbeTime: now, LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonMaxFailedIndexesExceeded, Message: "Job has exceeded the specified maximal number of failed indexes", LastProbeTime: now, LastTransitionTime: now},
		}
	} else {
		bj.Status.Succeeded = n
		bj.Status.CompletedIndexes = fmt.Sprintf("0-%d", n-1)
		if n == 1 {
			bj.Status.CompletedIndexes = "0"
		}
		bj.Status.CompletionTime = &now
		bj.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastProbeTime: now, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastProbeTime: now, LastTransitionTime: now},
		}
	}
	bj.Status.Ready = ptrTo(int32(0))
	bj.Status.Terminating = ptrTo(int32(0))
	if err := env.Client.Status().Update(context.Background(), bj); err != nil {
		t.Fatalf("mark worker Job %s finished: %v", bj.Name, err)
	}
}

// TestKubernetesExecutorAggregatesPartitions: with executor Kubernetes and parallelism
// 3, a run creates one Indexed Job owned by the job; once every partition has written
// (here Execute runs in the test, as the worker pods would) and the Job completes, the
// run's counts are the sum, equal to the expected set. A failed Job fails the run with
// the Job's reason.
func TestKubernetesExecutorAggregatesPartitions(t *testing.T) {
	p := smallPair(t, "rj-kube")
	p.Job.Spec.Execution = chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 3}
	p.Job.Spec.RunNonce = "one"
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	id := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "one"})
	waitRunning(t, p.Job, id)

	var bj batchv1.Job
	eventually(t, "worker Job", func() error {
		return env.Client.Get(context.Background(), types.NamespacedName{Namespace: "rj-kube", Name: kubejob.Name(id)}, &bj)
	})
	if *bj.Spec.Completions != 3 || *bj.Spec.Parallelism != 3 || bj.Annotations[kubejob.AnnotationRun] != id ||
		len(bj.OwnerReferences) != 1 || bj.OwnerReferences[0].UID != p.Job.UID {
		t.Fatalf("worker Job %+v", bj.ObjectMeta)
	}
	plan, err := kubejob.DecodePlan(envValue(bj, kubejob.EnvPlan))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		// What pod i runs: its partition, written to the store.
		if _, err := runner.Execute(context.Background(), plan, connect.FromEnv("X"), connect.FromEnv("X"),
			runner.Partition{RunID: id, Index: i, Count: 3}, mgr.Store); err != nil {
			t.Fatal(err)
		}
	}
	finishWorkerJob(t, &bj, false)
	j := waitRunEnded(t, p.Job, id)
	if l := j.Status.LastRun; l.Result != chv1.RunDiscrepant || l.Counts != counts(p) {
		t.Fatalf("lastRun %+v, want Discrepant with %+v", l, counts(p))
	}
	got, err := mgr.Store.Discrepancies(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	runnertest.Equal(t, runnertest.Lines(t, got), runnertest.Lines(t, p.ExpectedDiscrepancies(t)))

	// A worker Job that fails fails the run, naming the Job and its reason.
	setNonce(t, p.Job, "two")
	id2 := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "two"})
	waitRunning(t, p.Job, id2)
	eventually(t, "second worker Job", func() error {
		return env.Client.Get(context.Background(), types.NamespacedName{Namespace: "rj-kube", Name: kubejob.Name(id2)}, &bj)
	})
	finishWorkerJob(t, &bj, true)
	j = waitRunEnded(t, p.Job, id2)
	if l := j.Status.LastRun; l.Result != chv1.RunFailed || l.Message != "worker Job "+bj.Name+" failed (MaxFailedIndexesExceeded): Job has exceeded the specified maximal number of failed indexes" {
		t.Fatalf("lastRun %+v", l)
	}
	if got, want := runIDs(storeRuns(t, p.Job)), []string{id + "=discrepant", id2 + "=failed"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
}

func envValue(bj batchv1.Job, name string) string {
	for _, e := range bj.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// TestKubernetesRunReadBeforeItsLastPartition: the reconciler reads the run from the
// store before it reads the worker Job; the last partition may be written, and the Job
// complete, in between. The run must then be finished from what the store holds now,
// not failed for a partition that did write.
func TestKubernetesRunReadBeforeItsLastPartition(t *testing.T) {
	ns := "rj-kube-late"
	namespace(t, ns)
	ctx := context.Background()
	id := "late-uid-nabc"
	if err := mgr.Store.StartRun(ctx, store.Run{ID: id, Job: ns + "/late", Trigger: "Nonce", Partitions: 2, StartedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	read, err := mgr.Store.GetRun(ctx, id) // the reconciler's read: no partition yet
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := mgr.Store.WritePartition(ctx, store.Partition{RunID: id, Index: i, Summary: diff.Summary{Compared: 5, Matched: 5}}); err != nil {
			t.Fatal(err)
		}
	}
	bj := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: kubejob.Name(id)},
		Spec: batchv1.JobSpec{
			Completions: ptrTo(int32(2)), Parallelism: ptrTo(int32(2)), CompletionMode: ptrTo(batchv1.IndexedCompletion),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "worker", Image: "ghcr.io/clearhouse-dev/clearhouse:test"}},
			}},
		},
	}
	create(t, bj)
	finishWorkerJob(t, bj, false)
	ended, state, msg, err := controllers.ObserveKubernetesRun(ctx, env.Client, mgr.Store, ns, read)
	if err != nil || !ended || state != store.RunCompleted || msg != "" {
		t.Fatalf("observe = %v, %q, %q, %v; want ended Completed", ended, state, msg, err)
	}
}

// TestOrphanedRunWithEveryPartitionWrittenCompletes: a run nothing executes any more
// (its worker Job gone after its TTL while the manager was down, or an inline run whose
// manager died after writing) but whose partitions are all in the store compared every
// row: it finishes from the store, not Interrupted and compared again.
func TestOrphanedRunWithEveryPartitionWrittenCompletes(t *testing.T) {
	ns := "rj-orphan-written"
	namespace(t, ns)
	ctx := context.Background()
	for _, tc := range []struct {
		id      string
		written int
		want    store.RunState
	}{
		{"written-uid-nabc", 2, store.RunCompleted},
		{"half-uid-nabc", 1, store.RunInterrupted},
	} {
		if err := mgr.Store.StartRun(ctx, store.Run{ID: tc.id, Job: ns + "/j", Trigger: "Nonce", Partitions: 2, StartedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		for i := range tc.written {
			if err := mgr.Store.WritePartition(ctx, store.Partition{RunID: tc.id, Index: i, Summary: diff.Summary{Compared: 5, Matched: 5}}); err != nil {
				t.Fatal(err)
			}
		}
		read, err := mgr.Store.GetRun(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		ended, state, _, err := controllers.ObserveKubernetesRun(ctx, env.Client, mgr.Store, ns, read)
		if err != nil || !ended || state != tc.want {
			t.Errorf("%s with %d of 2 partitions: observe = %v, %q, %v; want ended %s", tc.id, tc.written, ended, state, err, tc.want)
		}
	}
}
