package controllers_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// TestScheduleProblemsNameTheirField: a bad time zone is reported on
// spec.timeZone (not spec.schedule) even when the job has a schedule, and a schedule
// that parses but never fires (February 30th) is InvalidSpec on spec.schedule. Found:
// the time zone's error was filed under spec.schedule, and a never-firing schedule hung
// the reconciler (trigger.Decide looped forever), so the job never got a status at all.
func TestScheduleProblemsNameTheirField(t *testing.T) {
	namespace(t, "rjcheck-schedule")
	ctx := context.Background()
	for _, tc := range []struct {
		name, schedule, zone, want string
	}{
		{"bad-zone", "0 18 * * *", "Europe/Londres", `spec.timeZone: unknown time zone "Europe/Londres"`},
		{"never-fires", "0 0 30 2 *", "Europe/Paris", `spec.schedule: cron expression "0 0 30 2 *" never fires`},
	} {
		job := &chv1.ReconciliationJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: "rjcheck-schedule", Name: tc.name},
			Spec: chv1.ReconciliationJobSpec{
				Source:   chv1.JobSide{DataSource: "ledger"},
				Target:   chv1.JobSide{DataSource: "bank"},
				Keys:     []chv1.KeyMapping{{Source: "id"}},
				Schedule: tc.schedule,
				TimeZone: tc.zone,
			},
		}
		if err := env.Client.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
		waitFor(t, job, func() error {
			return wantCondition(job, "Ready", metav1.ConditionFalse, chv1.ReasonInvalidSpec, tc.want)
		})
	}
}
