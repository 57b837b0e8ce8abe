package main

import (
	"flag"
	"fmt"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/clearhouse-dev/clearhouse/internal/manager"
)

func newManagerCommand() *cobra.Command {
	var o manager.Options
	zapOpts := zap.Options{Development: false}
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run the operator's controller manager",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("load kubeconfig: %w", err)
			}
			mgr, err := manager.New(cfg, o)
			if err != nil {
				return err
			}
			return mgr.Start(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443", "address of the metrics endpoint (:8080 for HTTP); 0 turns it off")
	f.BoolVar(&o.SecureMetrics, "metrics-secure", true, "serve metrics over HTTPS with Kubernetes authentication and authorization")
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "address of the health and readiness probes")
	f.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader so only one replica is active")
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election lease (in-cluster namespace by default)")
	f.BoolVar(&o.EnableHTTP2, "enable-http2", false, "serve metrics and webhooks over HTTP/2")
	// controller-runtime registers --kubeconfig on the standard flag set for GetConfig.
	if kf := flag.CommandLine.Lookup("kubeconfig"); kf != nil {
		f.AddGoFlag(kf)
	}
	gf := flag.NewFlagSet("zap", flag.ContinueOnError)
	zapOpts.BindFlags(gf)
	f.AddGoFlagSet(gf)
	return cmd
}
