package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// newFloorCommand reads and parses both inputs, concurrently as diff does, without
// comparing: the floor a benchmark measures diff against.
func newFloorCommand() *cobra.Command {
	var srcURI, tgtURI string
	cmd := &cobra.Command{
		Use:    "floor --source URI --target URI",
		Short:  "Read and parse both inputs without comparing (benchmark floor)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			var rows [2]int64
			g, ctx := errgroup.WithContext(cmd.Context())
			for i, uri := range []string{srcURI, tgtURI} {
				g.Go(func() error {
					n, err := drain(ctx, uri)
					rows[i] = n
					return err
				})
			}
			if err := g.Wait(); err != nil {
				return err
			}
			el := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "read %d source rows and %d target rows in %s (%.0f rows/s)\n",
				rows[0], rows[1], el.Round(time.Millisecond), float64(rows[0]+rows[1])/el.Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&srcURI, "source", "", "source dataset URI")
	cmd.Flags().StringVar(&tgtURI, "target", "", "target dataset URI")
	return cmd
}

// drain reads every row of uri; the readers parse every field of a row in Next.
func drain(ctx context.Context, uri string) (int64, error) {
	r, err := source.Open(ctx, uri, source.Options{})
	if err != nil {
		return 0, err
	}
	defer func() { _ = r.Close() }()
	var n int64
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil && !source.IsRowError(err) {
			return n, err
		}
		n++
		if n&0xffff == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}
