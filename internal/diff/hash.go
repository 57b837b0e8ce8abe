package diff

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Hash partitioning with spill.
//
// Read phase: each side's goroutine encodes its rows into records and appends them to one
// of P partitions by key hash. A partition is a list of fixed-size chunks taken from a
// pool shared by both sides; the pool never holds more than the budget. Each side spills
// to a file of its own, so the two readers share nothing but the pool's lock, taken once
// per chunk. When a chunk cannot be had, the side spills its largest partition still in
// memory: its chunks are written out, each as one block (records never straddle blocks),
// and from then on the partition keeps one chunk in memory, written out whenever it
// fills. Partitions that never spill stay whole in memory (hybrid hash join), so what is
// written once is not written again. Writes are whole chunks (32 KiB at the default
// budget) appended at the end of the file: on the page cache, writes of 32-64 KiB cost
// less than bigger ones. Rows keep their input order (file, then memory).
//
// Join phase: up to GOMAXPROCS workers join independent partitions concurrently, those
// wholly in memory first. A worker takes, in one step, the pool memory its partition
// needs: chunks to read its blocks back into and a hash table sized for its rows. When
// that memory cannot be had, it waits while another worker holds memory (which that
// worker gives back without waiting for anything) or joins a partition taken earlier;
// otherwise it spills partitions not being joined, largest first. A partition that does
// not fit even then is partitioned again on disk with the next bits of the hash,
// recursively, by one worker at a time. One that more bits do not split (most of its
// rows share a key: a placeholder key in millions of rows) is joined by streaming its
// rows and keeping only each key's first row per side (joinCompact): memory for its
// keys, not its rows. The table, keyed by the key tuple, counts the rows
// of each key on each side and refers to the first row in place (duplicates are counted,
// never kept); when a target row finds its key's source row, a key whose two rows have
// the same value bytes is marked matched there and then, while both rows are in cache.
//
// Outcomes: each worker decides with an emitter of its own and passes discrepancies to
// the run's emitter (and so to the sink) under a lock, one goroutine at a time. Without
// MaxDiscrepancies the order does not matter. With it, the order is fixed so that which
// discrepancies are found before the limit, and every count, do not depend on scheduling,
// memory or fan-out: outcomes are in ascending order of the bit-reversed key hash
// (partition p at level l holds the hashes whose bits l*b.. (l+1)*b-1 are p, so
// partitions are taken in bit-reversed order and each table's entries are sorted), ties
// in input order. A worker buffers at most MaxDiscrepancies+1 discrepancies of its
// partition, each with the number of matches before it, then replays them into the run's
// emitter when every earlier partition has.

// hashStats reports memory use to tests (Stats has the same, for callers).
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
	if n := len(m.free); n > 0 {
		c := m.free[n-1]
		m.free[n-1] = nil
		m.free = m.free[:n-1]
		m.mu.Unlock()
		return c[:0]
	}
	if !force && m.used+int64(m.cs) > m.limit {
		m.mu.Unlock()
		return nil
	}
	m.add(int64(m.cs))
	m.mu.Unlock()
	return make([]byte, 0, m.cs)
}

// put gives a chunk back (or forgets a buffer of another size, accounted with reserve).
func (m *memPool) put(c []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cap(c) != m.cs {
		m.used -= int64(cap(c))
		return
	}
	m.free = append(m.free, c[:0])
}

// takeFree takes the free chunks out of the pool (and its accounting), for another
// pool to adopt.
func (m *memPool) takeFree() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	free := m.free
	m.free = nil
	m.used -= int64(len(free)) * int64(m.cs)
	return free
}

