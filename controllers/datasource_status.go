package controllers

import (
	"fmt"

	"github.com/clearhouse-dev/clearhouse/internal/window"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// validateDataSource checks what the schema cannot: that the time zone exists.
func validateDataSource(ds *chv1.DataSource) []string {
	var problems []string
	if _, err := window.LoadLocation(ds.Spec.TimeZone); err != nil {
		problems = append(problems, fmt.Sprintf("spec.timeZone: %v", err))
	}
	return problems
}

// dataSourceStatus computes the status of a DataSource from its spec.
func dataSourceStatus(ds *chv1.DataSource) chv1.DataSourceStatus {
	st := *ds.Status.DeepCopy()
	gen := ds.Generation
	st.ObservedGeneration = gen
	setConditions(&st.Conditions,
		readiness(validateDataSource(ds), gen, "probing and schema discovery are not implemented yet"),
		unknownUntilImplemented(chv1.DataSourceReachable, gen),
		unknownUntilImplemented(chv1.DataSourceSchemaDiscovered, gen),
		unknownUntilImplemented(chv1.DataSourceSchemaDrift, gen),
		unknownUntilImplemented(chv1.DataSourcePipelineReady, gen),
	)
	return st
}
