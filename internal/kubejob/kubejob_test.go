package kubejob_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

func sources() (*chv1.DataSource, *chv1.DataSource) {
	src := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Name: "ledger", Namespace: "fin"},
		Spec: chv1.DataSourceSpec{
			Type: chv1.DataSourcePostgreSQL,
			PostgreSQL: &chv1.SQLSource{Host: "ledger-db", Database: "ledger", Table: "entries",
				SecretRef: chv1.CredentialsSecretRef{Name: "ledger-creds", UsernameKey: "user", PasswordKey: "pass"}},
			KeyColumns: []string{"id"},
		},
	}
	tgt := &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Name: "bank", Namespace: "fin"},
		Spec: chv1.DataSourceSpec{
			Type: chv1.DataSourceMySQL,
			MySQL: &chv1.SQLSource{Host: "bank-db", Database: "bank", Table: "settlements",
				SecretRef: chv1.CredentialsSecretRef{Name: "bank-creds"}},
			KeyColumns: []string{"id"},
		},
	}
	return src, tgt
}

func job() *chv1.ReconciliationJob {
	return &chv1.ReconciliationJob{
		ObjectMeta: metav1.ObjectMeta{Name: "payments", Namespace: "fin", UID: "0d9f6c51-3a8e-4f0e-9d8b-6f4a2b1c7e55"},
		Spec: chv1.ReconciliationJobSpec{
			Source:  chv1.JobSide{DataSource: "ledger"},
			Target:  chv1.JobSide{DataSource: "bank"},
			Keys:    []chv1.KeyMapping{{Source: "id"}},
			Compare: []chv1.ColumnComparison{{Source: "amount", Type: chv1.ColumnDecimal}},
			Execution: chv1.Execution{
				Executor:    chv1.ExecutorKubernetes,
				Parallelism: 3,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				ServiceAccountName:      "clearhouse-worker",
				TTLSecondsAfterFinished: ptr.To[int32](600),
				BackoffLimitPerIndex:    ptr.To[int32](4),
			},
		},
	}
}

// TestBuild asserts the whole Job: the partitions, the worker's arguments and
// environment (plan, index, credentials from Secrets, store from a Secret), owner,
// labels, TTL, retries, resources, service account and the locked-down pod.
func TestBuild(t *testing.T) {
	src, tgt := sources()
	j := job()
	j.Spec.Limits.Timeout = &metav1.Duration{Duration: 90 * time.Minute}
	plan, err := runner.PlanFor(j, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	const runID = "fin/payments@Nonce:deploy-42"
	got, err := kubejob.Build(j, kubejob.Run{
		ID: runID, Plan: plan, Image: "ghcr.io/clearhouse-dev/clearhouse:v0.1.0",
		StoreSecret: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "results"}, Key: "uri"},
	})
	if err != nil {
		t.Fatal(err)
	}
	planJSON, _ := json.Marshal(plan)
	secretEnv := func(name, secret, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
	}
	labels := map[string]string{
		"app.kubernetes.io/name": "clearhouse", "app.kubernetes.io/component": "worker", "app.kubernetes.io/managed-by": "clearhouse",
		"clearhouse.dev/job": "payments", "clearhouse.dev/run": "fin-payments-nonce-deploy-42-fd54125a",
	}
	want := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "ch-fin-payments-nonce-deploy-42-fd54125a", Namespace: "fin", Labels: labels,
			Annotations: map[string]string{"clearhouse.dev/run-id": runID},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "clearhouse.dev/v1alpha1", Kind: "ReconciliationJob",
				Name: "payments", UID: j.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion), Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](3),
			BackoffLimitPerIndex: ptr.To[int32](4), MaxFailedIndexes: ptr.To[int32](0),
			PodReplacementPolicy: ptr.To(batchv1.Failed), TTLSecondsAfterFinished: ptr.To[int32](600),
			ActiveDeadlineSeconds: ptr.To[int64](5400), // spec.limits.timeout
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:          batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
			}}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"clearhouse.dev/run-id": runID}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, ServiceAccountName: "clearhouse-worker",
					AutomountServiceAccountToken: ptr.To(false), EnableServiceLinks: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: "worker", Image: "ghcr.io/clearhouse-dev/clearhouse:v0.1.0",
						Args: []string{"worker", "--run", runID, "--partitions", "3"},
						Env: []corev1.EnvVar{
							{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1",
								FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
							{Name: "CLEARHOUSE_PLAN", Value: string(planJSON)},
							{Name: "TMPDIR", Value: "/tmp"},
							secretEnv("CLEARHOUSE_STORE", "results", "uri"),
							secretEnv("CLEARHOUSE_SOURCE_USERNAME", "ledger-creds", "user"),
							secretEnv("CLEARHOUSE_SOURCE_PASSWORD", "ledger-creds", "pass"),
							secretEnv("CLEARHOUSE_TARGET_USERNAME", "bank-creds", "username"),
							secretEnv("CLEARHOUSE_TARGET_PASSWORD", "bank-creds", "password"),
						},
						Resources: j.Spec.Execution.Resources,
						SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						VolumeMounts:             []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
					}},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
	if !equality.Semantic.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("job\n%s\nwant\n%s", g, w)
	}
	back, err := kubejob.DecodePlan(got.Spec.Template.Spec.Containers[0].Env[1].Value)
	if err != nil || !reflect.DeepEqual(back, plan) {
		t.Errorf("decoded plan %+v (%v), want %+v", back, err, plan)
	}
	if got.Name != kubejob.Name(runID) || len(kubejob.Name(strings.Repeat("x", 300))) > kubejob.MaxNameLength {
		t.Errorf("names are not deterministic or too long")
	}
}

