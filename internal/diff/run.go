package diff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Progress is what a progress callback receives: rows read so far on each side, and
// the phase of the run.
type Progress struct {
	SourceRows int64
	TargetRows int64
	// Phase is PhaseReading until hash has read both sides, then PhaseJoining.
	Phase Phase
	// While joining: partitions of the first level that have rows (Partitions) and how
	// many of them are joined and their outcomes passed on (PartitionsJoined). A
	// partition partitioned again on disk counts once, when all its parts are joined.
	PartitionsJoined int
	Partitions       int
}

// Option configures Run.
type Option func(*options)

type options struct {
	progress      func(Progress)
	interval      time.Duration
	chunkSize     int // hash tuning for tests (0 = from the budget)
	fanout        int
	poolLimit     int64
	checkEvery    int
	onHashStats   func(hashStats)
	stats         func(Stats)
	noSplit       bool     // WithoutRangeSplit
	noFingerprint bool     // WithoutFingerprints
	noLineJoin    bool     // WithoutLineJoin
	beforeLeft    func()   // tests: called before a line join reads its rows left over
	poolFree      [][]byte // a line join's run over the rows left over: the join's free chunks
}

// WithProgress calls fn with the rows read so far and the phase, at most once per
// interval (100ms unless WithProgressInterval says otherwise) from a goroutine of Run's,
// one call at a time, and once more with the final counts before Run returns. Phases
// come in order (reading, then joining); counts never go down. fn must not block for
// long.
func WithProgress(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// WithProgressInterval sets the minimum time between two progress calls.
func WithProgressInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.interval = d
		}
	}
}

// ChooseStrategy returns the strategy Run would use for spec with these readers: merge,
// hash or checksum when asked for (Run refuses checksum: ErrChecksumStrategy), and for auto, merge exactly when both readers are
// OrderedReaders whose OrderedBy starts with the key columns (source names on the source
// side, target names on the target side) and no key column is trimmed or case-folded
// (the order a reader promises is the order of the values as read).
func ChooseStrategy(spec Spec, source, target Reader) Strategy {
	switch spec.Strategy {
	case StrategyMerge, StrategyHash, StrategyChecksum:
		return spec.Strategy
	}
	for _, k := range spec.Keys {
		if k.Trim || k.IgnoreCase {
			return StrategyHash
		}
	}
	ordered := func(r Reader, name func(Column) string) bool {
		o, ok := r.(OrderedReader)
		if !ok {
			return false
		}
		by := o.OrderedBy()
		if len(by) < len(spec.Keys) {
			return false
		}
		for i, k := range spec.Keys {
			if by[i] != name(k) {
				return false
			}
		}
		return true
	}
	if ordered(source, func(c Column) string { return c.Name }) && ordered(target, Column.TargetName) {
		return StrategyMerge
	}
	return StrategyHash
}

// ErrChecksumStrategy is Run's error for Spec.Strategy checksum: the databases do that
// work, so it needs two SQL sides and runs through internal/checksum (checksum.Run).
var ErrChecksumStrategy = errors.New("diff: strategy checksum needs two SQL sides and runs through internal/checksum (checksum.Run), not the engine's Run: use merge, hash or auto here")

