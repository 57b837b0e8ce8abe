package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// newRootCommand returns the command tree and a function to call once it has run (it
// ends a CPU profile; it runs even when the command fails or exits 1).
func newRootCommand() (*cobra.Command, func()) {
	var cpuProfile string
	var profFile *os.File
	root := &cobra.Command{
		Use:           "clearhouse",
		Short:         "Kubernetes-native data reconciliation",
		Long:          "Clearhouse compares datasets key by key and column by column, on a schedule or on demand, and records every discrepancy.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A benchmark run can say where its time goes without a rebuild.
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			profFile = f
			return pprof.StartCPUProfile(f)
		},
	}
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the command to FILE")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.AddCommand(newManagerCommand(), newDiffCommand(), newGenCommand(), newFloorCommand(),
		newWorkerCommand(), newRenderCommand(), newDevCommand())
	return root, func() {
		if profFile != nil {
			pprof.StopCPUProfile()
			_ = profFile.Close()
		}
	}
}
