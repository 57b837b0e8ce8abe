package v1alpha1_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// TestWindowCarryForwardDefaultFromGoClient: a SettlementWindow created with the typed Go
// client and no carryForward must get the documented default (carry forward on), as one
// created from YAML does. A plain bool serialised enabled:false and switched it off.
func TestWindowCarryForwardDefaultFromGoClient(t *testing.T) {
	createNamespace(t, "swcheck-carry")
	ctx := context.Background()
	sw := &chv1.SettlementWindow{
		ObjectMeta: metav1.ObjectMeta{Namespace: "swcheck-carry", Name: "typed"},
		Spec: chv1.SettlementWindowSpec{
			Strategy: chv1.WindowScheduled,
			Schedule: "0 22 * * *",
			Duration: &metav1.Duration{Duration: 2 * time.Hour},
			Jobs:     chv1.WindowJobs{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"settlement": "daily"}}},
		},
	}
	if err := env.Client.Create(ctx, sw); err != nil {
		t.Fatal(err)
	}
	var got chv1.SettlementWindow
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: sw.Namespace, Name: sw.Name}, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Spec.CarryForward.IsEnabled() {
		t.Errorf("carryForward.enabled = %v after a typed create without carryForward, want the default true", got.Spec.CarryForward.IsEnabled())
	}
	// An explicit false still switches it off.
	off := false
	sw2 := sw.DeepCopy()
	sw2.ResourceVersion = ""
	sw2.Name = "typed-off"
	sw2.Spec.CarryForward.Enabled = &off
	if err := env.Client.Create(ctx, sw2); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: sw2.Namespace, Name: sw2.Name}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.CarryForward.IsEnabled() {
		t.Errorf("carryForward.enabled: explicit false read back as enabled")
	}
}

// TestWindowInvalidSpecsRejected: mistakes in a SettlementWindow the API server must
// reject, naming the field, rather than accept and ignore or fail later.
func TestWindowInvalidSpecsRejected(t *testing.T) {
	createNamespace(t, "swcheck-invalid")
	checkRejected(t, "swcheck-invalid", []invalidCase{
		// duration is the length of a recurring window; an activity window ends at
		// activityStart, so a duration on it was silently ignored.
		{"duration on an activity window", baseActivityWindow,
			[]edit{{"spec.duration", "2h"}},
			[]string{"spec.duration", "duration is only valid with strategy Scheduled"}},
		{"empty job name in after", baseWindow,
			[]edit{{"spec.jobs.order", []any{map[string]any{"job": "gl", "after": []any{""}}}}},
			[]string{"spec.jobs.order[0].after[0]", "at least 1 chars long"}},
		{"job runs after itself", baseWindow,
			[]edit{{"spec.jobs.order", []any{map[string]any{"job": "gl", "after": []any{"ledger", "gl"}}}}},
			[]string{"spec.jobs.order[0]", "a job cannot run after itself"}},
	})
}
