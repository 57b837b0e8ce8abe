package controllers

import (
	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// moduleInputs is what the module reconciler gathers before deciding.
type moduleInputs struct {
	module      *chv1.BusinessModule
	dataSources int32
}

// moduleStatus computes the status of a BusinessModule. The schema validates everything
// a module declares; topics, users and RBAC come with the module's own issue.
func moduleStatus(in moduleInputs) chv1.BusinessModuleStatus {
	st := *in.module.Status.DeepCopy()
	gen := in.module.Generation
	st.ObservedGeneration = gen
	st.DataSources = in.dataSources
	setConditions(&st.Conditions,
		readiness(nil, gen, "rendering topics, users and access is not implemented yet"),
		unknownUntilImplemented(chv1.ModuleTopicsReady, gen),
		unknownUntilImplemented(chv1.ModuleAccessReady, gen),
	)
	return st
}
