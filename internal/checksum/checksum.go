// Package checksum compares two SQL datasets (PostgreSQL, MySQL/MariaDB) by checksum
// bisection: the databases sum their rows per key range and bucket, and only the rows
// of buckets whose sums differ are read and compared by the engine (internal/diff,
// sorted merge). For large, mostly equal tables it reads a small fraction of the rows.
//
// # How
//
//  1. The key range is cut into segments of about Options.SegmentRows rows, at keys
//     sampled from the larger side in key order (every SegmentRows-th key, or from a
//     TABLESAMPLE of a large PostgreSQL table; byte order for string keys, tuples for
//     composite keys: the order the merge strategy reads). By default only tables
//     stored in key order are cut: in a table stored in another order, the rows of a
//     key range are spread over most of its pages, and each segment would cost about
//     a read of the whole table.
//  2. For each segment, each database computes, per bucket of the segment's keys
//     (Options.Factor buckets by a hash of the canonical key, so a key's rows fall in
//     the same bucket on both sides), the number of rows, two order-independent sums
//     of the MD5 of each row's canonical text (keys and compared columns, identical in
//     PostgreSQL and MySQL: see sqlsource's canon.go), the rows that may not parse and,
//     without a unique index on the key, the number of distinct keys.
//  3. A bucket whose counts and sums are equal on both sides, with no suspect row and
//     no duplicate key, is all matched: its rows are counted and never read. The rows of
//     the other buckets of the segment are read in key order from both databases and
//     compared by the engine with every rule of the spec (tolerances, trimming, case,
//     precision), so the outcomes are exactly those of the merge strategy.
//  4. Rows without a usable key (a NULL, empty or unparsable key component) lie outside
//     every key range: they are read apart and reported as invalid_row. When the key
//     range is one segment, its sums count them, and they are read only when there
//     are some (a table with a primary key is not read a second time for them).
//
// Segments run in parallel, Options.Concurrency at a time (each takes up to two
// connections). Each statement is its own snapshot: a table written to during the run
// may give outcomes of either state.
//
// Positions of invalid_row outcomes name the segment read: "postgres table t segment 12
// row 3" counts rows within that read; rows without a usable key: "postgres table t
// (rows without a usable key) row 3".
//
// When the spec cannot be checked with checksums (a trimmed or case-folded key, a key
// type the databases cannot order or delimit as the engine does, such as floats or
// wall-clock timestamps outside UTC, or PostgreSQL before 13), Run reads and compares
// every row as the merge strategy does (Summary.Strategy says which ran), unless
// Options.Strict. Cutting the key range into segments uses window functions (MySQL
// 8.0+, MariaDB 10.2+). Between two PostgreSQL 14+ servers rows are hashed as records
// (hash_record_extended) of their values in forms whose hashes keep every bit: text,
// 2- and 4-byte integers, dates and booleans as they are, bigints as their two halves,
// numerics with their sign, timestamps as text, others as canonical text (PostgreSQL's
// hashes of bigint and timestamps fold 64 bits to 32, and numeric's ignores the sign).
// The record hash is mixed again, its two halves hashed apart (it is linear in its
// fields', so values swapped between keys of a bucket would cancel out in a plain sum;
// hashint8extended would fold it to 32 bits), and keys put in buckets by a 64-bit text
// hash (hashtextextended), else both use the MD5 of their canonical text (the only
// hash PostgreSQL and MySQL share). Without a unique index on the key columns each
// bucket also counts its distinct keys (so duplicates equal on both sides are found);
// with one (a primary key) it does not: production tables with typed columns and a
// primary key are summed at about the cost of reading them once.
package checksum

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

