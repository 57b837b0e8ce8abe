package diff

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Hash partitioning with spill.
//
// Read phase: each side's goroutine encodes its rows into records and appends them to one
// of P partitions by key hash. A partition is a list of fixed-size chunks taken from a
// pool shared by both sides; the pool never holds more than the budget. When a chunk
// cannot be had, the side spills its largest partition to a file (the records, as they
// are, appended) and reuses the chunks; rows keep their input order (file, then memory).
//
// Compare phase: partition by partition, a hash table keyed by the key tuple counts the
// rows of each key on each side and keeps a reference to the first row (in place for
// rows in memory, copied for rows read back from a file; duplicates are counted, never
// kept). When the table and its copies do not fit, the partition is partitioned again
// with the next bits of the hash, recursively.

// hashStats reports memory use to tests.
type hashStats struct {
	budget, limit, peak int64
	chunkSize, fanout   int
	spills, repartition int64
}

type memPool struct {
	mu    sync.Mutex
	cs    int
	limit int64
	used  int64
	peak  int64
	free  [][]byte
}

func (m *memPool) add(n int64) {
	m.used += n
	if m.used > m.peak {
		m.peak = m.used
	}
}

// get returns an empty chunk, or nil when the pool is at its limit (unless force).
func (m *memPool) get(force bool) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.free); n > 0 {
		c := m.free[n-1]
		m.free = m.free[:n-1]
		return c[:0]
	}
	if !force && m.used+int64(m.cs) > m.limit {
		return nil
	}
	m.add(int64(m.cs))
	return make([]byte, 0, m.cs)
}

func (m *memPool) put(c []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cap(c) != m.cs {
		m.used -= int64(cap(c))
		return
	}
	m.free = append(m.free, c[:0])
}

// reserve accounts for n bytes allocated outside chunks, dropping free chunks to make
// room; it fails when the pool is at its limit.
func (m *memPool) reserve(n int64, force bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.used+n > m.limit && len(m.free) > 0 {
		m.free[len(m.free)-1] = nil
		m.free = m.free[:len(m.free)-1]
		m.used -= int64(m.cs)
	}
	if !force && m.used+n > m.limit {
		return false
	}
	m.add(n)
	return true
}

func (m *memPool) release(n int64) {
	m.mu.Lock()
	m.used -= n
	m.mu.Unlock()
}

// part is one side of one partition: rows in a spill file first, then in chunks.
type part struct {
	chunks    [][]byte // full chunks
	cur       []byte   // chunk being filled
	rows      int64
	memBytes  int64
	path      string
	file      *os.File
	fileBytes int64
}

type partitioner struct {
	h     *hashRun
	wbuf  *bufio.Writer // spill writes, one partition at a time
	parts []part
	shift uint
	mask  uint64
	name  string
	next  int // compare phase: parts[next:] are not processed yet
}

type hashRun struct {
	r       *run
	pool    *memPool
	fanout  int
	bits    uint
	tmpRoot string
	dirOnce sync.Once
	dir     string
	dirErr  error
	seq     atomic.Int64
	spills  atomic.Int64
	reparts int64
	pending []*partitioner // compare phase: partitioners with unprocessed partitions
	t       table
	fileBuf *bufio.Reader
	ioSize  int // spill read and write buffer size
	recBuf  []byte
	ops     int
}

func (h *hashRun) tempDir() (string, error) {
	h.dirOnce.Do(func() {
		h.dir, h.dirErr = os.MkdirTemp(h.tmpRoot, "clearhouse-diff-")
		if h.dirErr != nil {
			h.dirErr = fmt.Errorf("diff: hash: spill directory: %w", h.dirErr)
		}
	})
	return h.dir, h.dirErr
}

func (h *hashRun) newPartitioner(level int, name string) *partitioner {
	return &partitioner{h: h, parts: make([]part, h.fanout), shift: uint(level) * h.bits, mask: uint64(h.fanout - 1), name: name,
		wbuf: bufio.NewWriterSize(nil, h.ioSize)}
}

// add appends a record to its partition.
func (w *partitioner) add(rec []byte) error {
	pt := &w.parts[(recHash(rec)>>w.shift)&w.mask]
	pt.rows++
	if len(pt.cur)+len(rec) <= cap(pt.cur) {
		pt.cur = append(pt.cur, rec...)
		pt.memBytes += int64(len(rec))
		return nil
	}
	return w.addSlow(pt, rec)
}

