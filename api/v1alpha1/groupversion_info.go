// Package v1alpha1 contains the API of Clearhouse: BusinessModule, DataSource,
// ReconciliationJob and SettlementWindow in the group clearhouse.dev.
// +kubebuilder:object:generate=true
// +groupName=clearhouse.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every Clearhouse kind.
	GroupVersion = schema.GroupVersion{Group: "clearhouse.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Clearhouse kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the Clearhouse kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
