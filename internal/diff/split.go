package diff

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// Sorted merge split by key range. Reading both sides in step on one goroutine leaves a
// core idle, and handing rows to another goroutine costs more than it saves (merge.go).
// When both sides can be read from a byte offset (RangeSplitter: local files), the key
// range is cut in two instead: a split key K near the middle of the source, the first
// target row with a key at or above K found by binary search, and two merges on two
// goroutines, [start, K) and [K, end), each with readers of its own, so no row crosses
// cores. Both halves' outcomes are buffered (bounded) and emitted in key order once both
// are done, first half first: the outcomes, their order, positions and the summary are
// the in-step merge's (the second half's positions count from the split offset until
// then, when the first half knows how many lines precede it: RangeSplitter.Rebase).
// Whenever that cannot be shown (a half fails, as with out-of-order rows or a split
// inside a quoted field; the halves' keys overlap; a second half starts with a row
// without a usable key, which the in-step merge would report earlier; too many outcomes
// to buffer) the halves' work is dropped and the in-step merge runs on the untouched
// original readers, which reports what it reports.

// RangeSplitter is a Reader over a seekable file that can read rows from byte offsets.
// Offsets are the reader's own; the engine only compares and halves them.
type RangeSplitter interface {
	Reader
	// SplitRange returns the byte range of the rows; ok is false when the reader cannot
	// split (rows were read already, or it is not a seekable file).
	SplitRange() (start, end int64, ok bool)
	// RowAt returns the first row starting at or after off (after resynchronizing on a
	// row start, which may be wrong inside a multi-line value: the engine verifies the
	// split), the offset where it starts and where the next row starts; io.EOF when none.
	// A malformed row comes with its InvalidRowError. Cells are valid until the next call.
	RowAt(off int64) (cells []Cell, start, next int64, err error)
	// SplitAt returns independent readers over the rows before off and from off (an
	// offset RowAt returned as a start). The first gives the positions the reader itself
	// would give; the second's are made so by Rebase, once the first has read its rows
	// (so that no one has to count what lies before off before the halves can start).
	SplitAt(off int64) (first, second Reader, err error)
	// Rebase returns the reader's own position of a position the second reader of
	// SplitAt gave, first being the first reader after it read all of its rows.
	Rebase(first Reader, pos string) string
}

// WithoutRangeSplit makes a sorted merge read both sides in step on one goroutine even
// when they could be split by key range.
func WithoutRangeSplit() Option { return func(o *options) { o.noSplit = true } }

// splitBufferBytes bounds the outcomes the split merge buffers (roughly, in bytes; half
// the memory budget when that is less); past it the run falls back to the in-step merge.
const splitBufferBytes = 64 << 20

var errSplitFull = errors.New("diff: split merge: outcome buffer full")

// splitRun is a planned split merge: per half, per side, the readers.
type splitRun struct {
	halves [2][2]*sideReader
	split  [2]RangeSplitter // per side
	active atomic.Bool      // progress reads the halves while set
}

// planSplit returns the split of a sorted merge of source and target, or nil when the
// merge should run in step.
func (r *run) planSplit(source, target Reader) *splitRun {
	if r.o.noSplit || runtime.GOMAXPROCS(0) < 2 || r.limiter != nil || r.spec.MaxDiscrepancies > 0 {
		return nil
	}
	src, ok1 := source.(RangeSplitter)
	tgt, ok2 := target.(RangeSplitter)
	if !ok1 || !ok2 {
		return nil
	}
	sStart, sEnd, ok1 := src.SplitRange()
	tStart, tEnd, ok2 := tgt.SplitRange()
	if !ok1 || !ok2 || sEnd-sStart < 1<<20 {
		return nil
	}
	// K: the first key, from the middle of the source on, that differs from the usable
	// key before it, so that no key's rows straddle the split.
	encS, encT := newEncoder(r.p, 0), newEncoder(r.p, 1)
	var prev, key []byte
	sOff := int64(-1)
	for i, off := 0, sStart+(sEnd-sStart)/2; i < 1<<16; i++ {
		var (
			start     int64
			eof, good bool
		)
		key, start, off, eof, good = keyAt(src, encS, key, off)
		if eof || !good {
			return nil
		}
		if prev != nil && r.p.cmpKey(prev, key) < 0 {
			sOff = start
			break
		}
		prev = append(prev[:0], key...)
	}
	if sOff < 0 {
		return nil
	}
	// The first target row with a usable key >= K: binary search over offsets, then a
	// scan of the last few rows.
	var tkey []byte
	lo, hi := tStart, tEnd
	for hi-lo > 4096 {
		mid := lo + (hi-lo)/2
		var eof, good bool
		tkey, _, _, eof, good = keyAt(tgt, encT, tkey, mid)
		switch {
		case !good:
			return nil
		case eof || r.p.cmpKey(tkey, key) >= 0:
			hi = mid
		default:
			lo = mid
		}
	}
	tOff := int64(-1)
	for i, off := 0, lo; i < 1<<16; i++ {
		var (
			start     int64
			eof, good bool
		)
		tkey, start, off, eof, good = keyAt(tgt, encT, tkey, off)
		if !good {
			return nil
		}
		if eof {
			tOff = tEnd
			break
		}
		if r.p.cmpKey(tkey, key) >= 0 {
			tOff = start
			break
		}
	}
	if tOff < 0 {
		return nil
	}
	s1, s2, errS := src.SplitAt(sOff)
	t1, t2, errT := tgt.SplitAt(tOff)
	if errS != nil || errT != nil {
		return nil
	}
	sp := &splitRun{split: [2]RangeSplitter{src, tgt}}
	sp.halves[0] = [2]*sideReader{r.newSide(s1, 0), r.newSide(t1, 1)}
	sp.halves[1] = [2]*sideReader{r.newSide(s2, 0), r.newSide(t2, 1)}
	sp.active.Store(true)
	return sp
}