func (w *partitioner) addSlow(pt *part, rec []byte) error {
	pool := w.h.pool
	if len(rec) > pool.cs {
		// A record bigger than a chunk goes straight to the file, after what is in memory.
		if err := w.spill(pt); err != nil {
			return err
		}
		return w.write(pt, rec)
	}
	if pt.cur == nil {
		pt.cur = pool.get(true) // every partition may hold one chunk
	}
	for len(pt.cur)+len(rec) > cap(pt.cur) {
		if c := pool.get(false); c != nil {
			pt.chunks = append(pt.chunks, pt.cur)
			pt.cur = c
			break
		}
		q := w.largest()
		if q == nil {
			q = pt // nothing else of ours in memory: write this partition's chunk out
		}
		if err := w.spill(q); err != nil {
			return err
		}
	}
	pt.cur = append(pt.cur, rec...)
	pt.memBytes += int64(len(rec))
	return nil
}

// largest returns the partition with the most full chunks, nil when none has any.
func (w *partitioner) largest() *part {
	var best *part
	for i := range w.parts {
		if p := &w.parts[i]; len(p.chunks) > 0 && (best == nil || len(p.chunks) > len(best.chunks)) {
			best = p
		}
	}
	return best
}

func (w *partitioner) open(pt *part) error {
	if pt.file != nil {
		return nil
	}
	dir, err := w.h.tempDir()
	if err != nil {
		return err
	}
	if pt.path == "" {
		pt.path = filepath.Join(dir, fmt.Sprintf("%s-%d", w.name, w.h.seq.Add(1)))
	}
	f, err := os.OpenFile(pt.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("diff: hash: spill: %w", err)
	}
	pt.file = f
	return nil
}

func (w *partitioner) write(pt *part, b []byte) error {
	if err := w.open(pt); err != nil {
		return err
	}
	w.wbuf.Reset(pt.file)
	if _, err := w.wbuf.Write(b); err != nil {
		return fmt.Errorf("diff: hash: spill: %w", err)
	}
	if err := w.wbuf.Flush(); err != nil {
		return fmt.Errorf("diff: hash: spill: %w", err)
	}
	pt.fileBytes += int64(len(b))
	return nil
}

// spill moves a partition's records from memory to its file, keeping its current chunk.
func (w *partitioner) spill(pt *part) error {
	if pt.memBytes == 0 {
		return nil
	}
	w.h.spills.Add(1)
	if err := w.open(pt); err != nil {
		return err
	}
	w.wbuf.Reset(pt.file)
	for _, c := range append(pt.chunks, pt.cur) {
		if _, err := w.wbuf.Write(c); err != nil {
			return fmt.Errorf("diff: hash: spill: %w", err)
		}
		pt.fileBytes += int64(len(c))
	}
	if err := w.wbuf.Flush(); err != nil {
		return fmt.Errorf("diff: hash: spill: %w", err)
	}
	w.wbuf.Reset(nil)
	for i, c := range pt.chunks {
		w.h.pool.put(c)
		pt.chunks[i] = nil
	}
	pt.chunks = pt.chunks[:0]
	pt.cur = pt.cur[:0]
	pt.memBytes = 0
	return nil
}

// finish closes the spill files.
func (w *partitioner) finish() error {
	var errs []error
	for i := range w.parts {
		if f := w.parts[i].file; f != nil {
			if err := f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("diff: hash: spill: %w", err))
			}
			w.parts[i].file = nil
		}
	}
	return errors.Join(errs...)
}

// drop releases a partition's memory and file.
func (h *hashRun) drop(pt *part) {
	for _, c := range pt.chunks {
		h.pool.put(c)
	}
	if pt.cur != nil {
		h.pool.put(pt.cur)
	}
	// Best effort: the spill directory is removed (and its error reported) at the end.
	if pt.file != nil {
		_ = pt.file.Close()
	}
	if pt.path != "" {
		_ = os.Remove(pt.path)
	}
	*pt = part{}
}