const (
	// DefaultSegmentRows is the segment size when Options.SegmentRows is 0 and both
	// tables are stored in key order (otherwise each key range would cost a read of
	// most of the table: one segment).
	DefaultSegmentRows = 1_000_000
	// BucketRows is about the rows per bucket when Options.Factor is 0.
	BucketRows = 100
	// MaxFactor bounds the buckets per segment.
	MaxFactor = 1 << 20
	// DefaultConcurrency is Options.Concurrency when 0: two segments at once keep two
	// server cores busy with both sides' statements (four statements), without the
	// queueing that more brought on the 2-core benchmark machine.
	DefaultConcurrency = 2
)

// Options tune a run.
type Options struct {
	// SegmentRows is the number of rows per key-range segment. 0: DefaultSegmentRows
	// when both tables are stored in key order (sqlsource's Clustered), else the whole
	// key range is one segment (a key range of a table stored in another order costs a
	// read of most of it).
	SegmentRows int64
	// Factor is the number of buckets a segment is checksummed in: a differing bucket
	// of about SegmentRows/Factor rows is the unit read and merged. 0: about
	// BucketRows rows per bucket (at most MaxFactor buckets).
	Factor int
	// Concurrency is the number of segments checked at once (DefaultConcurrency).
	Concurrency int
	// QueryTimeout bounds each statement: a checksum, the key sampling, a segment's
	// read (0: no limit but the context's).
	QueryTimeout time.Duration
	// RowsPerSecond limits the rows read for the engine, both sides together (0: the
	// spec's RowsPerSecond).
	RowsPerSecond float64
	// Progress, when set, is called after each segment and once at the end, from one
	// goroutine at a time.
	Progress func(Progress)
	// Strict makes Run fail (with an error wrapping sqlsource.ErrChecksumUnsupported)
	// instead of reading every row when checksums do not apply.
	Strict bool
}

// Progress is what the progress callback receives.
type Progress struct {
	Segments     int   // segments in the run (0 until the key range is cut)
	SegmentsDone int   // segments done
	RowsSummed   int64 // rows covered by checksums so far, both sides
	SourceRows   int64 // rows read for the engine so far
	TargetRows   int64
}

// Run compares source with target under spec by checksum bisection, sending each
// discrepancy to sink (from one goroutine at a time) and returning the counts: the same
// outcomes as the merge strategy. spec.Strategy is ignored (any valid one: usually
// diff.StrategyChecksum or auto); spec.MaxDiscrepancies stops the run as it does the
// engine's (Summary.Truncated). Summary.SourceRows and TargetRows are the rows read for
// the engine, Summary.Strategy is diff.StrategyChecksum (or what ran instead, see the
// package documentation).
func Run(ctx context.Context, spec diff.Spec, source, target sqlsource.Config, sink diff.Sink, opts Options) (diff.Summary, error) {
	if err := spec.Validate(); err != nil {
		return diff.Summary{}, fmt.Errorf("checksum: invalid spec: %w", err)
	}
	if sink == nil {
		return diff.Summary{}, errors.New("checksum: a sink is required")
	}
	if len(spec.MaskKey) == 0 {
		// One key for the engine runs of every segment: a value masks alike in all.
		spec.MaskKey = diff.NewMaskKey()
	}
	opts.SegmentRows = max(opts.SegmentRows, 0)
	opts.Factor = min(max(opts.Factor, 0), MaxFactor)
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.RowsPerSecond <= 0 {
		opts.RowsPerSecond = spec.RowsPerSecond
	}
	plan, err := prepare(ctx, source, target, spec, opts)
	if errors.Is(err, sqlsource.ErrChecksumUnsupported) && !opts.Strict {
		return readAll(ctx, spec, source, target, sink, opts)
	}
	if err != nil {
		return diff.Summary{}, fmt.Errorf("checksum: %w", err)
	}
	r := &run{spec: spec, plan: plan, opts: opts, out: &sharedSink{sink: sink, max: spec.MaxDiscrepancies}}
	if opts.RowsPerSecond > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(opts.RowsPerSecond), max(1, min(int(opts.RowsPerSecond/20), 256)))
	}
	return r.do(ctx)
}

