package main

import (
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "clearhouse",
		Short:         "Kubernetes-native data reconciliation",
		Long:          "Clearhouse compares datasets key by key and column by column, on a schedule or on demand, and records every discrepancy.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newManagerCommand(), newDiffCommand(), newGenCommand(), newFloorCommand(),
		newWorkerCommand(), newRenderCommand(), newDevCommand())
	return root
}
