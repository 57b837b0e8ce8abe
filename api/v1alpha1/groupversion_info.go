// Package v1alpha1 contains the API of Clearhouse: BusinessModule, DataSource,
// ReconciliationJob and SettlementWindow in the group clearhouse.dev.
// +kubebuilder:object:generate=true
// +groupName=clearhouse.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every Clearhouse kind.
	GroupVersion = schema.GroupVersion{Group: "clearhouse.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Clearhouse kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the Clearhouse kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&BusinessModule{}, &BusinessModuleList{},
		&DataSource{}, &DataSourceList{},
		&ReconciliationJob{}, &ReconciliationJobList{},
		&SettlementWindow{}, &SettlementWindowList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