// TestBuildDefaults: a job built in Go (no API defaults) gets the API's defaults, a
// store URI goes on the command line, and file sources without a secret get no env.
func TestBuildDefaults(t *testing.T) {
	j := job()
	j.Spec.Execution = chv1.Execution{}
	src, tgt := sources()
	src.Spec.PostgreSQL, src.Spec.Type = nil, chv1.DataSourceFile
	src.Spec.File = &chv1.FileSource{URL: "file:///data/ledger.csv"}
	plan, err := runner.PlanFor(j, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kubejob.Build(j, kubejob.Run{ID: "r1", Plan: plan, Image: "img", StoreURI: "postgres://results-db/results"})
	if err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	if *s.Completions != 1 || *s.Parallelism != 1 || *s.TTLSecondsAfterFinished != 3600 || *s.BackoffLimitPerIndex != 2 || s.ActiveDeadlineSeconds != nil {
		t.Errorf("defaults: completions %d parallelism %d ttl %d backoff %d deadline %v", *s.Completions, *s.Parallelism, *s.TTLSecondsAfterFinished, *s.BackoffLimitPerIndex, s.ActiveDeadlineSeconds)
	}
	c := s.Template.Spec.Containers[0]
	if strings.Join(c.Args, " ") != "worker --run r1 --partitions 1 --store postgres://results-db/results" {
		t.Errorf("args %q", c.Args)
	}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "JOB_COMPLETION_INDEX,CLEARHOUSE_PLAN,TMPDIR,CLEARHOUSE_TARGET_USERNAME,CLEARHOUSE_TARGET_PASSWORD" {
		t.Errorf("env %v", names)
	}
	for _, tc := range []struct {
		mutate func(*chv1.ReconciliationJob, *kubejob.Run)
		want   string
	}{
		{func(j *chv1.ReconciliationJob, _ *kubejob.Run) { j.UID = "" }, "kubejob: ReconciliationJob fin/payments has no uid (read it from the API server)"},
		{func(_ *chv1.ReconciliationJob, r *kubejob.Run) { r.Image = "" }, "kubejob: no worker image"},
		{func(_ *chv1.ReconciliationJob, r *kubejob.Run) { r.StoreURI = "" }, "kubejob: no results store (StoreURI or StoreSecret)"},
		{func(_ *chv1.ReconciliationJob, r *kubejob.Run) { r.ID = "" }, "kubejob: run has no id"},
		{func(_ *chv1.ReconciliationJob, r *kubejob.Run) { r.StoreURI = "postgres://u:pw@db/results" },
			"kubejob: the store URI carries a password; give it as StoreSecret"},
		{func(_ *chv1.ReconciliationJob, r *kubejob.Run) {
			r.StoreURI = "postgres://u@db/results?password=pw&sslmode=require"
		}, "kubejob: the store URI carries a password; give it as StoreSecret"},
	} {
		jj, run := job(), kubejob.Run{ID: "r1", Plan: plan, Image: "img", StoreURI: "sqlite:/x.db"}
		tc.mutate(jj, &run)
		if _, err := kubejob.Build(jj, run); err == nil || err.Error() != tc.want {
			t.Errorf("error %v, want %s", err, tc.want)
		}
	}
}

// TestPlanEncoding: large plans travel gzipped and come back the same.
func TestPlanEncoding(t *testing.T) {
	src, tgt := sources()
	src.Spec.PostgreSQL.Table, src.Spec.PostgreSQL.Query = "", "SELECT * FROM entries WHERE "+strings.Repeat("memo <> 'x' AND ", 4000)+"true"
	plan, err := runner.PlanFor(job(), src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kubejob.EncodePlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "gz:") || len(s) > 32<<10 {
		t.Errorf("a %d-byte query was not compressed (%d bytes)", len(src.Spec.PostgreSQL.Query), len(s))
	}
	back, err := kubejob.DecodePlan(s)
	if err != nil || !reflect.DeepEqual(back, plan) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := kubejob.DecodePlan(`{"job":"x","bogus":1}`); err == nil || !strings.Contains(err.Error(), `unknown field "bogus"`) {
		t.Errorf("unknown field: %v", err)
	}
}

// TestAPIServerAccepts creates the Job on a real API server, owned by a real
// ReconciliationJob, and reads back what it stored.
func TestAPIServerAccepts(t *testing.T) {
	ctx, c := apiServer(t)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fin"}}); err != nil {
		t.Fatal(err)
	}
	j := job()
	j.UID = ""
	if err := c.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	src, tgt := sources()
	plan, err := runner.PlanFor(j, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	built, err := kubejob.Build(j, kubejob.Run{ID: "fin/payments@Schedule:2026-11-21T07:00:00Z", Plan: plan, Image: "ghcr.io/clearhouse-dev/clearhouse:v0.1.0",
		StoreSecret: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "results"}, Key: "uri"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, built.DeepCopy()); err != nil {
		t.Fatalf("the API server refused the Job: %v", err)
	}
	var stored batchv1.Job
	if err := c.Get(ctx, client.ObjectKeyFromObject(built), &stored); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(stored.Spec.Template.Spec.Containers[0].Env, built.Spec.Template.Spec.Containers[0].Env) ||
		*stored.Spec.Completions != 3 || *stored.Spec.BackoffLimitPerIndex != 4 || *stored.Spec.CompletionMode != batchv1.IndexedCompletion ||
		stored.OwnerReferences[0].UID != j.UID {
		t.Errorf("stored job differs: %+v", stored.Spec)
	}
}

// TestBuildCAFromSecret: a Kafka source with a private CA gives the worker the CA's
// certificates from their Secret key (the variable connect.FromEnv reads), beside the
// credentials; never their contents in the pod spec.
func TestBuildCAFromSecret(t *testing.T) {
	j := job()
	src, tgt := sources()
	src.Spec.PostgreSQL, src.Spec.Type = nil, chv1.DataSourceKafka
	src.Spec.Kafka = &chv1.KafkaSource{BootstrapServers: []string{"events-kafka-bootstrap:9093"}, Topic: "payments", TLS: true,
		SecretRef:   &chv1.CredentialsSecretRef{Name: "kafka-reader"},
		CASecretRef: &chv1.SecretKeyRef{Name: "events-cluster-ca-cert", Key: "ca.crt"}}
	plan, err := runner.PlanFor(j, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kubejob.Build(j, kubejob.Run{ID: "r1", Plan: plan, Image: "img", StoreURI: "postgres://results-db/results"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"CLEARHOUSE_SOURCE_USERNAME": "kafka-reader/username",
		"CLEARHOUSE_SOURCE_PASSWORD": "kafka-reader/password",
		"CLEARHOUSE_SOURCE_CA_FILE":  "= /etc/clearhouse/source/ca.crt",
		"CLEARHOUSE_TARGET_USERNAME": "bank-creds/username",
		"CLEARHOUSE_TARGET_PASSWORD": "bank-creds/password",
	}
	pod := got.Spec.Template.Spec
	gotEnv := map[string]string{}
	for _, e := range pod.Containers[0].Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			gotEnv[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case strings.HasSuffix(e.Name, "_CA_FILE"):
			gotEnv[e.Name] = "= " + e.Value
		}
	}
	if !reflect.DeepEqual(gotEnv, want) {
		t.Errorf("env %v, want %v", gotEnv, want)
	}
	// The CA is a file from the Secret key (a bundle may pass the 128 KiB a variable holds).
	wantVol := corev1.Volume{Name: "source-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "events-cluster-ca-cert", Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}}}
	wantMount := corev1.VolumeMount{Name: "source-ca", MountPath: "/etc/clearhouse/source", ReadOnly: true}
	if len(pod.Volumes) != 2 || !reflect.DeepEqual(pod.Volumes[1], wantVol) {
		t.Errorf("volumes %+v, want tmp and %+v", pod.Volumes, wantVol)
	}
	if m := pod.Containers[0].VolumeMounts; len(m) != 2 || !reflect.DeepEqual(m[1], wantMount) {
		t.Errorf("mounts %+v, want tmp and %+v", m, wantMount)
	}
}

// apiServer starts a test API server for the test and returns a context bounded to two
// minutes and a client of it.
func apiServer(t *testing.T) (context.Context, client.Client) {
	t.Helper()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx, env.Client
}