// dataLimit is how much of the budget the pool may hold. The Go heap grows to
// live*(1+GOGC/100) before a collection, whatever produces the garbage (this engine's
// outcomes, or the readers' own rows), so live data gets budget*100/(100+GOGC), less
// 1/16 for the engine's small structures. With GOGC=off, 3/4 of the budget (the
// process's GOMEMLIMIT is then what bounds the heap).
func dataLimit(budget int64) int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	frac := 0.75
	if s[0].Value.Kind() == metrics.KindUint64 {
		if g := s[0].Value.Uint64(); g <= 10000 {
			frac = 100 / (100 + float64(g))
		}
	}
	return int64(float64(budget)*frac) - budget/16
}

// hashSizing derives the chunk size and fan-out from the budget: chunks of 1-64 KiB and
// at most 64 partitions, so that one chunk per partition and side stays within 1/16 of
// the budget.
func hashSizing(budget int64) (cs, fanout int) {
	cs = 1 << 10
	for int64(cs*2) <= budget/4096 && cs < 64<<10 {
		cs *= 2
	}
	fanout = 2
	for fanout < 64 && int64(fanout*2*cs)*32 <= budget {
		fanout *= 2
	}
	return cs, fanout
}

func (r *run) hash(ctx context.Context) (err error) {
	budget := r.spec.MemoryBudget
	if budget == 0 {
		budget = DefaultMemoryBudget
	}
	cs, fanout := hashSizing(budget)
	if r.o.chunkSize > 0 {
		cs = r.o.chunkSize
	}
	if r.o.fanout > 0 {
		fanout = r.o.fanout
	}
	limit := dataLimit(budget)
	if r.o.poolLimit > 0 {
		limit = r.o.poolLimit
	}
	h := &hashRun{
		r:       r,
		pool:    &memPool{cs: cs, limit: limit},
		fanout:  fanout,
		bits:    uint(bits.TrailingZeros(uint(fanout))),
		tmpRoot: r.spec.TempDir,
		ioSize:  int(min(256<<10, max(4<<10, budget/64))),
	}
	defer func() {
		if h.dir != "" {
			if rerr := os.RemoveAll(h.dir); rerr != nil && err == nil {
				err = fmt.Errorf("diff: hash: remove spill directory: %w", rerr)
			}
		}
		if r.o.onHashStats != nil {
			r.o.onHashStats(hashStats{budget: budget, limit: h.pool.limit, peak: h.pool.peak, chunkSize: cs,
				fanout: fanout, spills: h.spills.Load(), repartition: h.reparts})
		}
	}()

	// Read phase.
	ws := [2]*partitioner{h.newPartitioner(0, "s0"), h.newPartitioner(0, "t0")}
	defer func() {
		for _, w := range ws {
			_ = w.finish() // cleanup: errors that matter were returned on the way
			for i := range w.parts {
				h.drop(&w.parts[i])
			}
		}
	}()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var errs [2]error
	for side := 0; side < 2; side++ {
		wg.Add(1)
		go func(s *sideReader, w *partitioner) {
			defer wg.Done()
			var buf []byte
			for {
				cells, err := s.next(rctx)
				if err == io.EOF {
					break
				}
				if err == nil {
					buf = s.enc.encode(buf[:0], cells, s.r)
					err = w.add(buf)
				}
				if err != nil {
					errs[s.side] = err
					cancel()
					break
				}
			}
			if err := w.finish(); err != nil && errs[s.side] == nil {
				errs[s.side] = err
				cancel()
			}
		}(r.sides[side], ws[side])
	}
	wg.Wait()
	cancel()
	if err := ctx.Err(); err != nil {
		return wrapCtx(err)
	}
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			return e
		}
	}

	// Compare phase.
	h.fileBuf = bufio.NewReaderSize(nil, h.ioSize)
	return h.joinAll(ctx, ws, 0)
}

// joinAll joins the partitions of a pair of partitioners in turn.
func (h *hashRun) joinAll(ctx context.Context, ws [2]*partitioner, level int) error {
	h.pending = append(h.pending, ws[0], ws[1])
	defer func() { h.pending = h.pending[:len(h.pending)-2] }()
	for i := 0; i < h.fanout; i++ {
		ws[0].next, ws[1].next = i+1, i+1
		if err := h.join(ctx, &ws[0].parts[i], &ws[1].parts[i], level); err != nil {
			return err
		}
	}
	return nil
}