func prepare(ctx context.Context, source, target sqlsource.Config, spec diff.Spec, opts Options) (*sqlsource.ChecksumPlan, error) {
	qctx, cancel := withTimeout(ctx, opts.QueryTimeout)
	defer cancel()
	return sqlsource.PrepareChecksum(qctx, source, target, spec)
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

type run struct {
	spec    diff.Spec
	plan    *sqlsource.ChecksumPlan
	opts    Options
	out     *sharedSink
	limiter *rate.Limiter
	factor  int // buckets per segment

	mu      sync.Mutex // guards the fields below and progress calls
	matched int64
	srcRows int64
	tgtRows int64
	summed  int64
	nsegs   int
	done    int
}

func (r *run) do(ctx context.Context) (diff.Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	segs, err := r.cut(ctx)
	if err != nil {
		return r.summary(), r.fail(ctx, err)
	}
	r.mu.Lock()
	r.nsegs = len(segs)
	r.mu.Unlock()

	// Jobs: the rows without a usable key, then every segment. A single unbounded
	// segment counts those rows in its sums (sqlsource.KeylessBucket): they are then
	// read only when there are some.
	first := -1
	if len(segs) == 1 && segs[0].Lo == nil && segs[0].Hi == nil {
		first = 0
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	setErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for range r.opts.Concurrency {
		wg.Go(func() {
			for i := range jobs {
				var err error
				if i < 0 {
					err = r.keyless(ctx)
				} else {
					err = r.segment(ctx, i, segs[i])
				}
				if err != nil {
					setErr(err)
				}
			}
		})
	}
feed:
	for i := first; i < len(segs); i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	r.progress()
	sum := r.summary()
	if sum.Truncated {
		return sum, nil
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return sum, r.fail(ctx, firstErr)
	}
	return sum, nil
}

// fail turns an error into the run's: a context error says the run stopped.
func (r *run) fail(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("checksum: stopped: %w", err)
	}
	return fmt.Errorf("checksum: %w", err)
}

// cut cuts the key range at keys sampled from the larger side.
func (r *run) cut(ctx context.Context) ([]sqlsource.Segment, error) {
	qctx, cancel := withTimeout(ctx, r.opts.QueryTimeout)
	defer cancel()
	side := 0
	n0, err0 := r.plan.EstimateRows(qctx, 0)
	n1, err1 := r.plan.EstimateRows(qctx, 1)
	if err0 != nil {
		n0 = -1
	}
	if err1 == nil && n1 > n0 {
		side, n0 = 1, n1
	}
	every := r.opts.SegmentRows
	if every == 0 {
		c0, err := r.plan.Clustered(qctx, 0)
		if err != nil {
			return nil, err
		}
		c1, err := r.plan.Clustered(qctx, 1)
		if err != nil {
			return nil, err
		}
		if c0 && c1 {
			every = DefaultSegmentRows
		}
	}
	var k int64 // segments wanted (0: as the bounds come)
	if every > 0 && n0 > 0 {
		// Segments of about equal size, as many as the estimate holds whole: 1.01M rows
		// are one segment, not 1M and 10,000 rows (the unbounded segment also counts
		// the rows without a usable key, sparing a read of each table).
		k = (n0 + every/2) / every
		if k <= 1 {
			every = 0
		} else {
			every = (n0 + k - 1) / k
		}
	}
	segs := []sqlsource.Segment{{}}
	if every > 0 && (n0 < 0 || n0 > every) {
		bounds, err := r.plan.Boundaries(qctx, side, every, n0)
		if err != nil {
			return nil, err
		}
		if k > 0 && int64(len(bounds)) >= k {
			bounds = bounds[:k-1] // the last bound is about the last row: no empty segment
		}
		segs = segs[:0]
		var lo []string
		for _, b := range bounds {
			segs = append(segs, sqlsource.Segment{Lo: lo, Hi: b})
			lo = b
		}
		segs = append(segs, sqlsource.Segment{Lo: lo})
	}
	if r.factor = r.opts.Factor; r.factor == 0 {
		r.factor = 1024 // no estimate
		if n0 >= 0 {
			per := max(n0, BucketRows) / int64(len(segs))
			r.factor = int(min(max(per/BucketRows, 16), MaxFactor))
		}
	}
	return segs, nil
}

// segment checks one segment: sums on both sides, then the differing buckets' rows
// through the engine.
func (r *run) segment(ctx context.Context, i int, seg sqlsource.Segment) error {
	var sums [2]map[int]sqlsource.BucketSum
	var errs [2]error
	var wg sync.WaitGroup
	for side := range 2 {
		wg.Go(func() {
			qctx, cancel := withTimeout(ctx, r.opts.QueryTimeout)
			defer cancel()
			sums[side], errs[side] = r.plan.Sums(qctx, side, seg, r.factor)
		})
	}
	wg.Wait()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		return err
	}
	if sums[0][sqlsource.KeylessBucket].Rows+sums[1][sqlsource.KeylessBucket].Rows > 0 {
		if err := r.keyless(ctx); err != nil {
			return err
		}
	}
	var matched, summed int64
	var differ []int
	present := 0
	for b := range r.factor {
		s, okS := sums[0][b]
		t, okT := sums[1][b]
		if !okS && !okT {
			continue
		}
		present++
		summed += s.Rows + t.Rows
		if okS && okT && s.Equal(t) {
			matched += s.Rows
			continue
		}
		differ = append(differ, b)
	}
	only := differ
	if 2*len(differ) > present {
		// Most buckets differ: read the whole range (a short statement); the engine
		// then counts the equal buckets' keys too.
		only, matched = nil, 0
	}
	r.mu.Lock()
	r.matched += matched
	r.summed += summed
	r.mu.Unlock()
	if len(differ) > 0 {
		if err := r.compare(ctx, func(ctx context.Context, side int) (diff.Reader, error) {
			return r.plan.OpenSegment(ctx, side, seg, r.factor, only, fmt.Sprintf("%s segment %d", r.plan.Name(side), i+1))
		}, diff.StrategyMerge); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.done++
	r.mu.Unlock()
	r.progress()
	return nil
}

// keyless reports the rows without a usable key of both sides.
func (r *run) keyless(ctx context.Context) error {
	return r.compare(ctx, func(ctx context.Context, side int) (diff.Reader, error) {
		return r.plan.OpenKeyless(ctx, side, r.plan.Name(side)+" (rows without a usable key)")
	}, diff.StrategyHash)
}

// compare runs the engine over the readers open gives for each side.
func (r *run) compare(ctx context.Context, open func(context.Context, int) (diff.Reader, error), strategy diff.Strategy) error {
	qctx, cancel := withTimeout(ctx, r.opts.QueryTimeout)
	defer cancel()
	var rds [2]diff.Reader
	for side := range rds {
		rd, err := open(qctx, side)
		if err != nil {
			for _, o := range rds[:side] {
				_ = o.Close()
			}
			return err
		}
		rds[side] = r.limited(qctx, rd)
	}
	defer func() {
		for _, rd := range rds {
			_ = rd.Close()
		}
	}()
	spec := r.spec
	spec.Strategy, spec.MaxDiscrepancies, spec.RowsPerSecond = strategy, 0, 0
	sum, err := diff.Run(qctx, spec, rds[0], rds[1], r.out)
	r.mu.Lock()
	r.matched += sum.Matched
	r.srcRows += sum.SourceRows
	r.tgtRows += sum.TargetRows
	r.mu.Unlock()
	if errors.Is(err, errTruncated) {
		return errTruncated
	}
	return err
}

func (r *run) progress() {
	if r.opts.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Progress(Progress{Segments: r.nsegs, SegmentsDone: r.done, RowsSummed: r.summed, SourceRows: r.srcRows, TargetRows: r.tgtRows})
}

func (r *run) summary() diff.Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.out.summary()
	s.Matched += r.matched
	s.Compared += r.matched
	s.SourceRows, s.TargetRows = r.srcRows, r.tgtRows
	s.Strategy = diff.StrategyChecksum
	return s
}

