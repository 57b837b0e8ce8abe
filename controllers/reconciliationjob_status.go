package controllers

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// jobInputs is what the job reconciler gathers before deciding.
type jobInputs struct {
	job *chv1.ReconciliationJob
	// missing lists "source"/"target" sides whose DataSource does not exist.
	missing map[string]string
}

// validateJob checks what the schema cannot: the schedule and its time zone, and that
// both DataSources exist.
func validateJob(in jobInputs) []string {
	var problems []string
	spec := in.job.Spec
	problems = append(problems, scheduleProblems(spec.Schedule, spec.TimeZone)...)
	for _, side := range []string{"source", "target"} {
		if name, ok := in.missing[side]; ok {
			problems = append(problems, fmt.Sprintf("spec.%s.dataSource: DataSource %q not found", side, name))
		}
	}
	return problems
}

// jobStatus computes the status of a ReconciliationJob.
func jobStatus(in jobInputs) chv1.ReconciliationJobStatus {
	st := *in.job.Status.DeepCopy()
	gen := in.job.Generation
	st.ObservedGeneration = gen
	setConditions(&st.Conditions,
		readiness(validateJob(in), gen, "running comparisons is not implemented yet"),
		condition(chv1.JobRunning, metav1.ConditionFalse, chv1.ReasonNotImplemented, "runs are not started by this version of the operator", gen),
		condition(chv1.JobBalanced, metav1.ConditionUnknown, chv1.ReasonNeverRun, "no run has completed", gen),
	)
	return st
}