// spillPending spills unprocessed partitions, largest first, until need bytes are free
// in the pool; it reports whether it spilled anything.
func (h *hashRun) spillPending(need int64) (bool, error) {
	spilled := false
	for {
		h.pool.mu.Lock()
		free := h.pool.limit - h.pool.used + int64(len(h.pool.free)*h.pool.cs)
		h.pool.mu.Unlock()
		if free >= need {
			return spilled, nil
		}
		var bw *partitioner
		var best *part
		for _, w := range h.pending {
			for i := w.next; i < len(w.parts); i++ {
				if p := &w.parts[i]; p.cur != nil && (best == nil || p.memBytes > best.memBytes) {
					bw, best = w, p
				}
			}
		}
		if best == nil {
			return spilled, nil
		}
		// Give the chunks back, the current one included.
		err := bw.spill(best)
		if err == nil && best.cur != nil {
			h.pool.put(best.cur)
			best.cur = nil
		}
		if err == nil {
			err = bw.finish()
		}
		if err != nil {
			return spilled, err
		}
		spilled = true
	}
}

var errNoMemory = errors.New("diff: hash: partition does not fit in the memory budget")

// join compares one partition, partitioning it further when it does not fit.
func (h *hashRun) join(ctx context.Context, ps, pt *part, level int) error {
	defer h.drop(ps)
	defer h.drop(pt)
	if ps.rows == 0 && pt.rows == 0 {
		return nil
	}
	err := h.tryJoin(ctx, ps, pt)
	if err != errNoMemory {
		return err
	}
	h.t.free(h.pool)
	// First make room by spilling partitions still waiting (worst case: every row a
	// distinct key, the rows in files copied).
	need := ps.fileBytes + pt.fileBytes + 2*(ps.rows+pt.rows)*(hentrySize+8) + minTableBytes + int64(h.pool.cs)
	if spilled, err := h.spillPending(need); err != nil {
		return err
	} else if spilled {
		if err := h.tryJoin(ctx, ps, pt); err != errNoMemory {
			return err
		}
		h.t.free(h.pool)
	}
	if uint(level+1)*h.bits+h.bits > 64 {
		return fmt.Errorf("%w: %d source and %d target rows still do not fit after %d levels of partitioning", errNoMemory, ps.rows, pt.rows, level+1)
	}
	h.reparts++
	subs := [2]*partitioner{h.newPartitioner(level+1, fmt.Sprintf("s%d", level+1)), h.newPartitioner(level+1, fmt.Sprintf("t%d", level+1))}
	defer func() {
		for _, w := range subs {
			_ = w.finish() // cleanup: errors that matter were returned on the way
			for i := range w.parts {
				h.drop(&w.parts[i])
			}
		}
	}()
	for side, p := range []*part{ps, pt} {
		w := subs[side]
		if err := h.scan(ctx, p, true, func(rec []byte, seg int, off int) error { return w.add(rec) }); err != nil {
			return err
		}
		h.drop(p)
		if err := w.finish(); err != nil {
			return err
		}
	}
	return h.joinAll(ctx, subs, level+1)
}

// scan calls fn for each record of a partition in order: from the file (seg -1, the
// record only valid during the call), then from memory (seg = chunk index; the last is
// cur). With release, memory chunks go back to the pool once scanned.
func (h *hashRun) scan(ctx context.Context, p *part, release bool, fn func(rec []byte, seg, off int) error) error {
	if p.path != "" {
		f, err := os.Open(p.path)
		if err != nil {
			return fmt.Errorf("diff: hash: read spill: %w", err)
		}
		defer func() { _ = f.Close() }() // read only
		h.fileBuf.Reset(f)
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(h.fileBuf, hdr[:]); err != nil {
				if err == io.EOF {
					break
				}
				return fmt.Errorf("diff: hash: read spill: %w", err)
			}
			n := 4 + le32(hdr[:])
			if cap(h.recBuf) < n {
				h.recBuf = make([]byte, n)
			}
			rec := h.recBuf[:n]
			copy(rec, hdr[:])
			if _, err := io.ReadFull(h.fileBuf, rec[4:]); err != nil {
				return fmt.Errorf("diff: hash: read spill: %w", err)
			}
			if err := h.tick(ctx); err != nil {
				return err
			}
			if err := fn(rec, -1, 0); err != nil {
				return err
			}
		}
		h.fileBuf.Reset(nil)
	}
	nseg := len(p.chunks) + 1
	for s := 0; s < nseg; s++ {
		c := p.cur
		if s < len(p.chunks) {
			c = p.chunks[s]
		}
		for off := 0; off < len(c); {
			rec := c[off:]
			n := recLen(rec)
			if err := h.tick(ctx); err != nil {
				return err
			}
			if err := fn(rec[:n], s, off); err != nil {
				return err
			}
			off += n
		}
		if release && c != nil {
			h.pool.put(c)
			if s < len(p.chunks) {
				p.chunks[s] = nil
			} else {
				p.cur = nil
			}
		}
	}
	if release {
		p.chunks = p.chunks[:0]
		p.memBytes = 0
	}
	return nil
}

