package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/checksum"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/spool"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// executeChecksum runs a plan by checksum bisection inside both databases
// (internal/checksum). The databases do the partitioning work, so the run is not
// split by key hash: partition 0 runs the whole comparison and the other partitions
// write empty results at once (they still exist, so the run's partitions add up).
func executeChecksum(ctx context.Context, plan Plan, spec diff.Spec, source, target connect.Credentials, part Partition, st store.Store, o options) (diff.Summary, error) {
	if part.Index != 0 {
		var sum diff.Summary
		sum.Strategy = diff.StrategyChecksum
		if err := st.WritePartition(ctx, store.Partition{RunID: part.RunID, Index: part.Index, Summary: sum}); err != nil {
			return sum, fmt.Errorf("write partition %d of run %s: %w", part.Index, part.RunID, err)
		}
		return sum, nil
	}
	srcCfg, srcSecret, err := sqlConfig(ctx, plan, false, source, spec)
	if err != nil {
		return diff.Summary{}, withCause(ctx, err)
	}
	tgtCfg, tgtSecret, err := sqlConfig(ctx, plan, true, target, spec)
	if err != nil {
		return diff.Summary{}, withCause(ctx, err)
	}
	hide := func(err error) error { return redact.Error(err, srcSecret, tgtSecret) }
	if plan.CompareAll {
		cols := func(side Side, cfg sqlsource.Config) ([]string, error) {
			found, err := sqlsource.Discover(ctx, cfg)
			if err != nil {
				return nil, hide(nameSide(side, err))
			}
			names := make([]string, len(found))
			for i, c := range found {
				names[i] = c.Name
			}
			return names, nil
		}
		srcCols, err := cols(plan.Source, srcCfg)
		if err != nil {
			return diff.Summary{}, withCause(ctx, err)
		}
		tgtCols, err := cols(plan.Target, tgtCfg)
		if err != nil {
			return diff.Summary{}, withCause(ctx, err)
		}
		r := rules{src: &plan.Source.DataSource, tgt: &plan.Target.DataSource}
		if spec.Compare, err = r.compareAll(spec.Keys, srcCols, tgtCols); err != nil {
			return diff.Summary{}, err
		}
	}
	copts := checksum.Options{
		// The job's cap is per side; checksum's counts both sides together.
		RowsPerSecond: float64(2 * plan.RowsPerSecond),
		QueryTimeout:  plan.Timeout,
	}
	if o.progress != nil {
		copts.Progress = func(p checksum.Progress) { o.progress(max(p.RowsSummed, p.SourceRows+p.TargetRows)) }
	}
	// Every discrepancy goes to the store, however many the job allows: past a sixteenth
	// of the memory budget they wait on disk, in sorted runs.
	_, held := spool.Split(spec.MemoryBudget)
	sink := spool.New(o.tempDir, held)
	defer sink.Close()
	sum, err := checksum.Run(ctx, spec, srcCfg, tgtCfg, sink, copts)
	if err != nil {
		return sum, withCause(ctx, hide(fmt.Errorf("compare %s with %s: %w", plan.Source.Name(), plan.Target.Name(), err)))
	}
	if err := st.WritePartition(ctx, store.Partition{RunID: part.RunID, Index: part.Index, Summary: sum, Stream: sink.All()}); err != nil {
		return sum, fmt.Errorf("write partition %d of run %s: %w", part.Index, part.RunID, err)
	}
	return sum, nil
}

// sqlConfig resolves a SQL side's credentials into its sqlsource configuration, and
// returns its password only so that errors can be scrubbed of it.
func sqlConfig(ctx context.Context, plan Plan, target bool, creds connect.Credentials, spec diff.Spec) (sqlsource.Config, string, error) {
	src, side, secret, err := resolveSide(ctx, plan, target, creds)
	if err != nil {
		return sqlsource.Config{}, "", err
	}
	cfg, err := src.SQLConfig(openOptions(plan, side, target, spec, options{}))
	if err != nil {
		return cfg, "", err
	}
	return cfg, secret, nil
}

// nameSide makes sure an error names the side's DataSource.
func nameSide(side Side, err error) error {
	if strings.Contains(err.Error(), "datasource "+side.Name()) {
		return err
	}
	return fmt.Errorf("datasource %s: %w", side.Name(), err)
}
