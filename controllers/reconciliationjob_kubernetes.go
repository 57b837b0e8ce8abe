package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// KubernetesExecutor runs a run as an Indexed batch/v1 Job owned by the
// ReconciliationJob (internal/kubejob). Each pod writes its partition to the store;
// when the Job completes the controller finishes the run, which sums the partitions (a
// retried pod replaced its own partition, so nothing counts twice).
type KubernetesExecutor struct {
	// Image of the worker pods; empty means this manager cannot run Kubernetes runs
	// (they fail saying so).
	Image string
	// ImagePullPolicy of the worker pods (empty: the cluster's default).
	ImagePullPolicy corev1.PullPolicy
	// StoreURI is the store the workers write to (passed as --store; no password).
	StoreURI string
	// StoreSecret holds the store URI with its password, given to workers as env;
	// it wins over StoreURI.
	StoreSecret *corev1.SecretKeySelector
}

// unavailable says why this manager cannot run Kubernetes runs ("" when it can).
func (k KubernetesExecutor) unavailable() string {
	switch {
	case k.Image == "":
		return "Kubernetes is not available: the manager runs without a worker image (--worker-image)"
	case k.StoreURI == "" && k.StoreSecret == nil:
		return "Kubernetes is not available: the manager has no store for workers (a PostgreSQL store: --worker-store-secret, --worker-store, or --store without a password; worker pods cannot reach the embedded SQLite store)"
	}
	return ""
}

// start creates the worker Job of run id.
func (k KubernetesExecutor) start(ctx context.Context, r *ReconciliationJobReconciler, job *chv1.ReconciliationJob, plan runner.Plan, id string, parts int) error {
	if problem := k.unavailable(); problem != "" {
		return errors.New(problem)
	}
	if err := k.checkStoreSecret(ctx, r, job.Namespace); err != nil {
		return err
	}
	// The workers read the DataSources' Secrets through env secretKeyRefs: a missing
	// Secret or key would hold every pod in CreateContainerConfigError until the run's
	// timeout. Resolving them here fails the run at once, naming the Secret and key.
	creds := connect.FromCluster(r.APIReader, job.Namespace)
	for _, ds := range []*chv1.DataSource{&plan.Source.DataSource, &plan.Target.DataSource} {
		if _, err := connect.Resolve(ctx, ds, creds); err != nil {
			return err
		}
	}
	bj, err := kubejob.Build(job, kubejob.Run{ID: id, Plan: plan, Image: k.Image, ImagePullPolicy: k.ImagePullPolicy,
		StoreURI: k.StoreURI, StoreSecret: k.StoreSecret, Partitions: int32(parts)})
	if err != nil {
		return fmt.Errorf("build the worker Job: %w", err)
	}
	if err := r.Create(ctx, bj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create worker Job %s: %w", bj.Name, err)
	}
	return nil
}

// checkStoreSecret makes sure the workers' store Secret, read from the job's own
// namespace, has its key: else no worker pod would ever start (the kubelet waits in
// CreateContainerConfigError) and the run would stay Running until its timeout, then
// fail saying only that the Job exceeded its deadline.
func (k KubernetesExecutor) checkStoreSecret(ctx context.Context, r *ReconciliationJobReconciler, ns string) error {
	ref := k.StoreSecret
	if ref == nil {
		return nil
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("the workers' store Secret %s/%s does not exist (--worker-store-secret: a Secret of that name must hold the store URI in each namespace where Kubernetes jobs run)", ns, ref.Name)
	case err != nil:
		return fmt.Errorf("read the workers' store Secret %s/%s: %w", ns, ref.Name, err)
	}
	if _, ok := s.Data[ref.Key]; !ok {
		return fmt.Errorf("the workers' store Secret %s/%s has no key %q (--worker-store-secret)", ns, ref.Name, ref.Key)
	}
	return nil
}

// workerJob finds the worker Job of a run; nil when there is none. A miss in the cache
// is confirmed against the API server (a Job created a moment ago may not be cached
// yet, and must not be taken for a lost run).
func (k KubernetesExecutor) workerJob(ctx context.Context, r *ReconciliationJobReconciler, ns, id string) (*batchv1.Job, error) {
	key := types.NamespacedName{Namespace: ns, Name: kubejob.Name(id)}
	for _, rd := range []client.Reader{r.Client, r.APIReader} {
		var bj batchv1.Job
		err := rd.Get(ctx, key, &bj)
		if err == nil {
			return &bj, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("read worker Job %s of run %s: %w", key.Name, id, err)
		}
	}
	return nil, nil
}

