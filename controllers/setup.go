package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
)

// SetupAll registers the reconcilers of all four kinds with the manager.
func SetupAll(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	for name, setup := range map[string]func(ctrl.Manager) error{
		"BusinessModule":    (&BusinessModuleReconciler{Client: c}).SetupWithManager,
		"DataSource":        (&DataSourceReconciler{Client: c}).SetupWithManager,
		"ReconciliationJob": (&ReconciliationJobReconciler{Client: c}).SetupWithManager,
		"SettlementWindow":  (&SettlementWindowReconciler{Client: c}).SetupWithManager,
	} {
		if err := setup(mgr); err != nil {
			return fmt.Errorf("set up %s controller: %w", name, err)
		}
	}
	return nil
}