// errTruncated stops a run when maxDiscrepancies is reached.
var errTruncated = errors.New("checksum: maxDiscrepancies reached")

// sharedSink counts the discrepancies of every segment, stops at the spec's limit as
// the engine does (the one past the limit is not emitted) and serializes the sink.
type sharedSink struct {
	mu    sync.Mutex
	sink  diff.Sink
	max   int64
	sum   diff.Summary
	found int64
}

func (s *sharedSink) Emit(d diff.Discrepancy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.found >= s.max {
		s.sum.Truncated = true
		return errTruncated
	}
	s.found++
	s.sum.Compared++
	switch d.Kind {
	case diff.KindMissingInTarget:
		s.sum.MissingInTarget++
	case diff.KindMissingInSource:
		s.sum.MissingInSource++
	case diff.KindMismatch:
		s.sum.Mismatched++
	case diff.KindDuplicateKey:
		s.sum.DuplicateKeys++
	case diff.KindInvalidRow:
		s.sum.InvalidRows++
	}
	return s.sink.Emit(d)
}

func (s *sharedSink) summary() diff.Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum
}

// limited applies the run's rate limit to a reader (keeping it ordered).
func (r *run) limited(ctx context.Context, rd diff.Reader) diff.Reader {
	if r.limiter == nil {
		return rd
	}
	l := &limitedReader{Reader: rd, ctx: ctx, lim: r.limiter}
	if o, ok := rd.(diff.OrderedReader); ok {
		return orderedLimited{l, o.OrderedBy()}
	}
	return l
}