// observe says whether a running run that no inline worker of this manager runs has
// ended, and how: its worker Job completed or failed, or nothing runs it any more
// (an inline run of a manager that stopped, a worker Job deleted).
func (k KubernetesExecutor) observe(ctx context.Context, r *ReconciliationJobReconciler, job *chv1.ReconciliationJob, run store.Run) (bool, store.RunState, string, error) {
	bj, err := k.workerJob(ctx, r, job.Namespace, run.ID)
	if err != nil {
		return false, "", "", err
	}
	if bj == nil {
		// Every partition written means every row was compared (a worker Job removed
		// after its TTL while the manager was down, a manager that died after writing):
		// the run finishes from the store rather than being compared again.
		if fresh, err := r.Store.GetRun(ctx, run.ID); err != nil {
			return false, "", "", fmt.Errorf("read run %s: %w", run.ID, err)
		} else if fresh.PartitionsWritten >= fresh.Partitions {
			return true, store.RunCompleted, "", nil
		}
		return true, store.RunInterrupted, "no executor is running it any more (the manager restarted or its worker Job is gone)", nil
	}
	if c := jobCondition(bj, batchv1.JobFailed); c != nil {
		msg := fmt.Sprintf("worker Job %s failed (%s): %s", bj.Name, c.Reason, c.Message)
		if why := k.podFailure(ctx, r, bj, run.ID); why != "" {
			msg += "; " + why
		}
		return true, store.RunFailed, msg, nil
	}
	if jobCondition(bj, batchv1.JobComplete) == nil {
		return false, "", "", nil
	}
	// Every pod succeeded; the run's state follows from the sum of the partitions. A
	// partition that wrote nothing (a worker writing to another store) must not pass
	// for a balanced run. The run is read again: the caller read it before the Job,
	// and the last partition may have been written in between.
	id := run.ID
	if run, err = r.Store.GetRun(ctx, id); err != nil {
		return false, "", "", fmt.Errorf("read run %s: %w", id, err)
	}
	if run.PartitionsWritten < run.Partitions {
		return true, store.RunFailed, fmt.Sprintf("worker Job %s completed but only %d of %d partitions wrote their results to the store (do the workers use the manager's store?)",
			bj.Name, run.PartitionsWritten, run.Partitions), nil
	}
	return true, store.RunCompleted, "", nil
}

// maxPodFailure bounds what podFailure quotes of a worker's last words.
const maxPodFailure = 512

// podFailure says why the worker Job's last failed pod failed: its container's
// termination reason and exit code, and the last line of its termination message (the
// tail of its log, TerminationMessageFallbackToLogsOnError: the worker ends on its
// error, already free of credentials). The Job's own condition only says "Job has
// failed indexes", and the pods go with the Job at its TTL. "" when no failed pod
// says anything; a read error is not worth failing the observation for.
func (k KubernetesExecutor) podFailure(ctx context.Context, r *ReconciliationJobReconciler, bj *batchv1.Job, id string) string {
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, client.InNamespace(bj.Namespace),
		client.MatchingLabels{kubejob.LabelRun: kubejob.LabelValue(id), "batch.kubernetes.io/job-name": bj.Name}); err != nil {
		logf.FromContext(ctx).V(1).Info("list the pods of a failed worker Job", "job", bj.Name, "error", err.Error())
		return ""
	}
	var (
		last *corev1.Pod
		term *corev1.ContainerStateTerminated
	)
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Annotations[kubejob.AnnotationRun] != id {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			t := cs.State.Terminated
			if cs.Name != "worker" || t == nil || t.ExitCode == 0 {
				continue
			}
			if term == nil || t.FinishedAt.After(term.FinishedAt.Time) {
				last, term = p, t
			}
		}
	}
	if term == nil {
		return ""
	}
	why := fmt.Sprintf("pod %s: %s (exit code %d)", last.Name, term.Reason, term.ExitCode)
	if term.Reason == "" {
		why = fmt.Sprintf("pod %s: exit code %d", last.Name, term.ExitCode)
	}
	lines := strings.Split(strings.TrimSpace(term.Message), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		if len(l) > maxPodFailure {
			l = strings.ToValidUTF8(l[:maxPodFailure], "") + "…"
		}
		why += ": " + l
	}
	return why
}

func jobCondition(j *batchv1.Job, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == typ && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// stop deletes the worker Job of a run (and its pods), if there is one.
func (k KubernetesExecutor) stop(ctx context.Context, r *ReconciliationJobReconciler, job *chv1.ReconciliationJob, id string) error {
	bj, err := k.workerJob(ctx, r, job.Namespace, id)
	if err != nil || bj == nil {
		return err
	}
	if err := r.Delete(ctx, bj, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete worker Job %s: %w", bj.Name, err)
	}
	return nil
}

// watch makes the controller follow the worker Jobs it owns.
func (k KubernetesExecutor) watch(b *builder.Builder) *builder.Builder {
	return b.Owns(&batchv1.Job{})
}
