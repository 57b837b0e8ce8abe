// Package controllers holds one reconciler per Clearhouse kind. Each gathers its inputs,
// calls pure functions (in <kind>_status.go) that decide the status, and patches status
// once, only when it changed.
package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/window"
)

// patchStatus writes the status of obj if it differs from before, with a merge patch of
// the status subresource (no write, no event storm, when nothing changed).
func patchStatus(ctx context.Context, c client.Client, before, obj client.Object) error {
	if equality.Semantic.DeepEqual(before, obj) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("patch status of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// condition builds a condition for the given generation.
func condition(typ string, status metav1.ConditionStatus, reason, message string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: gen}
}

// setConditions applies conds, keeping LastTransitionTime when a status did not change.
func setConditions(conds *[]metav1.Condition, set ...metav1.Condition) {
	for _, c := range set {
		meta.SetStatusCondition(conds, c)
	}
}

// specProblems joins validation problems into one condition message.
func specProblems(problems []string) string {
	return strings.Join(problems, "; ")
}

// readiness is the Ready condition shared by the kinds until their controllers act:
// InvalidSpec when the spec cannot be honoured, else NotImplemented (never a pretend
// success).
func readiness(problems []string, gen int64, notYet string) metav1.Condition {
	if len(problems) > 0 {
		return condition(chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonInvalidSpec, specProblems(problems), gen)
	}
	return condition(chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonNotImplemented, notYet, gen)
}

// unknownUntilImplemented is the first-visit value of a condition whose controller
// logic arrives with a later issue.
func unknownUntilImplemented(typ string, gen int64) metav1.Condition {
	return condition(typ, metav1.ConditionUnknown, chv1.ReasonNotImplemented, "not evaluated yet by this version of the operator", gen)
}

// scheduleProblems checks a cron schedule in its time zone, or the time zone alone when
// there is no schedule, naming the field at fault. A schedule that parses but never fires
// (February 30th) is a problem too: it would never run, silently.
func scheduleProblems(schedule, timeZone string) []string {
	if _, err := window.LoadLocation(timeZone); err != nil {
		return []string{fmt.Sprintf("spec.timeZone: %v", err)}
	}
	if schedule == "" {
		return nil
	}
	s, err := window.ParseSchedule(schedule, timeZone)
	if err != nil {
		return []string{fmt.Sprintf("spec.schedule: %v", err)}
	}
	// From a fixed instant, so that validity does not depend on the clock; the cron
	// library looks five years ahead, which covers February 29th.
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return []string{fmt.Sprintf("spec.schedule: cron expression %q never fires", schedule)}
	}
	return nil
}