type limitedReader struct {
	diff.Reader
	ctx context.Context
	lim *rate.Limiter
}

func (l *limitedReader) Next() ([]diff.Cell, error) {
	if err := l.lim.Wait(l.ctx); err != nil {
		return nil, err
	}
	return l.Reader.Next()
}

type orderedLimited struct {
	*limitedReader
	by []string
}

func (o orderedLimited) OrderedBy() []string { return o.by }

// readAll compares every row, as the engine's auto strategy would with both databases
// sorting by the key (merge), or unordered (hash) when they cannot.
func readAll(ctx context.Context, spec diff.Spec, source, target sqlsource.Config, sink diff.Sink, opts Options) (diff.Summary, error) {
	cfgs := [2]sqlsource.Config{source, target}
	var rds [2]diff.Reader
	defer func() {
		for _, rd := range rds {
			if rd != nil {
				_ = rd.Close()
			}
		}
	}()
	for i := range cfgs {
		cfg := sqlsource.WithKeys(cfgs[i], spec, i == 1)
		cfg.Ordered = !slices.ContainsFunc(spec.Keys, func(k diff.Column) bool { return k.Trim || k.IgnoreCase })
		rd, err := sqlsource.Open(ctx, cfg)
		if err != nil && cfg.Ordered {
			cfg.Ordered = false
			rd, err = sqlsource.Open(ctx, cfg)
		}
		if err != nil {
			return diff.Summary{}, fmt.Errorf("checksum: %w", err)
		}
		rds[i] = rd
	}
	// The caller's strategy (usually checksum) is not one the engine runs: auto picks
	// merge or hash from how the readers opened.
	spec.Strategy = diff.StrategyAuto
	spec.RowsPerSecond = opts.RowsPerSecond
	var dopts []diff.Option
	if opts.Progress != nil {
		dopts = append(dopts, diff.WithProgress(func(p diff.Progress) {
			opts.Progress(Progress{SourceRows: p.SourceRows, TargetRows: p.TargetRows})
		}))
	}
	return diff.Run(ctx, spec, rds[0], rds[1], sink, dopts...)
}
