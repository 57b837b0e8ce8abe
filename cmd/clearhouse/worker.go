package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newWorkerCommand is a placeholder its owner replaces.
func newWorkerCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "worker",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("worker: not built yet") },
	}
}
