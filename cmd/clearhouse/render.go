package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newRenderCommand is a placeholder its owner replaces.
func newRenderCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "render",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("render: not built yet") },
	}
}