func (h *hashRun) tick(ctx context.Context) error {
	h.ops++
	if h.ops&4095 == 0 {
		if err := ctx.Err(); err != nil {
			return wrapCtx(err)
		}
	}
	return nil
}

// tryJoin builds the table of one partition and emits its outcomes, or returns
// errNoMemory (having emitted nothing) when it does not fit.
func (h *hashRun) tryJoin(ctx context.Context, ps, pt *part) error {
	t := &h.t
	t.reset(h.pool)
	defer t.release(h.pool)
	for side, p := range []*part{ps, pt} {
		base := len(t.segs)
		t.segs = append(t.segs, p.chunks...)
		t.segs = append(t.segs, p.cur)
		err := h.scan(ctx, p, false, func(rec []byte, seg, off int) error {
			if seg < 0 {
				return t.insert(h.pool, side, rec, -1, 0)
			}
			return t.insert(h.pool, side, rec, base+seg, off)
		})
		if err != nil {
			return err
		}
	}
	x := h.r.x
	for i := range t.entries {
		e := &t.entries[i]
		switch {
		case e.cnt[0] < 0:
			if err := x.invalidRow(t.rec(e.ref[0], 1), 0); err != nil {
				return err
			}
		case e.cnt[1] < 0:
			if err := x.invalidRow(t.rec(e.ref[1], 1), 1); err != nil {
				return err
			}
		default:
			if err := x.decide(t.rec(e.ref[0], e.cnt[0]), e.cnt[0], t.rec(e.ref[1], e.cnt[1]), e.cnt[1]); err != nil {
				return err
			}
		}
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return wrapCtx(err)
			}
		}
	}
	return nil
}

// table is an open-addressing hash table from key tuple to per-side count and first row.
type table struct {
	slots    []uint32 // entry index + 1; 0 = empty
	entries  []hentry
	segs     [][]byte // record storage: partition chunks in place, then copies
	copies   [][]byte // chunks holding copies of records read from files
	cur      []byte   // copy chunk being filled
	curSeg   int      // its index in segs
	reserved int64    // bytes of slots and entries accounted in the pool
	bigBytes int64    // bytes of copies bigger than a chunk
}

// hentry is one key (or one row without a usable key: cnt -1 on its side, not in slots).
type hentry struct {
	hash uint64
	ref  [2]uint64 // seg<<32 | offset of the first record per side
	cnt  [2]int64
}

const (
	hentrySize    = 40
	minTableBytes = 16*hentrySize + 32*4
)

func (t *table) rec(ref uint64, n int64) []byte {
	if n == 0 {
		return nil
	}
	seg := t.segs[ref>>32][uint32(ref):]
	return seg[:recLen(seg)]
}

func (t *table) reset(pool *memPool) {
	clear(t.slots)
	t.entries = t.entries[:0]
	t.segs = t.segs[:0]
}

// release gives back the copies (slots and entries are kept for the next partition).
func (t *table) release(pool *memPool) {
	for _, c := range t.copies {
		pool.put(c)
	}
	clear(t.copies)
	t.copies = t.copies[:0]
	t.cur = nil
	if t.bigBytes > 0 {
		pool.release(t.bigBytes)
		t.bigBytes = 0
	}
	clear(t.segs)
	t.segs = t.segs[:0]
}

// free gives back everything.
func (t *table) free(pool *memPool) {
	t.release(pool)
	pool.release(t.reserved)
	*t = table{}
}