// keyAt returns the first row at or after off with a usable key: its key tuple (in
// buf), where it starts and where the next row starts; eof when there is none; good
// false on a read error or when no usable key shows up within many rows.
func keyAt(rs RangeSplitter, enc *encoder, buf []byte, off int64) (key []byte, start, next int64, eof, good bool) {
	var bad InvalidRowError
	for range 1 << 16 {
		cells, st, nx, err := rs.RowAt(off)
		switch {
		case errors.Is(err, io.EOF):
			return buf, 0, 0, true, true
		case errors.As(err, &bad):
			off = nx
			continue
		case err != nil:
			return buf, 0, 0, false, false
		}
		off = nx
		var reason string
		if buf, reason = enc.appendKey(buf[:0], cells); reason == "" {
			return buf, st, nx, false, true
		}
	}
	return buf, 0, 0, false, false
}

// bufSink keeps a half's outcomes, up to a shared bound, and where the half was when it
// found each one (for the summary of a run whose sink fails: see splitStopped).
type bufSink struct {
	out   []Discrepancy
	at    []splitAt
	x     *emitter
	sides [2]*sideReader
	used  *atomic.Int64
	limit int64
}

// splitAt is where a half was when it found an outcome: its matched keys and, per side,
// its rows read and whether its section had ended.
type splitAt struct {
	matched int64
	n       [2]int64
	eof     [2]bool
}

func (b *bufSink) Emit(d Discrepancy) error {
	n := int64(256 + len(d.Reason) + len(d.Position))
	for _, k := range d.Key {
		n += int64(len(k.Name) + len(k.Value.Text))
	}
	for _, c := range d.Columns {
		n += int64(64 + len(c.Source.Text) + len(c.Target.Text))
	}
	if b.used.Add(n) > b.limit {
		return errSplitFull
	}
	b.out = append(b.out, d)
	at := splitAt{matched: b.x.sum.Matched}
	for side, sr := range b.sides {
		at.n[side], at.eof[side] = sr.n, sr.eof
	}
	b.at = append(b.at, at)
	return nil
}

// splitStopped makes the summary the in-step merge's when the sink failed on outcome at
// of half h, every outcome before it emitted: the keys matched and the rows read by
// then. In step, a side whose first half had ended had read one more row: the second
// half's first (it starts with a usable key: mergeSplit checked).
func (r *run) splitStopped(sp *splitRun, ms [2]*merger, h int, at splitAt) {
	for side := range 2 {
		n := at.n[side]
		switch {
		case h == 1:
			n += sp.halves[0][side].n
		case at.eof[side] && ms[1].sides[side].has:
			n++
		}
		r.sides[side].n = n
		r.sides[side].shown.Store(n)
	}
	r.x.sum.Compared += at.matched
	r.x.sum.Matched += at.matched
}

// mergeSplit runs the planned split. done is false when the in-step merge must run.
func (r *run) mergeSplit(parent context.Context, sp *splitRun) (done bool, err error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		used  atomic.Int64
		sinks [2]*bufSink
		xs    [2]*emitter
		ms    [2]*merger
		errs  [2]error
		wg    sync.WaitGroup
	)
	limit := int64(splitBufferBytes)
	if b := r.spec.MemoryBudget; b > 0 {
		limit = min(limit, b/2)
	}
	for h := range sp.halves {
		sinks[h] = &bufSink{used: &used, limit: limit, sides: sp.halves[h]}
		xs[h] = &emitter{p: r.p, sink: sinks[h]}
		sinks[h].x = xs[h]
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms[h], errs[h] = r.mergeSides(ctx, xs[h], sp.halves[h])
			if errs[h] != nil {
				cancel() // the other half's work is wasted now
			}
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		sp.active.Store(false)
		return true, wrapCtx(err)
	}
	if errs[0] != nil || errs[1] != nil {
		sp.active.Store(false)
		return false, nil
	}
	// The halves join exactly when every usable key of the first is below every usable
	// key of the second, and no second half reports a row before its first usable key.
	for a := range 2 {
		if ms[1].sides[a].early {
			sp.active.Store(false)
			return false, nil
		}
		for b := range 2 {
			f, s := &ms[0].sides[a], &ms[1].sides[b]
			if f.has && s.has && r.p.cmpKey(f.prev, s.first) >= 0 {
				sp.active.Store(false)
				return false, nil
			}
		}
	}
	for side := range 2 {
		r.sides[side].n = sp.halves[0][side].n + sp.halves[1][side].n
		r.sides[side].shown.Store(r.sides[side].n)
	}
	sp.active.Store(false)
	r.x.sum.Split = true
	for h := range 2 {
		for i, d := range sinks[h].out {
			if h == 1 && d.Position != "" {
				side := 0
				if d.Side == SideTarget {
					side = 1
				}
				d.Position = sp.split[side].Rebase(sp.halves[0][side].r, d.Position)
			}
			if err := r.x.emit(d); err != nil {
				r.splitStopped(sp, ms, h, sinks[h].at[i])
				return true, err
			}
		}
		r.x.sum.Compared += xs[h].sum.Matched
		r.x.sum.Matched += xs[h].sum.Matched
	}
	return true, nil
}
