package runner

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/spool"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// Partition is the part of a run one Execute call compares: rows whose key tuple hashes
// to Index out of Count (Count 1: every row).
type Partition struct {
	// RunID is the run in the results store (started by the caller with StartRun).
	RunID string
	Index int
	Count int
}

// Option configures Execute.
type Option func(*options)

type options struct {
	progress func(rows int64)
	interval time.Duration
	tempDir  string
}

// WithProgress calls fn with the rows read so far, both sides together (with
// partitions: every row read, kept or not), at most once per interval and once at the
// end, from a goroutine of Execute's. fn must not block.
func WithProgress(fn func(rows int64)) Option { return func(o *options) { o.progress = fn } }

// WithProgressInterval sets the minimum time between two progress calls (default 1s).
func WithProgressInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.interval = d
		}
	}
}

// WithTempDir is where the hash strategy spills and http files are spooled (default
// os.TempDir(); a worker pod points it at its emptyDir).
func WithTempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

// Execute runs partition part of plan and writes its result to st with WritePartition,
// replacing what an earlier attempt of the same partition wrote. It returns the
// partition's summary. It does not start or finish the run: the caller does.
//
// With Count > 1 every partition reads both sides in full and keeps the rows whose key
// tuple (its canonical text under the key's type and rules) hashes to its index; rows
// whose key is NULL, empty or invalid, and rows the reader could not read, go to
// partition 0. All rows of a key land in the same partition on both sides, so the
// partitions' outcomes add up to the outcomes of one unpartitioned run. The trade-off:
// each worker reads everything (the sources serve Count full scans) and the work split
// is the comparison, not the reading; splitting reads by key range pushed down into
// SQL is a later step. MaxDiscrepancies and RowsPerSecond apply to each partition.
//
// With Plan.Checksum the comparison is checksum bisection inside both databases
// (internal/checksum), run whole by partition 0; the other partitions write empty
// results (see executeChecksum).
//
// A failure (a side that cannot be resolved, opened or read, a bad spec, a timeout)
// returns an error naming the DataSource at fault, never a credential, and writes
// nothing.
func Execute(ctx context.Context, plan Plan, source, target connect.Credentials, part Partition, st store.Store, opts ...Option) (diff.Summary, error) {
	o := options{interval: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case part.RunID == "":
		return diff.Summary{}, errors.New("runner: partition has no run id")
	case part.Count < 1 || part.Index < 0 || part.Index >= part.Count:
		return diff.Summary{}, fmt.Errorf("runner: partition %d of %d is out of range", part.Index, part.Count)
	case st == nil:
		return diff.Summary{}, errors.New("runner: no results store")
	}
	spec, err := plan.engineSpec()
	if err != nil {
		return diff.Summary{}, err
	}
	if plan.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, plan.Timeout, fmt.Errorf("run timed out after %s (spec.limits.timeout)", plan.Timeout))
		defer cancel()
	}
	if len(spec.MaskKey) == 0 {
		// Every partition, inline or in a worker pod, masks with the same key. Asked
		// within the run's timeout: a store that does not answer fails the run.
		if spec.MaskKey, err = maskKeyOf(ctx, st, plan.Job); err != nil {
			return diff.Summary{}, withCause(ctx, err)
		}
	}
	if plan.Checksum {
		return executeChecksum(ctx, plan, spec, source, target, part, st, o)
	}

	srcRd, srcSecret, err := openSide(ctx, plan, false, source, spec, o)
	if err != nil {
		return diff.Summary{}, withCause(ctx, err)
	}
	defer func() { _ = srcRd.Close() }()
	tgtRd, tgtSecret, err := openSide(ctx, plan, true, target, spec, o)
	if err != nil {
		return diff.Summary{}, withCause(ctx, err)
	}
	defer func() { _ = tgtRd.Close() }()
	hide := func(err error) error { return redact.Error(err, srcSecret, tgtSecret) }

	if plan.CompareAll {
		r := rules{src: &plan.Source.DataSource, tgt: &plan.Target.DataSource}
		if spec.Compare, err = r.compareAll(spec.Keys, srcRd.Columns(), tgtRd.Columns()); err != nil {
			return diff.Summary{}, err
		}
	}
	var rows atomic.Int64
	filter := func(rd diff.Reader, target bool) (diff.Reader, error) {
		f, err := newPartReader(ctx, rd, spec, target, part, plan.RowsPerSecond, &rows)
		if err != nil {
			side := plan.Source
			if target {
				side = plan.Target
			}
			return nil, nameSide(side, err)
		}
		return f, nil
	}
	srcF, err := filter(srcRd, false)
	if err != nil {
		return diff.Summary{}, err
	}
	tgtF, err := filter(tgtRd, true)
	if err != nil {
		return diff.Summary{}, err
	}

	var diffOpts []diff.Option
	if o.progress != nil {
		diffOpts = append(diffOpts, diff.WithProgressInterval(o.interval),
			diff.WithProgress(func(diff.Progress) { o.progress(rows.Load()) }))
	}
	// Every discrepancy goes to the store, however many the job allows: past a sixteenth
	// of the memory budget (taken out of the comparison's) they wait on disk, in sorted
	// runs.
	var held int64
	spec.MemoryBudget, held = spool.Split(spec.MemoryBudget)
	sink := spool.New(o.tempDir, held)
	defer sink.Close()
	sum, err := diff.Run(ctx, spec, srcF, tgtF, sink, diffOpts...)
	if err != nil {
		return sum, withCause(ctx, hide(fmt.Errorf("compare %s with %s: %w", plan.Source.Name(), plan.Target.Name(), err)))
	}
	if err := st.WritePartition(ctx, store.Partition{RunID: part.RunID, Index: part.Index, Summary: sum, Stream: sink.All()}); err != nil {
		return sum, fmt.Errorf("write partition %d of run %s: %w", part.Index, part.RunID, err)
	}
	return sum, nil
}