// Run compares source with target under spec, sending each discrepancy to sink as it is
// found, and returns the counts. Each reader is read from one goroutine (hash reads both
// concurrently; merge reads them in step, from one goroutine); Run does not close them.
// When ctx is cancelled Run stops soon after (a reader blocked in Next is waited for)
// and returns the counts so far with ctx's error.
// Reaching spec.MaxDiscrepancies is not an error: the Summary says Truncated.
func Run(ctx context.Context, spec Spec, source, target Reader, sink Sink, opts ...Option) (Summary, error) {
	o := options{interval: 100 * time.Millisecond, checkEvery: 256}
	for _, opt := range opts {
		opt(&o)
	}
	if err := spec.Validate(); err != nil {
		return Summary{}, fmt.Errorf("diff: invalid spec: %w", err)
	}
	if spec.Strategy == StrategyChecksum {
		return Summary{}, ErrChecksumStrategy
	}
	if source == nil || target == nil || sink == nil {
		return Summary{}, errors.New("diff: source, target and sink are required")
	}
	p, err := newPlan(spec, source.Columns(), target.Columns())
	if err != nil {
		return Summary{}, fmt.Errorf("diff: invalid spec: %w%s", err, sideNames(source, target))
	}
	r := &run{
		spec: spec,
		p:    p,
		o:    o,
		x:    &emitter{p: p, sink: sink, max: spec.MaxDiscrepancies},
	}
	sum := &r.x.sum
	sum.Strategy = ChooseStrategy(spec, source, target)
	if spec.RowsPerSecond > 0 {
		burst := int(spec.RowsPerSecond / 20) // 50ms worth of rows at a time
		burst = max(1, min(burst, 256))
		r.limiter = rate.NewLimiter(rate.Limit(spec.RowsPerSecond), burst)
	}
	r.sides[0] = r.newSide(source, 0)
	r.sides[1] = r.newSide(target, 1)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	if sum.Strategy == StrategyMerge {
		r.split = r.planSplit(source, target)
	}
	stopProgress := r.startProgress()
	switch {
	case r.split != nil:
		var done bool
		done, err = r.mergeSplit(ctx, r.split)
		if !done {
			err = r.merge(ctx)
		}
	case sum.Strategy == StrategyMerge:
		err = r.merge(ctx)
	default:
		err = r.hash(ctx)
	}
	stopProgress()
	sum.SourceRows = r.sides[0].n
	sum.TargetRows = r.sides[1].n
	if o.stats != nil {
		st := r.hstats
		st.Strategy, st.SourceRows, st.TargetRows, st.Elapsed = sum.Strategy, sum.SourceRows, sum.TargetRows, time.Since(start)
		o.stats(st)
	}
	if errors.Is(err, errTruncated) {
		err = nil
	}
	return *sum, err
}

type run struct {
	spec    Spec
	p       *plan
	o       options
	x       *emitter
	limiter *rate.Limiter
	sides   [2]*sideReader
	hstats  Stats     // hash's part of the Stats, set when hash returns
	split   *splitRun // a sorted merge split by key range (split.go), or nil

	// Join progress, published by hash: parts is set before joining.
	joining atomic.Bool
	parts   atomic.Int64
	joined  atomic.Int64
}

// progress is what the progress callback is told, with the rows read on each side.
func (r *run) progress(src, tgt int64) Progress {
	p := Progress{SourceRows: src, TargetRows: tgt, Phase: PhaseReading}
	if r.joining.Load() {
		p.Phase = PhaseJoining
		p.Partitions = int(r.parts.Load())
		p.PartitionsJoined = int(r.joined.Load())
	}
	return p
}

// sideReader reads one side: rate limiting, cancellation, progress counting.
type sideReader struct {
	_       [128]byte // written per row by its goroutine: keep it off others' cache lines
	r       Reader
	side    int
	enc     *encoder
	lim     *rate.Limiter
	every   int64
	n       int64        // rows read (owned by the reading goroutine)
	eof     bool         // the reader has ended
	shown   atomic.Int64 // rows read, published for progress
	tokens  int
	pending int64
	_       [128]byte
}

func (r *run) newSide(rd Reader, side int) *sideReader {
	return &sideReader{r: rd, side: side, enc: newEncoder(r.p, side), lim: r.limiter, every: int64(r.o.checkEvery)}
}

// next returns the next row, io.EOF at the end, or an error naming the side.
func (s *sideReader) next(ctx context.Context) ([]Cell, error) {
	if err := s.before(ctx); err != nil {
		return nil, err
	}
	return s.after(s.r.Next())
}

