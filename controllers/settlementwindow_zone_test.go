package controllers_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// TestWindowTimeZoneNamed: a bad time zone on a scheduled window is reported
// against spec.timeZone (not spec.schedule, which is fine), and "Local" is refused.
func TestWindowTimeZoneNamed(t *testing.T) {
	namespace(t, "swcheck-tz")
	ctx := context.Background()
	sw := &chv1.SettlementWindow{
		ObjectMeta: metav1.ObjectMeta{Namespace: "swcheck-tz", Name: "eod"},
		Spec: chv1.SettlementWindowSpec{
			Strategy: chv1.WindowScheduled,
			Schedule: "0 22 * * *",
			TimeZone: "Europe/Berln",
			Duration: &metav1.Duration{Duration: 2 * time.Hour},
			Jobs:     chv1.WindowJobs{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"settle": "eod"}}},
		},
	}
	if err := env.Client.Create(ctx, sw); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sw, func() error {
		return wantCondition(sw, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec, `spec.timeZone: unknown time zone "Europe/Berln"`)
	})
	sw.Spec.TimeZone = "Local"
	if err := env.Client.Update(ctx, sw); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sw, func() error {
		return wantCondition(sw, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec, `spec.timeZone: time zone "Local" is the manager host's zone`)
	})
}

// TestWindowJobDeleted: deleting a job the order names makes the window report it
// at once (the window watches jobs), and re-creating it clears the problem.
func TestWindowJobDeleted(t *testing.T) {
	namespace(t, "swcheck-del")
	ctx := context.Background()
	job := func(name string) *chv1.ReconciliationJob {
		return &chv1.ReconciliationJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: "swcheck-del", Name: name, Labels: map[string]string{"settle": "eod"}},
			Spec: chv1.ReconciliationJobSpec{
				Source: chv1.JobSide{DataSource: "ledger"},
				Target: chv1.JobSide{DataSource: "bank"},
				Keys:   []chv1.KeyMapping{{Source: "id"}},
			},
		}
	}
	for _, n := range []string{"ledger-vs-bank", "fees"} {
		if err := env.Client.Create(ctx, job(n)); err != nil {
			t.Fatal(err)
		}
	}
	sw := &chv1.SettlementWindow{
		ObjectMeta: metav1.ObjectMeta{Namespace: "swcheck-del", Name: "eod"},
		Spec: chv1.SettlementWindowSpec{
			Strategy: chv1.WindowScheduled,
			Schedule: "0 22 * * *",
			Duration: &metav1.Duration{Duration: 2 * time.Hour},
			Jobs: chv1.WindowJobs{
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"settle": "eod"}},
				Order:    []chv1.JobDependency{{Job: "ledger-vs-bank", After: []string{"fees"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, sw); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sw, func() error {
		return wantCondition(sw, "Ready", metav1.ConditionFalse, chv1.ReasonNotImplemented, "")
	})
	if err := env.Client.Delete(ctx, job("fees")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sw, func() error {
		return wantCondition(sw, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec,
			`spec.jobs.order: job "ledger-vs-bank" runs after "fees", which the selector does not match`)
	})
	if err := env.Client.Create(ctx, job("fees")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sw, func() error {
		return wantCondition(sw, "Ready", metav1.ConditionFalse, chv1.ReasonNotImplemented, "")
	})
}
