package controllers

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/window"
)

// windowInputs is what the window reconciler gathers before deciding.
type windowInputs struct {
	window *chv1.SettlementWindow
	// jobs are the names of the ReconciliationJobs the selector matches.
	jobs []string
	// selectorErr is set when spec.jobs.selector is not a valid selector.
	selectorErr error
}

// validateWindow checks what the schema cannot: schedule, time zone, selector and a
// dependency order that names matched jobs and has no cycle.
func validateWindow(in windowInputs) []string {
	var problems []string
	spec := in.window.Spec
	problems = append(problems, scheduleProblems(spec.Schedule, spec.TimeZone)...)
	if in.selectorErr != nil {
		problems = append(problems, fmt.Sprintf("spec.jobs.selector: %v", in.selectorErr))
		return problems
	}
	deps := make([]window.Dependency, 0, len(spec.Jobs.Order))
	for _, d := range spec.Jobs.Order {
		deps = append(deps, window.Dependency{Job: d.Job, After: d.After})
	}
	if _, err := window.Stages(in.jobs, deps); err != nil {
		problems = append(problems, fmt.Sprintf("spec.jobs.order: %v", err))
	}
	return problems
}

// windowStatus computes the status of a SettlementWindow.
func windowStatus(in windowInputs) chv1.SettlementWindowStatus {
	st := *in.window.Status.DeepCopy()
	gen := in.window.Generation
	st.ObservedGeneration = gen
	setConditions(&st.Conditions,
		readiness(validateWindow(in), gen, "opening and settling windows is not implemented yet"),
		condition(chv1.WindowOpen, metav1.ConditionFalse, chv1.ReasonNotImplemented, "windows are not opened by this version of the operator", gen),
		unknownUntilImplemented(chv1.WindowSettled, gen),
	)
	return st
}