// nextLine is next for a LineReader: the row's line (nil cells) when it comes as one.
func (s *sideReader) nextLine(ctx context.Context, lr LineReader) ([]byte, []Cell, error) {
	if err := s.before(ctx); err != nil {
		return nil, nil, err
	}
	line, cells, err := lr.NextLine(s.enc.lines.need)
	cells, err = s.after(cells, err)
	return line, cells, err
}

// nextLoose is nextLine for a LooseLineReader (the line join).
func (s *sideReader) nextLoose(ctx context.Context, lr LooseLineReader) ([]byte, bool, []Cell, error) {
	if err := s.before(ctx); err != nil {
		return nil, false, nil, err
	}
	line, counted, cells, err := lr.NextLineLoose(s.enc.lines.need)
	cells, err = s.after(cells, err)
	return line, counted, cells, err
}

// took counts n rows read in a batch (after has not seen them).
func (s *sideReader) took(n int) {
	s.n += int64(n)
	s.pending += int64(n)
}

// before does what comes before reading a row: publishing progress, checking for
// cancellation, rate limiting.
func (s *sideReader) before(ctx context.Context) error {
	if s.pending >= s.every {
		s.shown.Store(s.n)
		s.pending = 0
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if s.lim != nil {
		if s.tokens == 0 {
			if err := s.lim.WaitN(ctx, s.lim.Burst()); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("diff: rate limit: %w", err)
			}
			s.tokens = s.lim.Burst()
		}
		s.tokens--
	}
	return nil
}

// after counts a row read with err: nil for a row (one the reader could not make into
// cells too: the encoder makes it an invalid_row), io.EOF, or an error naming the side.
func (s *sideReader) after(cells []Cell, err error) ([]Cell, error) {
	if err != nil {
		var bad InvalidRowError
		if errors.As(err, &bad) {
			// The encoder turns the row into an invalid_row outcome with this reason, and
			// its key shows the row's values when the reader could tell them apart.
			_, s.enc.rowErr = bad.InvalidRow()
			cells = nil
			var rc RowCellser
			if errors.As(err, &rc) {
				cells = rc.RowCells()
			}
			s.n++
			s.pending++
			return cells, nil
		}
		s.shown.Store(s.n)
		if errors.Is(err, io.EOF) {
			s.eof = true
			return nil, io.EOF
		}
		if pos := s.r.Position(); pos == "" || !strings.HasPrefix(err.Error(), pos+":") {
			return nil, fmt.Errorf("diff: read %s at %s: %w", sideName(s.side), pos, err)
		}
		return nil, fmt.Errorf("diff: read %s at %w", sideName(s.side), err) // the error names the position
	}
	s.n++
	s.pending++
	return cells, nil
}

func (r *run) startProgress() (stop func()) {
	fn := r.o.progress
	if fn == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.o.interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn(r.shown())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		fn(r.progress(r.sides[0].n, r.sides[1].n))
	}
}

// sideNames says which inputs a spec error is about, when the readers can tell
// (" (source bank.csv, target ledger.csv)"), else "".
func sideNames(source, target Reader) string {
	s, okS := source.(Namer)
	t, okT := target.(Namer)
	if !okS || !okT || s.Name() == "" || t.Name() == "" {
		return ""
	}
	return fmt.Sprintf(" (source %s, target %s)", s.Name(), t.Name())
}

// wrapCtx turns a context error into the run's error.
func wrapCtx(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("diff: stopped: %w", err)
	}
	return err
}

// shown returns the rows read so far, for progress: both halves' of a split merge while
// it runs, and no fewer after it (the in-step merge it falls back to counts from zero:
// progress counts never go down).
func (r *run) shown() Progress {
	src, tgt := r.sides[0].shown.Load(), r.sides[1].shown.Load()
	if sp := r.split; sp != nil {
		h := &sp.halves
		hs, ht := h[0][0].shown.Load()+h[1][0].shown.Load(), h[0][1].shown.Load()+h[1][1].shown.Load()
		if sp.active.Load() {
			return r.progress(hs, ht)
		}
		src, tgt = max(src, hs), max(tgt, ht)
	}
	return r.progress(src, tgt)
}