// keep stores a record read from a file and returns its reference.
func (t *table) keep(pool *memPool, rec []byte) (uint64, error) {
	if len(rec) > pool.cs {
		if !pool.reserve(int64(len(rec)), false) {
			return 0, errNoMemory
		}
		t.bigBytes += int64(len(rec))
		t.segs = append(t.segs, bytes.Clone(rec))
		return uint64(len(t.segs)-1) << 32, nil
	}
	if t.cur == nil || len(t.cur)+len(rec) > cap(t.cur) {
		c := pool.get(false)
		if c == nil {
			return 0, errNoMemory
		}
		t.copies = append(t.copies, c)
		t.segs = append(t.segs, c)
		t.cur, t.curSeg = c, len(t.segs)-1
	}
	off := len(t.cur)
	t.cur = append(t.cur, rec...)
	t.segs[t.curSeg] = t.cur
	return uint64(t.curSeg)<<32 | uint64(off), nil
}

func (t *table) grow(pool *memPool) error {
	// Entries: double the capacity.
	if len(t.entries) == cap(t.entries) {
		n := max(2*cap(t.entries), 16)
		need := int64(n * hentrySize)
		if !pool.reserve(need, false) {
			return errNoMemory
		}
		e := make([]hentry, len(t.entries), n)
		copy(e, t.entries)
		pool.release(int64(cap(t.entries) * hentrySize))
		t.reserved += need - int64(cap(t.entries)*hentrySize)
		t.entries = e
	}
	// Slots: keep the load under 1/2.
	if (len(t.entries)+1)*2 > len(t.slots) {
		n := max(2*len(t.slots), 32)
		need := int64(n * 4)
		if !pool.reserve(need, false) {
			return errNoMemory
		}
		pool.release(int64(len(t.slots) * 4))
		t.reserved += need - int64(len(t.slots)*4)
		t.slots = make([]uint32, n)
		shift := 64 - uint(bits.TrailingZeros(uint(n)))
		mask := uint64(n - 1)
		for i := range t.entries {
			e := &t.entries[i]
			if e.cnt[0] < 0 || e.cnt[1] < 0 {
				continue
			}
			j := (e.hash * 0x9E3779B97F4A7C15) >> shift
			for t.slots[j] != 0 {
				j = (j + 1) & mask
			}
			t.slots[j] = uint32(i + 1)
		}
	}
	return nil
}

// insert counts one record of a side; seg < 0 means the record must be copied if kept.
func (t *table) insert(pool *memPool, side int, rec []byte, seg, off int) error {
	if len(t.entries) == cap(t.entries) || (len(t.entries)+1)*2 > len(t.slots) {
		if err := t.grow(pool); err != nil {
			return err
		}
	}
	ref := func() (uint64, error) {
		if seg < 0 {
			return t.keep(pool, rec)
		}
		return uint64(seg)<<32 | uint64(off), nil
	}
	h := recHash(rec)
	if recFlags(rec)&flagInvalidKey != 0 {
		r, err := ref()
		if err != nil {
			return err
		}
		e := hentry{hash: h}
		e.ref[side], e.cnt[side] = r, -1
		t.entries = append(t.entries, e)
		return nil
	}
	key := recKey(rec)
	n := len(t.slots)
	shift := 64 - uint(bits.TrailingZeros(uint(n)))
	mask := uint64(n - 1)
	j := (h * 0x9E3779B97F4A7C15) >> shift
	for {
		s := t.slots[j]
		if s == 0 {
			break
		}
		e := &t.entries[s-1]
		if e.hash == h {
			other := 0
			if e.cnt[0] == 0 {
				other = 1
			}
			if bytes.Equal(recKey(t.rec(e.ref[other], 1)), key) {
				if e.cnt[side] == 0 {
					r, err := ref()
					if err != nil {
						return err
					}
					e.ref[side] = r
				}
				e.cnt[side]++
				return nil
			}
		}
		j = (j + 1) & mask
	}
	r, err := ref()
	if err != nil {
		return err
	}
	e := hentry{hash: h}
	e.ref[side], e.cnt[side] = r, 1
	t.entries = append(t.entries, e)
	t.slots[j] = uint32(len(t.entries))
	return nil
}
