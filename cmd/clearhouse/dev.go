package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDevCommand is a placeholder its owner replaces.
func newDevCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "dev",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("dev: not built yet") },
	}
}
