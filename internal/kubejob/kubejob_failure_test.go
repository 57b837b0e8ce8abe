package kubejob_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
)

// TestPlanTooLarge: a plan that stays too large once compressed is refused with
// a message naming the job and the sizes, never cut.
func TestPlanTooLarge(t *testing.T) {
	b := make([]byte, 100<<10)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	src, tgt := sources()
	src.Spec.PostgreSQL.Table, src.Spec.PostgreSQL.Query = "", "SELECT * FROM entries WHERE memo <> '"+hex.EncodeToString(b)+"'"
	plan, err := runner.PlanFor(job(), src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	_, err = kubejob.EncodePlan(plan)
	if err == nil || !strings.HasPrefix(err.Error(), "plan of job fin/payments is ") ||
		!strings.HasSuffix(err.Error(), fmt.Sprintf(" bytes compressed, more than the %d an environment variable holds", 120<<10)) {
		t.Fatalf("error %v", err)
	}
	if _, err := kubejob.Build(job(), kubejob.Run{ID: "r1", Plan: plan, Image: "img", StoreURI: "postgres://db/results"}); err == nil ||
		!strings.Contains(err.Error(), "an environment variable holds") {
		t.Errorf("Build: %v", err)
	}
}

// TestPodMeetsRestrictedPodSecurity: a worker pod, as the Job controller would
// create it from the template, is admitted in a namespace enforcing the "restricted"
// Pod Security Standard (the API server's own admission decides).
func TestPodMeetsRestrictedPodSecurity(t *testing.T) {
	ctx, c := apiServer(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fin", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	src, tgt := sources()
	j := job()
	plan, err := runner.PlanFor(j, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	built, err := kubejob.Build(j, kubejob.Run{ID: "r1", Plan: plan, Image: "img", StoreURI: "postgres://db/results"})
	if err != nil {
		t.Fatal(err)
	}
	tpl := built.Spec.Template
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: built.Name + "-0-abcde", Namespace: "fin", Labels: tpl.Labels}, Spec: tpl.Spec}
	pod.Spec.ServiceAccountName = "" // no such account in the test namespace but default
	if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Fatalf("restricted namespace refused the worker pod: %v", err)
	}
	// And a template weakened on purpose is refused, so the check above means something.
	pod.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	if err := c.Create(ctx, pod, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "allowPrivilegeEscalation") {
		t.Errorf("a weakened pod: %v", err)
	}
}

// TestDisruptedPodsKeepTheirRetries: a worker pod evicted by a node drain, preempted
// or removed by the taint manager (condition DisruptionTarget) is replaced without
// counting against its partition's backoffLimitPerIndex; under backoffLimitPerIndex 0
// it would otherwise fail the whole run though no partition failed. The API server
// accepts the policy beside backoffLimitPerIndex (TestAPIServerAccepts creates it).
func TestDisruptedPodsKeepTheirRetries(t *testing.T) {
	src, tgt := sources()
	j := job()
	j.Spec.Execution.BackoffLimitPerIndex = ptr.To[int32](0)
	plan, err := runner.PlanFor(j, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	built, err := kubejob.Build(j, kubejob.Run{ID: "r1", Plan: plan, Image: "img", StoreURI: "postgres://db/results"})
	if err != nil {
		t.Fatal(err)
	}
	want := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:          batchv1.PodFailurePolicyActionIgnore,
		OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
	}}}
	if got := built.Spec.PodFailurePolicy; !reflect.DeepEqual(got, want) {
		t.Errorf("podFailurePolicy %+v, want %+v", got, want)
	}
	if p := built.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s: a pod failure policy needs Never", p)
	}
}
