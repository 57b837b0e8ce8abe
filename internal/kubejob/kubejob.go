// Package kubejob renders the Indexed batch/v1 Job that runs a ReconciliationJob's run
// on Kubernetes: one pod per partition, each running `clearhouse worker` for the
// partition its JOB_COMPLETION_INDEX names, with the plan in its environment and the
// DataSources' credentials as env from their Secrets (never in the Job itself).
package kubejob

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
)

// Labels and annotations of worker Jobs and their pods.
const (
	LabelJob = "clearhouse.dev/job" // the ReconciliationJob's name (hashed when too long)
	LabelRun = "clearhouse.dev/run" // the run id (hashed when not a valid label value)
	// AnnotationRun holds the exact run id.
	AnnotationRun = "clearhouse.dev/run-id"
)

// Environment variables of the worker container.
const (
	EnvPlan            = "CLEARHOUSE_PLAN"
	EnvStore           = "CLEARHOUSE_STORE"
	EnvSourcePrefix    = "CLEARHOUSE_SOURCE" // + _USERNAME, _PASSWORD (connect.FromEnv)
	EnvTargetPrefix    = "CLEARHOUSE_TARGET"
	EnvCompletionIndex = "JOB_COMPLETION_INDEX"
)

// Defaults for a job built in Go, matching the API server's defaults.
const (
	DefaultTTLSeconds           int32 = 3600
	DefaultBackoffLimitPerIndex int32 = 2
	// MaxNameLength keeps "<name>-<index>" pod host names within 63 characters.
	MaxNameLength = 52
)

// maxPlanEnv is the largest encoded plan Build puts in an env var: Linux refuses an
// exec whose single environment string exceeds 128 KiB.
const maxPlanEnv = 120 << 10

// Run is one run to execute as a worker Job.
type Run struct {
	// ID of the run in the results store (the controller has started it).
	ID string
	// Plan of the run (runner.PlanFor).
	Plan runner.Plan
	// Image of the worker (the clearhouse image; its entrypoint is the binary).
	Image string
	// ImagePullPolicy of the worker (empty: the cluster's default).
	ImagePullPolicy corev1.PullPolicy
	// StoreURI is passed as --store when StoreSecret is nil; it must not carry a
	// password.
	StoreURI string
	// StoreSecret is the Secret key holding the store URI (with its password), given
	// to the worker as CLEARHOUSE_STORE.
	StoreSecret *corev1.SecretKeySelector
	// Partitions overrides the number of partitions (0: Partitions(job)).
	Partitions int32
}

// Partitions is the number of partitions (pods) a job's runs use on Kubernetes:
// spec.execution.parallelism, at least 1.
func Partitions(job *chv1.ReconciliationJob) int32 {
	return max(1, job.Spec.Execution.Parallelism)
}

// Name is the worker Job's name for a run id: deterministic (a restarted controller
// finds the Job it created), at most MaxNameLength characters, a DNS label.
func Name(runID string) string {
	sum := sha256.Sum256([]byte(runID))
	suffix := hex.EncodeToString(sum[:4])
	base := sanitize(runID, MaxNameLength-len(suffix)-len("ch--"))
	if base == "" {
		return "ch-" + suffix
	}
	return "ch-" + base + "-" + suffix
}

var notLabelChar = regexp.MustCompile(`[^a-z0-9-]+`)

// sanitize lower-cases s, turns runs of other characters into '-' and trims it to n
// characters without leading or trailing '-'.
func sanitize(s string, n int) string {
	s = notLabelChar.ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > n {
		s = s[:n]
	}
	return strings.Trim(s, "-")
}

var labelValue = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)

// LabelValue returns s when it is a valid label value, else a sanitized prefix and a
// hash of s, so that the value is stable and still distinguishes.
func LabelValue(s string) string {
	if len(s) <= 63 && labelValue.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return sanitize(s, 63-9) + "-" + hex.EncodeToString(sum[:4])
}

// Labels are the labels of a run's worker Job and pods.
func Labels(job *chv1.ReconciliationJob, runID string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       "clearhouse",
		"app.kubernetes.io/component":  "worker",
		"app.kubernetes.io/managed-by": "clearhouse",
		LabelJob:                       LabelValue(job.Name),
		LabelRun:                       LabelValue(runID),
	}
}