// withCause puts why ctx ended (the run's timeout, the caller's reason) in front of an
// error it caused.
func withCause(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

// engineSpec is the plan's spec with the file time zone applied.
func (p Plan) engineSpec() (diff.Spec, error) {
	spec := p.Spec
	spec.Keys = append([]diff.Column(nil), spec.Keys...)
	spec.Compare = append([]diff.Column(nil), spec.Compare...)
	if p.TimeZone == "" {
		return spec, nil
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return spec, fmt.Errorf("plan: time zone %q: %w", p.TimeZone, err)
	}
	for _, cols := range [][]diff.Column{spec.Keys, spec.Compare} {
		for i := range cols {
			if cols[i].Type == diff.TypeTimestamp {
				cols[i].Location = loc
			}
		}
	}
	return spec, nil
}

// resolveSide fetches a side's credentials. It returns the side and its password too,
// the password only so that errors can be scrubbed of it.
func resolveSide(ctx context.Context, plan Plan, target bool, creds connect.Credentials) (*connect.Source, Side, string, error) {
	side := plan.Source
	if target {
		side = plan.Target
	}
	ds := side.DataSource
	src, err := connect.Resolve(ctx, &ds, creds)
	if err != nil {
		return nil, side, "", err // names the DataSource and the Secret, never a value
	}
	secret := ""
	if c := src.Credential(); c != nil {
		secret = c.Password
	}
	return src, side, secret, nil
}

// openSide resolves and opens one side, and returns its password (see resolveSide).
func openSide(ctx context.Context, plan Plan, target bool, creds connect.Credentials, spec diff.Spec, o options) (diff.Reader, string, error) {
	src, side, secret, err := resolveSide(ctx, plan, target, creds)
	if err != nil {
		return nil, "", err
	}
	rd, err := src.Open(ctx, openOptions(plan, side, target, spec, o))
	if err != nil {
		return nil, "", redact.Error(nameSide(side, err), secret)
	}
	return rd, secret, nil
}

// openOptions say how to read a side.
func openOptions(plan Plan, side Side, target bool, spec diff.Spec, o options) connect.OpenOptions {
	keyTypes := make([]diff.Type, len(spec.Keys))
	for i, k := range spec.Keys {
		keyTypes[i] = k.Type
	}
	return connect.OpenOptions{
		Columns:  side.Columns,
		Keys:     plan.KeyNames(target),
		KeyTypes: keyTypes,
		Ordered:  side.Ordered,
		Filter:   side.Filter,
		TempDir:  o.tempDir,
	}
}

// partReader keeps the rows of one partition, caps the read rate and counts rows.
type partReader struct {
	ctx   context.Context
	r     diff.Reader
	part  Partition
	keys  []diff.Column
	idx   []int
	ncols int
	lim   *rate.Limiter
	rows  *atomic.Int64
	buf   []byte
}

type orderedPartReader struct {
	*partReader
	by []string
}

func (o orderedPartReader) OrderedBy() []string { return o.by }

func newPartReader(ctx context.Context, r diff.Reader, spec diff.Spec, target bool, part Partition, rps int64, rows *atomic.Int64) (diff.Reader, error) {
	cols := r.Columns()
	p := &partReader{ctx: ctx, r: r, part: part, keys: spec.Keys, ncols: len(cols), rows: rows}
	for _, k := range spec.Keys {
		name := k.Name
		if target {
			name = k.TargetName()
		}
		i := indexOf(cols, name)
		if i < 0 {
			return nil, fmt.Errorf("key column %q is not among the columns %v", name, cols)
		}
		p.idx = append(p.idx, i)
	}
	if rps > 0 {
		p.lim = rate.NewLimiter(rate.Limit(rps), int(max(1, min(rps/20, 256))))
	}
	if o, ok := r.(diff.OrderedReader); ok {
		return orderedPartReader{partReader: p, by: o.OrderedBy()}, nil
	}
	return p, nil
}

func indexOf(cols []string, name string) int {
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	return -1
}

func (p *partReader) Columns() []string { return p.r.Columns() }
func (p *partReader) Position() string  { return p.r.Position() }
func (p *partReader) Close() error      { return p.r.Close() }

// Unwrap lets the engine use what the underlying reader can do (read rows again, hand
// over their bytes): the row Next returns is always that reader's last row.
func (p *partReader) Unwrap() diff.Reader { return p.r }

func (p *partReader) Next() ([]diff.Cell, error) {
	for {
		if p.lim != nil {
			if err := p.lim.Wait(p.ctx); err != nil {
				return nil, err
			}
		}
		cells, err := p.r.Next()
		if err != nil {
			var inv diff.InvalidRowError
			if !errors.As(err, &inv) {
				return nil, err
			}
			p.rows.Add(1)
			if p.part.Index == 0 {
				return nil, err
			}
			continue
		}
		p.rows.Add(1)
		if p.part.Count == 1 || PartitionOf(p.keys, p.idx, p.ncols, cells, p.part.Count, &p.buf) == p.part.Index {
			return cells, nil
		}
	}
}