// adopt makes chunks another pool took free (takeFree) its own, as many as its limit
// allows: memory the process has touched already, not garbage beside new chunks until
// the collector runs.
func (m *memPool) adopt(chunks [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range chunks {
		if cap(c) == m.cs && m.used+int64(m.cs) <= m.limit {
			m.free = append(m.free, c[:0])
			m.add(int64(m.cs))
		}
	}
}

// dropFree forgets free chunks until n more bytes fit. Called with mu held.
func (m *memPool) dropFree(n int64) {
	for m.used+n > m.limit && len(m.free) > 0 {
		m.free[len(m.free)-1] = nil
		m.free = m.free[:len(m.free)-1]
		m.used -= int64(m.cs)
	}
}

// reserve accounts for n bytes allocated outside chunks, dropping free chunks to make
// room; it fails when the pool is at its limit.
func (m *memPool) reserve(n int64, force bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropFree(n)
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

// room is how many bytes could still be had: up to the limit, and the free chunks.
func (m *memPool) room() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.limit - m.used + int64(len(m.free))*int64(m.cs)
}

// grab accounts at once for k chunks and extra bytes (allocated by the caller outside
// chunks), or for nothing when they do not fit. It appends the chunks it can reuse to
// dst and says how many the caller must make.
func (m *memPool) grab(dst [][]byte, k int, extra int64) (_ [][]byte, fresh int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	reuse := min(k, len(m.free))
	fresh = k - reuse
	need := int64(fresh)*int64(m.cs) + extra
	spare := int64(len(m.free)-reuse) * int64(m.cs)
	if m.used+need-spare > m.limit {
		return dst, 0, false
	}
	n := len(m.free) - reuse
	for i, c := range m.free[n:] {
		dst = append(dst, c[:0])
		m.free[n+i] = nil
	}
	m.free = m.free[:n]
	m.dropFree(need)
	m.add(need)
	return dst, fresh, true
}

// block is a run of whole records in a spill file: n bytes at off. A block is at most a
// chunk, unless it holds one record bigger than a chunk.
type block struct {
	off int64
	n   int
}

// part is one side of one partition: rows in blocks of the spill file first, then in
// chunks. A spilled part keeps only cur in memory.
type part struct {
	chunks    [][]byte // full chunks
	cur       []byte   // chunk being filled
	rows      int64
	memBytes  int64 // bytes of records in chunks and cur
	blocks    []block
	fileBytes int64
	spilled   bool
	taken     bool   // the join phase took it (or is done with it)
	last      uint64 // a line join's: the locator of the last row placed (placePrec)
}

type partitioner struct {
	h     *hashRun
	parts []part
	level int
	shift uint
	mask  uint64
	name  string
	file  *os.File // blocks of every part, appended; read back with ReadAt
	path  string
	size  int64
}

type hashRun struct {
	r       *run
	ctx     context.Context
	pool    *memPool
	cs      int
	fanout  int
	bits    uint
	ordered bool // MaxDiscrepancies: outcomes in a fixed order
	tmpRoot string
	dirOnce sync.Once
	dir     string
	dirErr  error
	seq     atomic.Int64
	spills  atomic.Int64
	spilled atomic.Int64 // bytes written to spill files
	reparts atomic.Int64

	// Both sides can read rows again: records are fingerprinted (fingerprint.go).
	refetch   [2]Refetcher
	refetched atomic.Int64
	readDone  time.Duration // wall time of the read phase
	lines     bool          // a line join (linejoin.go)

	// Join phase. mu guards the memory decisions (holders, taking and spilling
	// partitions of level 0), the turns of ordered outcomes and the run's emitter then;
	// cond is signalled when a holder gives memory back, when a turn passes and when the
	// run stops. emu guards the run's emitter when outcomes are not ordered.
	emu     sync.Mutex
	emitErr error // the run's emitter failed: guarded like the emitter
	mu      sync.Mutex
	cond    sync.Cond
	ws      [2]*partitioner // level 0
	maxRows int64           // rows of the biggest partition of level 0
	jobs    []int           // partitions of level 0, in the order they are taken
	next    int             // jobs[next:] are not taken yet
	holders int             // workers holding memory for a join
	compact int             // of them, in joinCompact (which may wait for the others)
	busy    []int           // positions in jobs being joined
	waiting []*joinWorker   // workers waiting for memory in acquire
	turn    int             // ordered: position in jobs whose outcomes go out next
	stopped bool
	halt    atomic.Bool // stopped, for workers busy joining
	err     error
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
	return &partitioner{h: h, parts: make([]part, h.fanout), level: level, shift: uint(level) * h.bits,
		mask: uint64(h.fanout - 1), name: name}
}

// add appends a record to its partition.
func (w *partitioner) add(rec []byte) error { return w.addHashed(rec, recHash(rec)) }

// addHashed is add for a record whose hash is known.
func (w *partitioner) addHashed(rec []byte, h uint64) error {
	pt := w.partOf(h)
	pt.rows++
	if len(pt.cur)+len(rec) <= cap(pt.cur) {
		pt.cur = append(pt.cur, rec...)
		pt.memBytes += int64(len(rec))
		return nil
	}
	return w.addSlow(pt, rec)
}

// partOf returns the part of hash h.
func (w *partitioner) partOf(h uint64) *part { return &w.parts[int((h>>w.shift)&w.mask)] }

// placeIn adds a record of n bytes to part pt (partOf its hash) and returns it, to be
// written in place before the next call.
func (w *partitioner) placeIn(pt *part, n int) ([]byte, error) {
	pt.rows++
	l := len(pt.cur)
	if l+n > cap(pt.cur) {
		var zero [64]byte
		if err := w.addSlow(pt, zero[:n]); err != nil {
			return nil, err
		}
		return pt.cur[len(pt.cur)-n:], nil
	}
	pt.cur = pt.cur[:l+n]
	pt.memBytes += int64(n)
	return pt.cur[l:], nil
}

func (w *partitioner) addSlow(pt *part, rec []byte) error {
	pool := w.h.pool
	if len(rec) > pool.cs {
		// A record bigger than a chunk goes straight to the file, after what is in memory.
		if err := w.spill(pt, true); err != nil {
			return err
		}
		return w.write(pt, rec)
	}
	if pt.cur == nil {
		pt.cur = pool.get(true) // every partition may hold one chunk
	}
	for len(pt.cur)+len(rec) > cap(pt.cur) {
		if pt.spilled {
			// Write the full chunk through and reuse it.
			if err := w.spill(pt, true); err != nil {
				return err
			}
			break
		}
		if c := pool.get(false); c != nil {
			pt.chunks = append(pt.chunks, pt.cur)
			pt.cur = c
			break
		}
		q := w.largest()
		if q == nil {
			q = pt // nothing else of ours in memory: write this partition out
		}
		if err := w.spill(q, q == pt); err != nil {
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

// write appends one block to the partitioner's file.
func (w *partitioner) write(pt *part, b []byte) error {
	if w.file == nil {
		dir, err := w.h.tempDir()
		if err != nil {
			return err
		}
		w.path = filepath.Join(dir, fmt.Sprintf("%s-%d", w.name, w.h.seq.Add(1)))
		f, err := os.OpenFile(w.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("diff: hash: spill: %w", err)
		}
		w.file = f
	}
	if _, err := w.file.WriteAt(b, w.size); err != nil {
		return fmt.Errorf("diff: hash: spill: %w", err)
	}
	w.h.spilled.Add(int64(len(b)))
	pt.blocks = append(pt.blocks, block{off: w.size, n: len(b)})
	pt.fileBytes += int64(len(b))
	w.size += int64(len(b))
	pt.spilled = true
	return nil
}

// spill writes a partition's full chunks to the file and gives them back; with cur, its
// current chunk too (kept, empty).
func (w *partitioner) spill(pt *part, cur bool) error {
	if len(pt.chunks) == 0 && (!cur || len(pt.cur) == 0) {
		return nil
	}
	w.h.spills.Add(1)
	for i, c := range pt.chunks {
		if err := w.write(pt, c); err != nil {
			return err
		}
		pt.memBytes -= int64(len(c))
		w.h.pool.put(c)
		pt.chunks[i] = nil
	}
	pt.chunks = pt.chunks[:0]
	if cur && len(pt.cur) > 0 {
		if err := w.write(pt, pt.cur); err != nil {
			return err
		}
		pt.memBytes -= int64(len(pt.cur))
		pt.cur = pt.cur[:0]
	}
	pt.spilled = true
	return nil
}

// spillAll writes everything a partition holds in memory out and gives the memory back.
func (w *partitioner) spillAll(pt *part) error {
	if err := w.spill(pt, true); err != nil {
		return err
	}
	if pt.cur != nil {
		w.h.pool.put(pt.cur)
		pt.cur = nil
	}
	return nil
}

// discard gives the memory of every part back and removes the spill file.
func (w *partitioner) discard() error {
	for i := range w.parts {
		w.h.drop(&w.parts[i])
	}
	return w.close()
}

// close closes and removes the spill file.
func (w *partitioner) close() error {
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
	if rerr := os.Remove(w.path); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("diff: hash: spill: %w", err)
	}
	return nil
}

// drop releases a partition's memory (its blocks stay in the file until it is closed).
func (h *hashRun) drop(pt *part) {
	for _, c := range pt.chunks {
		h.pool.put(c)
	}
	if pt.cur != nil {
		h.pool.put(pt.cur)
	}
	// Field by field: taken, which other workers read, is true already and stays so.
	pt.chunks, pt.cur, pt.blocks = nil, nil, nil
	pt.rows, pt.memBytes, pt.fileBytes, pt.spilled, pt.last = 0, 0, 0, false, 0
}

// dataLimit is how much of the budget the pool may hold. The Go heap grows to
// live*(1+GOGC/100) before a collection, whatever produces the garbage (this engine's
// outcomes, or the readers' own rows), so live data gets budget*100/(100+GOGC), less
// 1/16 for the engine's small structures. With GOGC=off, or a memory limit (GOMEMLIMIT,
// debug.SetMemoryLimit) within the budget and a quarter, 3/4 of the budget: the limit
// then bounds the heap, and collections come sooner as it nears.
func dataLimit(budget int64) int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	frac := 0.75
	if s[0].Value.Kind() == metrics.KindUint64 {
		if g := s[0].Value.Uint64(); g <= 10000 {
			frac = 100 / (100 + float64(g))
		}
	}
	if s[1].Value.Kind() == metrics.KindUint64 && s[1].Value.Uint64() <= uint64(budget+budget/4) {
		frac = 0.75
	}
	return int64(float64(budget)*frac) - budget/16
}

// hashSizing derives the chunk size and fan-out from the budget: chunks of 1-32 KiB and
// at most 256 partitions, so that one chunk per partition and side stays within 1/16 of
// the budget. Many small partitions keep a partition's table and rows in cache while it
// is joined, and let several be joined at once.
func hashSizing(budget int64) (cs, fanout int) {
	cs = 1 << 10
	for int64(cs*2) <= budget/4096 && cs < 32<<10 {
		cs *= 2
	}
	fanout = 2
	for fanout < 256 && int64(fanout*2*cs)*32 <= budget {
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
	pool := &memPool{cs: cs, limit: limit}
	pool.adopt(r.o.poolFree)
	h := &hashRun{
		r:       r,
		pool:    pool,
		cs:      cs,
		fanout:  fanout,
		bits:    uint(bits.TrailingZeros(uint(fanout))),
		ordered: r.spec.MaxDiscrepancies > 0,
		tmpRoot: r.spec.TempDir,
	}

	lj := h.planLineJoin()
	h.lines = lj != nil
	if lj == nil && !r.o.noFingerprint {
		s, okS := canRefetch(r.sides[0].r)
		t, okT := canRefetch(r.sides[1].r)
		if okS && okT {
			h.refetch = [2]Refetcher{s, t}
			seeds := newFPSeeds()
			raws, rawOK := rawRecorders(r.p, r.sides[0].r, r.sides[1].r)
			for i, sd := range r.sides {
				sd.enc.seeds, sd.enc.loc = seeds, h.refetch[i]
				if rawOK {
					sd.enc.raw = raws[i]
				}
			}
		}
	}

	h.cond.L = &h.mu
	defer func() {
		if h.dir != "" {
			if rerr := os.RemoveAll(h.dir); rerr != nil && err == nil {
				err = fmt.Errorf("diff: hash: remove spill directory: %w", rerr)
			}
		}
		r.hstats = Stats{MemoryBudget: budget, PoolLimit: h.pool.limit, PoolPeak: h.pool.peak, ChunkSize: cs,
			Partitions: fanout, Spills: h.spills.Load(), SpilledBytes: h.spilled.Load(), Repartitions: h.reparts.Load(),
			Fingerprints: h.refetch[0] != nil || h.lines, LineJoin: h.lines, Refetched: h.refetched.Load(), ReadElapsed: h.readDone}
		if r.o.onHashStats != nil {
			r.o.onHashStats(hashStats{budget: budget, limit: h.pool.limit, peak: h.pool.peak, chunkSize: cs,
				fanout: fanout, spills: h.spills.Load(), repartition: h.reparts.Load()})
		}
	}()

	// Read phase.
	readStart := time.Now()
	ws := [2]*partitioner{h.newPartitioner(0, "s0"), h.newPartitioner(0, "t0")}
	defer func() {
		for _, w := range ws {
			if cerr := w.discard(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// The first side to fail says why; the other then stops on the cancel. A first
	// error that wraps context.Canceled while ctx is live (a reader's own context) is
	// still a failure: the rows read so far are not the whole side.
	var first error
	var once sync.Once
	for side := 0; side < 2; side++ {
		wg.Add(1)
		go func(s *sideReader, w *partitioner) {
			defer wg.Done()
			var err error
			if lj != nil {
				err = lj.read(rctx, s.side, w)
			} else {
				err = s.partition(rctx, w)
			}
			if err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		}(r.sides[side], ws[side])
	}
	wg.Wait()
	cancel()
	if err := ctx.Err(); err != nil {
		return wrapCtx(err)
	}
	if first != nil {
		return first
	}

	// Join phase.
	h.readDone = time.Since(readStart)
	h.ctx = ctx
	h.ws = ws
	if lj != nil {
		return lj.join(ctx, ws)
	}
	return h.joinAll()
}

// partition reads the side to the end into w: each row as a record, from its line
// alone when the reader hands rows over as lines (LineReader) and the line passes the
// quick checks, else from its cells.
func (s *sideReader) partition(ctx context.Context, w *partitioner) error {
	var buf []byte
	lr, lines := s.r.(LineReader)
	lines = lines && s.enc.usePlainLines(lr)
	for {
		var cells []Cell
		var err error
		encoded := false
		if lines {
			var line []byte
			line, cells, err = s.nextLine(ctx, lr)
			if line != nil {
				if buf, encoded = s.enc.encodePlain(buf[:0], line); !encoded {
					cells = lr.LineCells()
				}
			}
		} else {
			cells, err = s.next(ctx)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !encoded {
			// A row without cells is one the reader could not read as a row (rowErr).
			buf = s.enc.encode(buf[:0], cells, s.r)
		}
		if err := w.addHashed(buf, s.enc.hash); err != nil {
			return err
		}
	}
}

// order returns the partitions 0..n-1 in the order they are joined: ascending; when
// outcomes are ordered, in bit-reversed order (see the comment at the top).
func (h *hashRun) order(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	if h.ordered {
		b := uint(bits.TrailingZeros(uint(n)))
		slices.SortFunc(o, func(a, c int) int {
			return cmp.Compare(bits.Reverse(uint(a))>>(bits.UintSize-b), bits.Reverse(uint(c))>>(bits.UintSize-b))
		})
	}
	return o
}

// joinAll joins the partitions of level 0 with up to GOMAXPROCS workers.
func (h *hashRun) joinAll() error {
	for _, i := range h.order(h.fanout) {
		if n := h.ws[0].parts[i].rows + h.ws[1].parts[i].rows; n > 0 {
			h.jobs = append(h.jobs, i)
			h.maxRows = max(h.maxRows, n)
		}
	}
	h.r.parts.Store(int64(len(h.jobs)))
	h.r.joining.Store(true)
	if !h.ordered {
		// Partitions wholly in memory first: joining them gives memory back for the
		// others' blocks instead of taking it.
		slices.SortStableFunc(h.jobs, func(a, b int) int {
			return cmp.Compare(h.ws[0].parts[a].fileBytes+h.ws[1].parts[a].fileBytes,
				h.ws[0].parts[b].fileBytes+h.ws[1].parts[b].fileBytes)
		})
	}
	n := min(runtime.GOMAXPROCS(0), len(h.jobs))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := &joinWorker{h: h}
			wk.x = &emitter{p: h.r.p, sink: wk}
			if h.refetch[0] != nil {
				wk.x.rf = newRefetcher(h.r.p, h.refetch, [2]*encoder{h.r.sides[0].enc, h.r.sides[1].enc}, &h.refetched)
			}
			wk.work()
			wk.t.free(h.pool)
		}()
	}
	wg.Wait()
	if h.err != nil {
		return h.err
	}
	return wrapCtx(h.ctx.Err())
}

// stop ends the join phase with err (the first one wins). Called with mu held.
func (h *hashRun) stop(err error) {
	if !h.stopped {
		h.stopped, h.err = true, err
		h.halt.Store(true)
		h.cond.Broadcast()
	}
}

// joinWorker joins partitions, one at a time.
type joinWorker struct {
	h       *hashRun
	t       table
	held    [][]byte // chunks taken for the partition being joined
	big     int64    // bytes of buffers bigger than a chunk held (in t.segs)
	holder  bool
	pos     int      // position in jobs of the partition of level 0 being joined
	x       *emitter // decides outcomes; sends discrepancies to Emit
	out     []outItem
	passed  int64 // x's matches already passed on to the run's emitter
	full    bool  // ordered: out holds MaxDiscrepancies+1 items
	ops     int
	pending []*partitioner  // partitioners of the worker's own repartitioning
	waitWS  [2]*partitioner // while waiting for memory: the partition it waits for
	waitIdx int
}

// outItem is a discrepancy waiting to go to the run's emitter, with the number of
// matches (of the worker's emitter) decided before it.
type outItem struct {
	d       Discrepancy
	matched int64
}

var errPartitionFull = errors.New("diff: hash: enough discrepancies in this partition")

// Emit makes the worker a Sink for its own emitter.
func (wk *joinWorker) Emit(d Discrepancy) error {
	wk.out = append(wk.out, outItem{d: d, matched: wk.x.sum.Matched})
	if wk.h.ordered {
		if int64(len(wk.out)) > wk.h.r.spec.MaxDiscrepancies {
			// The run cannot go past this one: it stops here or earlier.
			wk.full = true
			return errPartitionFull
		}
		return nil
	}
	if len(wk.out) >= 256 {
		return wk.flush()
	}
	return nil
}

// flush passes the buffered outcomes on to the run's emitter (and the sink), when their
// order does not matter.
func (wk *joinWorker) flush() error {
	h := wk.h
	h.emu.Lock()
	defer h.emu.Unlock()
	return wk.flushLocked()
}

// flushLocked is flush with the run's emitter locked: h.emu, or h.mu when outcomes are
// ordered (and it is the worker's turn).
func (wk *joinWorker) flushLocked() error {
	x := wk.h.r.x
	if err := wk.h.emitErr; err != nil {
		// The sink failed (or the run was truncated): nothing more goes to it.
		clear(wk.out)
		wk.out = wk.out[:0]
		return err
	}
	var err error
	for i := range wk.out {
		it := &wk.out[i]
		if err == nil {
			d := it.matched - wk.passed
			x.sum.Compared += d
			x.sum.Matched += d
			wk.passed = it.matched
			err = x.emit(it.d)
		}
		it.d = Discrepancy{}
	}
	wk.out = wk.out[:0]
	if err != nil {
		wk.h.emitErr = err
	}
	if err == nil {
		d := wk.x.sum.Matched - wk.passed
		x.sum.Compared += d
		x.sum.Matched += d
		wk.passed = wk.x.sum.Matched
	}
	return err
}

func (wk *joinWorker) tick() error { return wk.tickN(1) }

// tickN counts n records, and checks now and then whether the run goes on.
func (wk *joinWorker) tickN(n int) error {
	before := wk.ops
	wk.ops += n
	if wk.ops>>12 != before>>12 {
		if err := wk.h.ctx.Err(); err != nil {
			return wrapCtx(err)
		}
		if wk.h.halt.Load() {
			return errStopped
		}
	}
	return nil
}

// work takes partitions of level 0 until there are none left or the run stops. A worker
// holds memory (its table) only while it is busy with a partition, so that a worker
// alone with partitions to join can count on all memory but that of waiting workers'
// partitions, which it may spill.
func (wk *joinWorker) work() {
	h := wk.h
	h.mu.Lock()
	for {
		if h.stopped || h.next == len(h.jobs) {
			wk.t.free(h.pool)
			h.cond.Broadcast()
			h.mu.Unlock()
			return
		}
		pos := h.next
		i := h.jobs[pos]
		h.next++
		h.ws[0].parts[i].taken, h.ws[1].parts[i].taken = true, true
		wk.pos = pos
		h.busy = append(h.busy, pos)
		h.mu.Unlock()

		err := wk.join(h.ws, i)
		if errors.Is(err, errPartitionFull) {
			err = nil
		}
		wk.full = false
		if err == nil && !h.ordered {
			err = wk.flush()
		}
		h.mu.Lock()
		h.busy = slices.DeleteFunc(h.busy, func(p int) bool { return p == pos })
		h.cond.Broadcast()
		if err == nil && h.ordered {
			// Wait for the partitions before this one, holding no memory.
			wk.t.free(h.pool)
			for h.turn != pos && !h.stopped {
				h.cond.Wait()
			}
			if !h.stopped {
				// Stopping, it keeps the turn: the counts stay where they stopped.
				if err = wk.flushLocked(); err == nil {
					h.turn++
					h.cond.Broadcast()
				}
			}
		}
		if err != nil {
			h.stop(err)
			wk.t.free(h.pool)
			h.mu.Unlock()
			return
		}
		h.r.joined.Add(1)
	}
}

// join joins partition i of a pair of partitioners.
func (wk *joinWorker) join(ws [2]*partitioner, i int) error {
	h := wk.h
	ps, pt := &ws[0].parts[i], &ws[1].parts[i]
	defer h.drop(ps)
	defer h.drop(pt)
	if ps.rows == 0 && pt.rows == 0 {
		return nil
	}
	ok, err := wk.acquire(ws, i)
	if err != nil {
		return err
	}
	if !ok {
		return wk.repartition(ws, i)
	}
	err = wk.joinHeld(ws, ps, pt)
	// The partition's chunks go back before waiting workers are told.
	h.drop(ps)
	h.drop(pt)
	wk.releaseHeld()
	return err
}

// tableNeed returns the size of a table for n rows: entries and slots, with a load of at
// most 3/4 when every row has a key of its own (rows of both sides matching, the load is
// half that).
func tableNeed(n int64) (entries, slots int) {
	entries = int(n)
	slots = 16
	for slots < entries+entries/3+1 {
		slots *= 2
	}
	return entries, slots
}

func tableBytes(entries, slots int) int64 { return int64(entries)*hentrySize + int64(slots)*4 }

// acquire takes the memory to join a partition in one go: a chunk per block, a buffer
// per bigger block, and the table. It returns false when the partition does not fit in
// the pool even alone, after spilling what could be spilled.
func (wk *joinWorker) acquire(ws [2]*partitioner, i int) (bool, error) {
	h := wk.h
	ps, pt := &ws[0].parts[i], &ws[1].parts[i]
	ne, ns := tableNeed(ps.rows + pt.rows)
	tb := tableBytes(ne, ns)
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.stopped {
			return false, errStopped
		}
		// Blocks are read back packed into chunks, in order (see joinHeld). (Counted
		// again each time: while the worker waits, others may spill its partition.)
		k, fill, big := 0, h.cs, int64(0)
		for _, p := range []*part{ps, pt} {
			for _, b := range p.blocks {
				switch {
				case b.n > h.cs:
					big += int64(b.n)
				case fill+b.n > h.cs:
					k, fill = k+1, b.n
				default:
					fill += b.n
				}
			}
		}
		extra := big + max(0, tb-wk.t.reserved)
		// A table made bigger is made big enough for the biggest partition left, if
		// that fits, rather than again for each bigger one.
		ge, gs, gb := ne, ns, tb
		if tb > wk.t.reserved && h.maxRows > ps.rows+pt.rows {
			me, ms := tableNeed(h.maxRows)
			if mb := tableBytes(me, ms); h.pool.room() >= int64(k)*int64(h.cs)+big+mb-wk.t.reserved+int64(h.cs) {
				ge, gs, gb = me, ms, mb
				extra = big + mb - wk.t.reserved
			}
		}
		var fresh int
		var ok bool
		if wk.held, fresh, ok = h.pool.grab(wk.held[:0], k, extra); ok {
			h.holders++
			wk.holder = true
			for range fresh {
				wk.held = append(wk.held, make([]byte, 0, h.cs))
			}
			wk.big = big
			wk.t.grow(ge, gs, gb)
			wk.t.reset(ns)
			return true, nil
		}
		if wk.t.reserved > 0 {
			wk.t.free(h.pool)
			continue
		}
		// Wait for memory while another worker holds some (it gives it back without
		// waiting for anything), joins a partition taken earlier (the earliest one never
		// waits for a later one, so someone always goes on), or is on its way to one of
		// these: the earliest worker spills or partitions again only when every other
		// one is waiting, its rows then free to spill. (Partitioning takes memory of its
		// own: one worker at a time does it.)
		if h.holders > 0 || slices.ContainsFunc(h.busy, func(p int) bool { return p < wk.pos }) ||
			len(h.busy)-1 > len(h.waiting) {
			// While it waits, the rows it holds may be spilled by the one that goes on.
			wk.waitWS, wk.waitIdx = ws, i
			h.waiting = append(h.waiting, wk)
			h.cond.Broadcast() // one more waiting: the earliest may go on
			h.cond.Wait()
			h.waiting = slices.DeleteFunc(h.waiting, func(o *joinWorker) bool { return o == wk })
			wk.waitWS = [2]*partitioner{}
			continue
		}
		if int64(k)*int64(h.cs)+big+tb > h.pool.limit {
			return false, nil // it never will
		}
		spilled, err := wk.spillPending(int64(k)*int64(h.cs) + big + tb)
		if err != nil {
			return false, err
		}
		if !spilled {
			return false, nil
		}
	}
}

var errStopped = errors.New("diff: hash: stopped")

// releaseHeld gives back the memory taken by acquire (the table is kept for the next
// partition, and stays accounted).
func (wk *joinWorker) releaseHeld() {
	h := wk.h
	for i, c := range wk.held {
		h.pool.put(c)
		wk.held[i] = nil
	}
	wk.held = wk.held[:0]
	if wk.big > 0 {
		h.pool.release(wk.big)
		wk.big = 0
	}
	wk.t.release()
	h.mu.Lock()
	if wk.holder {
		wk.holder = false
		h.holders--
	}
	h.cond.Broadcast()
	h.mu.Unlock()
}

// spillPending spills partitions not being joined, largest first, until need bytes could
// be had: those of level 0 not taken yet, those of the worker's own repartitioning, and
// those of workers waiting for memory (the partition each waits for, and those of its
// repartitioning: they touch none of them until they wake up). It reports whether it
// spilled anything. Called with h.mu held.
func (wk *joinWorker) spillPending(need int64) (bool, error) {
	h := wk.h
	spilled := false
	for h.pool.room() < need {
		var bw *partitioner
		var best *part
		better := func(w *partitioner, p *part) {
			if (p.cur != nil || len(p.chunks) > 0) && (best == nil || p.memBytes > best.memBytes) {
				bw, best = w, p
			}
		}
		consider := func(w *partitioner) {
			for i := range w.parts {
				if p := &w.parts[i]; !p.taken {
					better(w, p)
				}
			}
		}
		consider(h.ws[0])
		consider(h.ws[1])
		for _, w := range wk.pending {
			consider(w)
		}
		for _, o := range h.waiting {
			for _, w := range o.waitWS {
				better(w, &w.parts[o.waitIdx])
			}
			for _, w := range o.pending {
				consider(w)
			}
		}
		if best == nil {
			break
		}
		if err := bw.spillAll(best); err != nil {
			return spilled, err
		}
		spilled = true
	}
	return spilled, nil
}

var errNoMemory = errors.New("diff: hash: partition does not fit in the memory budget")

// repartition partitions partition i of ws again on disk with the next bits of the hash,
// and joins the new partitions in turn.
func (wk *joinWorker) repartition(ws [2]*partitioner, i int) error {
	h := wk.h
	ps, pt := &ws[0].parts[i], &ws[1].parts[i]
	level := ws[0].level
	if uint(level+1)*h.bits+h.bits > 64 {
		return wk.joinCompact(ws, i) // no hash bits left to split it with
	}
	rows := ps.rows + pt.rows
	h.reparts.Add(1)
	subs := [2]*partitioner{h.newPartitioner(level+1, fmt.Sprintf("s%d", level+1)), h.newPartitioner(level+1, fmt.Sprintf("t%d", level+1))}
	wk.pending = append(wk.pending, subs[0], subs[1])
	defer func() {
		wk.pending = wk.pending[:len(wk.pending)-2]
		for _, w := range subs {
			_ = w.discard() // cleanup: the directory is removed at the end, errors reported then
		}
	}()
	for side, p := range []*part{ps, pt} {
		w := subs[side]
		if err := wk.stream(ws[side], p, w.add); err != nil {
			return err
		}
		h.drop(p)
	}
	for _, j := range h.order(h.fanout) {
		subs[0].parts[j].taken, subs[1].parts[j].taken = true, true // only this worker spills them
		var err error
		if n := subs[0].parts[j].rows + subs[1].parts[j].rows; n > rows-rows/16 {
			// More bits of the hash did not split it: most of its rows share a key, which
			// no further level would separate. When its keys do not fit either (the
			// partition has many keys besides), it is partitioned again after all.
			if err = wk.joinCompact(subs, j); errors.Is(err, errCompactFull) {
				err = wk.join(subs, j)
			}
		} else {
			err = wk.join(subs, j)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// joinCompact joins a partition that does not fit in memory and cannot be split: its
// rows share a few keys. The rows are streamed once, and the table keeps only what
// deciding a key needs, its first row on each side (the others are counted), copied
// into chunks of its own: memory for its keys, not its rows. The outcomes are those
// joinHeld would give.
//
// Its rows are first written out whole, so that when its keys do not fit either
// (errCompactFull) the partition is still there, untouched, and nothing was decided.
func (wk *joinWorker) joinCompact(ws [2]*partitioner, i int) (err error) {
	h := wk.h
	t := &wk.t
	ps, pt := &ws[0].parts[i], &ws[1].parts[i]
	for side, p := range []*part{ps, pt} {
		if err := ws[side].spillAll(p); err != nil {
			return err
		}
	}
	t.free(h.pool)
	// It holds memory like a worker in joinHeld: the others wait for it rather than spill.
	h.mu.Lock()
	h.holders++
	h.compact++
	h.mu.Unlock()
	defer func() {
		for _, c := range t.segs {
			h.pool.put(c)
		}
		t.free(h.pool)
		h.mu.Lock()
		h.holders--
		h.compact--
		h.cond.Broadcast()
		h.mu.Unlock()
	}()
	if err := wk.growCompact(ps, pt); err != nil {
		return err
	}
	for side, p := range []*part{ps, pt} {
		err := wk.stream(ws[side], p, func(rec []byte) error {
			if len(t.entries) == cap(t.entries) {
				if err := wk.growCompact(ps, pt); err != nil {
					return err
				}
			}
			// The row goes into the table's chunks, and out again when it is only counted.
			seg := len(t.segs) - 1
			if seg < 0 || len(t.segs[seg])+len(rec) > cap(t.segs[seg]) {
				var c []byte
				for c == nil {
					if len(rec) > h.cs {
						if h.pool.reserve(int64(len(rec)), false) {
							c = make([]byte, 0, len(rec))
						}
					} else {
						c = h.pool.get(false)
					}
					if c != nil {
						break
					}
					if ok, err := wk.room(int64(max(len(rec), h.cs))); err != nil {
						return err
					} else if !ok {
						return wk.compactFull(ps, pt)
					}
				}
				t.segs = append(t.segs, c)
				seg++
			}
			off := len(t.segs[seg])
			t.segs[seg] = append(t.segs[seg], rec...)
			kept := t.segs[seg][off:]
			var key []byte
			if recFlags(kept)&flagInvalidKey == 0 {
				key = recKey(kept)
			}
			if !t.insert(side, kept, seg, off, recHash(kept), key) {
				t.segs[seg] = t.segs[seg][:off]
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	err = wk.decideEntries()
	h.drop(ps)
	h.drop(pt)
	return err
}

// growCompact gives joinCompact's table room for twice the keys it holds (at least 16),
// rehashing them.
func (wk *joinWorker) growCompact(ps, pt *part) error {
	h := wk.h
	t := &wk.t
	ne, ns := tableNeed(int64(max(16, 2*len(t.entries))))
	tb := tableBytes(ne, ns)
	for !h.pool.reserve(tb, false) {
		if ok, err := wk.room(tb); err != nil {
			return err
		} else if !ok {
			return wk.compactFull(ps, pt)
		}
	}
	old := t.entries
	reserved := t.reserved
	t.entries = append(make([]hentry, 0, ne), old...)
	t.slots = make([]uint32, ns)
	t.fresh = true
	t.reset(ns)
	t.entries = t.entries[:len(old)]
	for k, e := range t.entries {
		if e.cnt[0] < 0 || e.cnt[1] < 0 {
			continue // a row without a usable key: not in slots
		}
		j := (e.hash * 0x9E3779B97F4A7C15) >> t.shift
		for t.live[j] != 0 {
			j = (j + 1) & t.mask
		}
		t.live[j] = uint32(k + 1)
	}
	h.pool.release(reserved)
	t.reserved = tb
	return nil
}

// room waits until n bytes could be had from the pool: while other workers hold memory
// (they give it back without waiting for anything), else after spilling partitions not
// being joined. false: they never will. The caller is counted in h.compact.
func (wk *joinWorker) room(n int64) (bool, error) {
	h := wk.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.stopped {
			return false, errStopped
		}
		if h.pool.room() >= n {
			return true, nil
		}
		if h.holders > h.compact {
			h.cond.Wait()
			continue
		}
		spilled, err := wk.spillPending(n)
		if err != nil || !spilled {
			return false, err
		}
	}
}

// compactFull is joinCompact's error when even a partition's keys do not fit: it names
// the key with the most rows.
func (wk *joinWorker) compactFull(ps, pt *part) error {
	t := &wk.t
	var top *hentry
	for k := range t.entries {
		if e := &t.entries[k]; e.cnt[0] >= 0 && e.cnt[1] >= 0 && (top == nil || e.cnt[0]+e.cnt[1] > top.cnt[0]+top.cnt[1]) {
			top = e
		}
	}
	msg := fmt.Sprintf("%d source and %d target rows (%d keys held when the memory ran out)", ps.rows, pt.rows, len(t.entries))
	if top != nil {
		side := 0
		if top.cnt[0] == 0 {
			side = 1
		}
		msg += fmt.Sprintf("; the key with the most rows so far is %s (%d source, %d target)",
			wk.h.r.p.formatKey(recKey(t.rec(top.ref[side], 1))), top.cnt[0], top.cnt[1])
	}
	return fmt.Errorf("%w: %w: %s", errNoMemory, errCompactFull, msg)
}

// errCompactFull: joinCompact ran out of memory for a partition's keys.
var errCompactFull = errors.New("not even one row per key fits")

// stream calls fn for each record of a part in order, reading its blocks one at a time
// and giving its chunks back once read.
func (wk *joinWorker) stream(w *partitioner, p *part, fn func(rec []byte) error) error {
	h := wk.h
	if len(p.blocks) > 0 {
		buf := h.pool.get(true)
		defer func() { h.pool.put(buf) }()
		for _, b := range p.blocks {
			data := buf[:min(b.n, h.cs)]
			if b.n > h.cs {
				h.pool.reserve(int64(b.n), true)
				data = make([]byte, b.n)
			}
			err := readBlock(w, b, data)
			if err == nil {
				err = wk.each(data, fn)
			}
			if b.n > h.cs {
				h.pool.release(int64(b.n))
			}
			if err != nil {
				return err
			}
		}
	}
	for i, c := range p.chunks {
		if err := wk.each(c, fn); err != nil {
			return err
		}
		h.pool.put(c)
		p.chunks[i] = nil
	}
	p.chunks = p.chunks[:0]
	if p.cur != nil {
		if err := wk.each(p.cur, fn); err != nil {
			return err
		}
		h.pool.put(p.cur)
		p.cur = nil
	}
	p.memBytes = 0
	return nil
}

func (wk *joinWorker) each(c []byte, fn func(rec []byte) error) error {
	for off := 0; off < len(c); {
		n := recLen(c[off:])
		if err := wk.tick(); err != nil {
			return err
		}
		if err := fn(c[off : off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func readBlock(w *partitioner, b block, dst []byte) error {
	if _, err := w.file.ReadAt(dst, b.off); err != nil {
		return fmt.Errorf("diff: hash: read spill: %w", err)
	}
	return nil
}

// joinHeld builds the table of a partition whose memory is held and decides its keys.
func (wk *joinWorker) joinHeld(ws [2]*partitioner, ps, pt *part) error {
	h := wk.h
	t := &wk.t
	held, fill := wk.held, h.cs // blocks are packed into the held chunks, in order
	var into []byte
	for side, p := range []*part{ps, pt} {
		insert := func(seg int, c []byte) error {
			// In batches: the table's memory for a batch is loaded at once (see touch),
			// then the records are inserted one by one.
			var offs, ends [16]int
			var hs [16]uint64
			var keys [16][]byte
			for off := 0; off < len(c); {
				n := 0
				for ; n < len(offs) && off < len(c); n++ {
					offs[n] = off
					off += recLen(c[off:])
					ends[n] = off
				}
				t.touch(side, c, offs[:n], &hs, &keys)
				for i, o := range offs[:n] {
					t.insert(side, c[o:ends[i]], seg, o, hs[i], keys[i])
				}
				if err := wk.tickN(n); err != nil {
					return err
				}
			}
			return nil
		}
		for _, b := range p.blocks {
			var data []byte
			if b.n > h.cs {
				data = make([]byte, b.n)
			} else {
				if fill+b.n > h.cs {
					into, held, fill = held[0][:h.cs], held[1:], 0
				}
				data = into[fill : fill+b.n : fill+b.n]
				fill += b.n
			}
			if err := readBlock(ws[side], b, data); err != nil {
				return err
			}
			t.segs = append(t.segs, data)
			if err := insert(len(t.segs)-1, data); err != nil {
				return err
			}
		}
		for _, c := range append(p.chunks, p.cur) {
			t.segs = append(t.segs, c)
			if err := insert(len(t.segs)-1, c); err != nil {
				return err
			}
		}
	}
	return wk.decideEntries()
}

// decideEntries decides the outcome of every key of the table, in order when outcomes
// are ordered.
func (wk *joinWorker) decideEntries() error {
	t := &wk.t
	if wk.h.ordered {
		slices.SortStableFunc(t.entries, func(a, b hentry) int {
			return cmp.Compare(bits.Reverse64(a.hash), bits.Reverse64(b.hash))
		})
	}
	x := wk.x
	for i := range t.entries {
		e := &t.entries[i]
		if e.ref[1]&refSame != 0 && e.cnt[0] == 1 && e.cnt[1] == 1 {
			x.sum.count(KindMatched)
			continue
		}
		var err error
		switch {
		case e.cnt[0] < 0:
			err = x.invalidRow(t.rec(e.ref[0], 1), 0)
		case e.cnt[1] < 0:
			err = x.invalidRow(t.rec(e.ref[1], 1), 1)
		default:
			err = x.decide(t.rec(e.ref[0], e.cnt[0]), e.cnt[0], t.rec(e.ref[1], e.cnt[1]), e.cnt[1])
		}
		if err != nil {
			if wk.full {
				return errPartitionFull
			}
			return err
		}
		if err := wk.tickN(1); err != nil {
			return err
		}
	}
	return nil
}

// table is an open-addressing hash table from key tuple to per-side count and first row,
// sized for its partition before it is filled.
type table struct {
	slots    []uint32 // entry index + 1; 0 = empty (live: the first len(live))
	live     []uint32
	entries  []hentry
	segs     [][]byte // record storage: the partition's blocks and chunks
	reserved int64    // bytes of slots and entries accounted in the pool
	shift    uint
	mask     uint64
	sink     uint32 // what touch loaded, so that the loads are kept
	fresh    bool   // slots are all zero
}

// hentry is one key (or one row without a usable key: cnt -1 on its side, not in slots).
type hentry struct {
	hash uint64
	ref  [2]uint64 // seg<<32 | offset of the first record per side
	cnt  [2]int64
}

const hentrySize = 40

// refSame marks ref[1] of a key whose source and target rows have the same value bytes.
const refSame = 1 << 63

// sameValues reports whether two valid records have the same values: tags, canonical
// bytes and text as read, column by column; for fingerprinted records, the same
// fingerprint (the same canonical values).
func sameValues(a, b []byte) bool {
	if recFlags(a)&flagFingerprint != 0 {
		return string(recFingerprint(a)) == string(recFingerprint(b))
	}
	_, va := recRaw(a)
	_, vb := recRaw(b)
	return string(va) == string(vb)
}

func (t *table) rec(ref uint64, n int64) []byte {
	if n == 0 {
		return nil
	}
	seg := t.segs[(ref&^refSame)>>32][uint32(ref):]
	return seg[:recLen(seg)]
}

// grow makes room for ne entries and ns slots (tableNeed), tb bytes (tableBytes): when tb
// is more than the table holds, the caller has accounted for the difference in the pool
// and the arrays are made again.
func (t *table) grow(ne, ns int, tb int64) {
	if tb > t.reserved {
		t.entries = make([]hentry, 0, ne)
		t.slots = make([]uint32, ns)
		t.reserved = tb
		t.fresh = true
	}
}

// reset makes the table empty, using ns of its slots.
func (t *table) reset(ns int) {
	t.live = t.slots[:ns]
	if !t.fresh {
		clear(t.live)
	}
	t.fresh = false
	t.entries = t.entries[:0]
	t.shift = 64 - uint(bits.TrailingZeros(uint(ns)))
	t.mask = uint64(ns - 1)
}

// release forgets the partition's records (slots and entries are kept for the next).
func (t *table) release() {
	clear(t.segs)
	t.segs = t.segs[:0]
}

// free gives back everything.
func (t *table) free(pool *memPool) {
	t.release()
	if t.reserved > 0 {
		pool.release(t.reserved)
	}
	*t = table{segs: t.segs}
}

// touch loads what inserting the records at offs of c will read (their first slot, the
// entry there and, for the target side, the source row of a key already there) so that
// the loads, independent of each other, overlap instead of waiting for each other.
// It leaves the records' hashes in hs and their key tuples in keys.
func (t *table) touch(side int, c []byte, offs []int, hs *[16]uint64, keys *[16][]byte) {
	var slot [16]uint32
	for i, o := range offs {
		var h uint64
		if rec := c[o:]; recFlags(rec)&flagInvalidKey != 0 {
			h, keys[i] = recHash(rec), nil
		} else {
			keys[i] = recKey(rec)
			h = xxhash.Sum64(keys[i])
		}
		hs[i] = h
		slot[i] = t.live[(h*0x9E3779B97F4A7C15)>>t.shift]
	}
	if side == 0 {
		for _, s := range slot[:len(offs)] {
			t.sink += s
		}
		return
	}
	var refs [16]uint64
	var ok [16]bool
	for i := range offs {
		if s := slot[i]; s != 0 {
			if e := &t.entries[s-1]; e.hash == hs[i] && e.cnt[0] != 0 {
				refs[i], ok[i] = e.ref[0], true
			}
		}
	}
	var acc uint32
	for i := range offs {
		if ok[i] {
			acc += uint32(t.segs[refs[i]>>32][uint32(refs[i])])
		}
	}
	t.sink += acc
}

// insert counts one record of a side, whose hash is h and key tuple key, and reports
// whether the table refers to it (a key's first record on a side, or a record without a
// usable key) rather than only counting it.
func (t *table) insert(side int, rec []byte, seg, off int, h uint64, key []byte) bool {
	ref := uint64(seg)<<32 | uint64(off)
	if recFlags(rec)&flagInvalidKey != 0 {
		e := hentry{hash: h}
		e.ref[side], e.cnt[side] = ref, -1
		t.entries = append(t.entries, e)
		return true
	}
	slots := t.live
	j := (h * 0x9E3779B97F4A7C15) >> t.shift
	for {
		s := slots[j]
		if s == 0 {
			break
		}
		e := &t.entries[s-1]
		if e.hash == h {
			other := 0
			if e.cnt[0] == 0 {
				other = 1
			}
			if o := t.rec(e.ref[other], 1); string(recKey(o)) == string(key) {
				kept := e.cnt[side] == 0
				if kept {
					e.ref[side] = ref
					// The source row is at hand: when both rows are valid and their values
					// are the same bytes, the key is matched (emitter.decide's first test),
					// unless another row with the key comes.
					if side == 1 && e.cnt[0] == 1 && (recFlags(o)|recFlags(rec))&(flagInvalidKey|flagInvalidValue) == 0 && sameValues(o, rec) {
						e.ref[1] |= refSame
					}
				}
				e.cnt[side]++
				return kept
			}
		}
		j = (j + 1) & t.mask
	}
	e := hentry{hash: h}
	e.ref[side], e.cnt[side] = ref, 1
	t.entries = append(t.entries, e)
	slots[j] = uint32(len(t.entries))
	return true
}