// Build renders the Indexed Job of run: completions = parallelism = partitions,
// backoffLimitPerIndex (a failed partition is retried alone; a second attempt starts
// only once the first pod is gone; a pod disrupted by the cluster is not counted),
// maxFailedIndexes 0 (one partition out of retries
// fails the run at once), TTL, resources and service account from
// spec.execution, owned by job (controller), with a locked-down pod.
func Build(job *chv1.ReconciliationJob, run Run) (*batchv1.Job, error) {
	switch {
	case job == nil:
		return nil, errors.New("kubejob: no ReconciliationJob")
	case job.UID == "":
		return nil, fmt.Errorf("kubejob: ReconciliationJob %s/%s has no uid (read it from the API server)", job.Namespace, job.Name)
	case run.ID == "":
		return nil, errors.New("kubejob: run has no id")
	case run.Image == "":
		return nil, errors.New("kubejob: no worker image")
	case run.StoreURI == "" && run.StoreSecret == nil:
		return nil, errors.New("kubejob: no results store (StoreURI or StoreSecret)")
	case run.StoreSecret == nil && redact.HasPassword(run.StoreURI):
		// It would sit in the Job's arguments, readable by anyone who can read Jobs.
		return nil, errors.New("kubejob: the store URI carries a password; give it as StoreSecret")
	}
	n := run.Partitions
	if n == 0 {
		n = Partitions(job)
	}
	if n < 1 {
		return nil, fmt.Errorf("kubejob: %d partitions", n)
	}
	plan, err := EncodePlan(run.Plan)
	if err != nil {
		return nil, err
	}
	ex := job.Spec.Execution
	ttl, backoff := ptr.To(DefaultTTLSeconds), ptr.To(DefaultBackoffLimitPerIndex)
	if ex.TTLSecondsAfterFinished != nil {
		ttl = ptr.To(*ex.TTLSecondsAfterFinished)
	}
	if ex.BackoffLimitPerIndex != nil {
		backoff = ptr.To(*ex.BackoffLimitPerIndex)
	}
	// The run's timeout bounds the whole Job, pods waiting to be scheduled or pulled
	// and retried partitions included: a pod that never starts fails the run
	// (DeadlineExceeded) instead of keeping it Running, and every later trigger
	// skipped under Forbid, for ever.
	var deadline *int64
	if t := run.Plan.Timeout; t > 0 {
		deadline = ptr.To(int64(math.Ceil(t.Seconds())))
	}

	args := []string{"worker", "--run", run.ID, "--partitions", strconv.Itoa(int(n))}
	env := []corev1.EnvVar{
		{Name: EnvCompletionIndex, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1",
			FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
		{Name: EnvPlan, Value: plan},
		{Name: "TMPDIR", Value: "/tmp"},
	}
	if run.StoreSecret != nil {
		env = append(env, corev1.EnvVar{Name: EnvStore, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: run.StoreSecret.DeepCopy()}})
	} else {
		args = append(args, "--store", run.StoreURI)
	}
	volumes := []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	for _, side := range []struct {
		prefix, name string
		ds           *chv1.DataSource
	}{{EnvSourcePrefix, "source", &run.Plan.Source.DataSource}, {EnvTargetPrefix, "target", &run.Plan.Target.DataSource}} {
		env = append(env, credentialEnv(side.prefix, side.ds)...)
		if ref := connect.CASecretRef(side.ds); ref != nil {
			// A file, not a variable: a CA bundle may be larger than the 128 KiB a
			// variable may hold.
			vol, dir := side.name+"-ca", caDir+side.name
			volumes = append(volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: ref.Name, Items: []corev1.KeyToPath{{Key: ref.Key, Path: "ca.crt"}}}}})
			mounts = append(mounts, corev1.VolumeMount{Name: vol, MountPath: dir, ReadOnly: true})
			env = append(env, corev1.EnvVar{Name: side.prefix + "_CA_FILE", Value: dir + "/ca.crt"})
		}
	}

	labels := Labels(job, run.ID)
	podLabels := make(map[string]string, len(labels))
	for k, v := range labels {
		podLabels[k] = v
	}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        Name(run.ID),
			Namespace:   job.Namespace,
			Labels:      labels,
			Annotations: map[string]string{AnnotationRun: run.ID},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         chv1.GroupVersion.String(),
				Kind:               "ReconciliationJob",
				Name:               job.Name,
				UID:                job.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: batchv1.JobSpec{
			CompletionMode:       ptr.To(batchv1.IndexedCompletion),
			Completions:          ptr.To(n),
			Parallelism:          ptr.To(n),
			BackoffLimitPerIndex: backoff,
			MaxFailedIndexes:     ptr.To[int32](0),
			PodReplacementPolicy: ptr.To(batchv1.Failed),
			// A pod the cluster took away (node drain, preemption, taint eviction) did not
			// fail its partition: its replacement must not use up the partition's retries,
			// nor fail the run at once under backoffLimitPerIndex 0.
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:          batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
			}}},
			TTLSecondsAfterFinished: ttl,
			ActiveDeadlineSeconds:   deadline,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: map[string]string{AnnotationRun: run.ID}},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					ServiceAccountName:           ex.ServiceAccountName,
					AutomountServiceAccountToken: ptr.To(false), // the worker never calls the API
					EnableServiceLinks:           ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "worker",
						Image:           run.Image,
						ImagePullPolicy: run.ImagePullPolicy,
						Args:            args,
						Env:             env,
						Resources:       *ex.Resources.DeepCopy(),
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             ptr.To(true),
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts:             mounts,
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					}},
					Volumes: volumes,
				},
			},
		},
	}, nil
}

