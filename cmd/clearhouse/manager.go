package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/clearhouse-dev/clearhouse/internal/manager"
)

func newManagerCommand() *cobra.Command {
	var o manager.Options
	var workerStoreSecret string
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
			if o.StoreURI == "" {
				o.StoreURI = os.Getenv("CLEARHOUSE_STORE") // keeps a password off the command line
			}
			if workerStoreSecret != "" {
				name, key, ok := strings.Cut(workerStoreSecret, "/")
				if !ok || name == "" || key == "" {
					return fmt.Errorf("--worker-store-secret %q: want NAME/KEY", workerStoreSecret)
				}
				o.WorkerStoreSecret = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}
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
	f.StringVar(&o.DataDir, "data-dir", "", "directory of the embedded SQLite store and of spill files (default <temp dir>/clearhouse)")
	f.StringVar(&o.StoreURI, "store", "", "results store: sqlite:/path.db or postgres://... (default SQLite in --data-dir); a password may come from CLEARHOUSE_STORE instead")
	f.IntVar(&o.InlineWorkers, "inline-workers", 2, "Inline runs executing at once")
	f.StringVar(&o.WorkerImage, "worker-image", "", "image of Kubernetes worker pods (clearhouse worker); empty disables the Kubernetes executor")
	f.StringVar(&workerStoreSecret, "worker-store-secret", "", "NAME/KEY of a Secret, in each job's namespace, holding the workers' store URI with its password")
	f.StringVar(&o.Alerts.ConsoleURL, "console-url", "", "link to a job in a console, quoted in alerts ({namespace}, {job} and {run} are replaced)")
	f.StringVar(&o.WorkerStoreURI, "worker-store", "", "store URI given to worker pods, without a password (default --store when it is PostgreSQL without one; never the embedded SQLite store, which pods cannot reach)")
	// controller-runtime registers --kubeconfig on the standard flag set for GetConfig.
	if kf := flag.CommandLine.Lookup("kubeconfig"); kf != nil {
		f.AddGoFlag(kf)
	}
	gf := flag.NewFlagSet("zap", flag.ContinueOnError)
	zapOpts.BindFlags(gf)
	f.AddGoFlagSet(gf)
	return cmd
}