// caDir is where a worker finds a side's CA certificates (caDir + "source" or "target",
// file ca.crt), mounted from the caSecretRef's Secret key.
const caDir = "/etc/clearhouse/"

// credentialEnv gives the worker a DataSource's user name and password from its
// Secret, under the names connect.FromEnv(prefix) reads.
func credentialEnv(prefix string, ds *chv1.DataSource) []corev1.EnvVar {
	ref := connect.SecretRef(ds)
	if ref == nil {
		return nil
	}
	user, pass := connect.Keys(*ref)
	from := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: key}}
	}
	return []corev1.EnvVar{
		{Name: prefix + "_USERNAME", ValueFrom: from(user)},
		{Name: prefix + "_PASSWORD", ValueFrom: from(pass)},
	}
}

// gzPrefix marks a compressed plan: plans past plainPlan bytes (long SQL queries,
// hundreds of columns) travel gzipped and base64-encoded.
const (
	gzPrefix  = "gz:"
	plainPlan = 32 << 10
)

// EncodePlan renders a plan for the CLEARHOUSE_PLAN variable: JSON, gzipped past
// 32 KiB; an error when even that exceeds what an env var can hold.
func EncodePlan(p runner.Plan) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode plan: %w", err)
	}
	if len(b) <= plainPlan {
		return string(b), nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return "", fmt.Errorf("compress plan: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("compress plan: %w", err)
	}
	s := gzPrefix + base64.StdEncoding.EncodeToString(buf.Bytes())
	if len(s) > maxPlanEnv {
		return "", fmt.Errorf("plan of job %s is %d bytes compressed, more than the %d an environment variable holds", p.Job, len(s), maxPlanEnv)
	}
	return s, nil
}

// DecodePlan reads what EncodePlan wrote (or a plan file's JSON).
func DecodePlan(s string) (runner.Plan, error) {
	var p runner.Plan
	b := []byte(s)
	if rest, ok := strings.CutPrefix(s, gzPrefix); ok {
		z, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return p, fmt.Errorf("decode plan: %w", err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			return p, fmt.Errorf("decode plan: %w", err)
		}
		if b, err = io.ReadAll(io.LimitReader(zr, 64<<20)); err != nil {
			return p, fmt.Errorf("decode plan: %w", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a plan from a newer manager is refused, not half-read
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("decode plan: %w", err)
	}
	return p, nil
}
