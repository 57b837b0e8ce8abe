package diff

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Line join: the hash strategy over two files whose rows come as lines of the same form
// (two local CSV files of the same dialect and columns: LineReader, RawRecorder with
// the same RawFormat), with one plain key, both able to read a row again (Refetcher)
// and to name it by its locator (Positioner).
//
// Read phase: a side keeps of each row a 19-byte record (prec): 30 bits of k, the hash
// of its key (keyHash, seeded per run), above the bits that chose its partition; a
// bit for a row the record does not vouch for (an empty key, a wrong field count, a
// typed value that does not parse, a row the reader could not make cells of) and one
// for a row fingerprinted by its cells (a record over several lines, or with a quoted
// key); 96 bits of a 128-bit fingerprint of its line as read (the run's seeds, as
// fingerprint.go's); and its byte offset as the distance from the previous row of its
// part, in 3 bytes (rows of a part come in file order; a distance of 16 MiB or more
// comes in an escape record holding the offset itself). Offsets are read back, by
// adding up distances, only for rows left over. Only one side checks
// a row's typed values: the source when k's top bit is 0, the target when it is 1.
// That side also counts the line's fields (NextLineLoose leaves the count to the
// caller); the other looks no further than the key. Records go to partitions by k
// through the pool, spilling as hash.go's do. On this machine every byte a record
// saves is a byte of memory or page cache less to touch for the first time, which
// costs more than the work of computing it (docs/benchmarks.md).
//
// Join phase: per partition, a table by k. A k with exactly one row on each side, both
// vouched for, with equal fingerprints, is a matched key: two equal lines of the same
// form hold the same key and the same values, and the side that checked those values
// found them valid (two different lines share 96 bits of fingerprint with a
// probability of about 2^-96). Every other k is left over: a row on one side only,
// duplicates, lines that differ (a mismatch, or values equal within a tolerance), rows
// not vouched for, and two keys that share k. All rows of a left-over k on both sides
// are read again (Refetch) and compared by the hash strategy with fingerprints, as a
// run over those rows alone. Each key's rows are all there (they share k), so each key
// gets the outcome a run over every row gives, and an invalid row is reported where it
// is (PositionAt). At 0.1% discrepancies about 0.2% of the rows are read again. A
// partition too big to join in its share of the budget is partitioned again with the
// next bits of k; one whose rows all share k is left over whole.
//
// What that saves against hash.go's fingerprinted records: the key's bytes (a record's
// size is fixed), validating every row's values on both sides, and variable-length
// records in the join: about 30% of the CPU and of the bytes spilled on the bench's
// ledger (docs/benchmarks.md).

const (
	lineKBits = 38 // of the key hash used: its top bits (lineRecKey), partitions' then a record's

	// A partition's record of a row (prec).
	precSize     = 19
	precFP       = 4  // where the fingerprint starts: after k and the flags
	precDelta    = 16 // where the distance from the part's previous row starts
	precKBits    = 30 // of k kept in a record: above the bits of its partition
	precKMask    = 1<<precKBits - 1
	precForced   = 1 << 31                // the row is not vouched for
	precCells    = 1 << 30                // the fingerprint is of the row's cells (cellsPrint)
	precEscape   = precForced | precCells // no row: the locator itself, 5 bytes at precFP
	precMaxDelta = 1 << 24

	// A record of a row left over (lrec): a locator of its own.
	lrecSize   = 22      // k 5 (a prec's 30 bits), fingerprint 12, locator 5
	lrecFP     = 5       // where the fingerprint starts
	lrecLoc    = 17      // where the locator starts
	lrecForced = 1 << 39 // in the locator: precForced
	lrecCells  = 1 << 38 // in the locator: precCells
	lrecFlags  = lrecForced | lrecCells
)

// leftRanges is how many ranges of offsets the records of rows left over are kept in, to
// be read again in offset order a range at a time.
const leftRanges = 64

// WithoutLineJoin makes the hash strategy keep fingerprinted records with keys even
// when both sides could be line-joined (tests compare the two ways).
func WithoutLineJoin() Option { return func(o *options) { o.noLineJoin = true } }

// lineRecKey is what the line join uses of a key hash: its top 38 bits. Partitions of
// level 0 take their bits from its low end, a record keeps the 30 bits above them (kt),
// and the join's table tells keys apart by those; two keys that share all 38 are left
// over together, and told apart by their rows read again.
func lineRecKey(k uint64) uint64 { return k >> (64 - lineKBits) }

// kt is what a record keeps of lineRecKey's k: the bits above those of level 0's
// partitions. Partitions of level L > 0 take their bits from kt<<bits.
func (lj *lineJoin) kt(k uint64) uint64 { return (k >> lj.h.bits) & precKMask }

func precHead(rec []byte) uint32 { return binary.LittleEndian.Uint32(rec) }

// precJump returns the distance from the previous row that a record holds.
func precJump(rec []byte) uint64 {
	return uint64(rec[precDelta]) | uint64(rec[precDelta+1])<<8 | uint64(rec[precDelta+2])<<16
}

// precAt returns the locator an escape record holds.
func precAt(rec []byte) uint64 {
	return uint64(binary.LittleEndian.Uint32(rec[precFP:])) | uint64(rec[precFP+4])<<32
}

// nextLoc returns the locator of a record, given that of the part's previous one (0
// before the first), and whether it is a row's (not an escape).
func nextLoc(rec []byte, loc uint64) (uint64, bool) {
	if precHead(rec)&precEscape == precEscape {
		return precAt(rec), false
	}
	return loc + precJump(rec), true
}

// placePrec adds a row's record to the part of w that hash selects: head (kt and flags),
// fingerprint (a, and b's 32 bits), at locator loc, after the part's rows so far. A row
// 16 MiB or more past the part's previous one (or before it) comes after an escape
// record.
func placePrec(w *partitioner, hash uint64, head uint32, a uint64, b uint32, loc uint64) error {
	pt := w.partOf(hash)
	d := loc - pt.last
	if d >= precMaxDelta {
		esc, err := w.placeIn(pt, precSize)
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(esc, precEscape)
		binary.LittleEndian.PutUint32(esc[precFP:], uint32(loc))
		esc[precFP+4] = byte(loc >> 32)
		d = 0
	}
	pt.last = loc
	rec, err := w.placeIn(pt, precSize)
	if err != nil {
		return err
	}
	// Three stores (byte 15 is b's last in both of the last two).
	binary.LittleEndian.PutUint64(rec, uint64(head)|a<<32)
	binary.LittleEndian.PutUint64(rec[precFP+4:], a>>32|uint64(b)<<32)
	binary.LittleEndian.PutUint32(rec[precDelta-1:], b>>24|uint32(d)<<8)
	return nil
}

// precPrint returns the fingerprint a record holds, as placePrec takes it.
func precPrint(rec []byte) (a uint64, b uint32) {
	return binary.LittleEndian.Uint64(rec[precFP:]), binary.LittleEndian.Uint32(rec[precFP+8:])
}

// appendLrec appends the record of a row left over, at locator loc, made from its prec.
func appendLrec(dst, rec []byte, loc uint64) []byte {
	head := precHead(rec)
	if head&precForced != 0 {
		loc |= lrecForced
	}
	if head&precCells != 0 {
		loc |= lrecCells
	}
	var l [lrecSize]byte
	binary.LittleEndian.PutUint32(l[:], head&precKMask)
	copy(l[lrecFP:lrecLoc], rec[precFP:precDelta])
	binary.LittleEndian.PutUint32(l[lrecLoc:], uint32(loc))
	l[lrecLoc+4] = byte(loc >> 32)
	return append(dst, l[:]...)
}

func lrecKey(rec []byte) uint64 {
	return uint64(binary.LittleEndian.Uint32(rec)) | uint64(rec[4])<<32
}

func lrecLocator(rec []byte) (loc, flags uint64) {
	v := uint64(binary.LittleEndian.Uint32(rec[lrecLoc:])) | uint64(rec[lrecLoc+4])<<32
	return v &^ lrecFlags, v & lrecFlags
}

// lrecPrint is the fingerprint a record keeps: 96 of its 128 bits.
func lrecPrint(rec []byte) []byte { return rec[lrecFP:lrecLoc] }

// lineJoin is a hash run's line join.
type lineJoin struct {
	h       *hashRun
	ends    [2]uint64 // where each file's rows end: left-over records go to ranges of it
	lines   [2]LooseLineReader
	rf      [2]Refetcher
	pos     [2]Positioner
	seeds   *fpSeeds
	keys    *keyHash // of k
	maxPart int64    // bytes of records of one partition (both sides) joined in memory
	matched atomic.Int64
	left    [2]*partitioner // left-over records, in part 0 of each
	leftMu  [2]sync.Mutex
	leftErr [2]error // the first error adding to left (decide has none to return)
	leftN   atomic.Int64
}

// planLineJoin returns the run's line join, or nil when the sides do not allow one.
func (h *hashRun) planLineJoin() *lineJoin {
	r := h.r
	if r.o.noFingerprint || r.o.noLineJoin || r.spec.MaxDiscrepancies > 0 || r.limiter != nil {
		return nil
	}
	lj := &lineJoin{h: h}
	for i, s := range r.sides {
		lr, ok := s.r.(LooseLineReader)
		if !ok {
			return nil
		}
		rf, ok := s.r.(Refetcher)
		if !ok || !rf.CanRefetch() {
			return nil
		}
		ps, ok := s.r.(Positioner)
		if !ok {
			return nil
		}
		// A locator has 38 bits.
		sr, ok := s.r.(interface{ SplitRange() (int64, int64, bool) })
		if !ok {
			return nil
		}
		_, end, ok := sr.SplitRange()
		if !ok || end >= lrecCells {
			return nil
		}
		lj.ends[i] = uint64(end)
		if _, _, ok := lr.LooseLines(); !ok || !s.enc.plainKey || s.enc.ncols > maxLineFields {
			return nil
		}
		lj.lines[i], lj.rf[i], lj.pos[i] = lr, rf, ps
	}
	if _, ok := rawRecorders(r.p, r.sides[0].r, r.sides[1].r); !ok {
		return nil
	}
	lj.seeds, lj.keys = newFPSeeds(), newKeyHash()
	for i, s := range r.sides {
		s.enc.seeds, s.enc.loc, s.enc.raw = lj.seeds, lj.rf[i], lj.lines[i]
		delim, null, _ := lj.lines[i].LooseLines()
		s.enc.useLines(delim, null)
	}
	lj.maxPart = max(h.pool.limit/int64(4*max(1, runtime.GOMAXPROCS(0))), 64*precSize)
	return lj
}

// read reads a side to the end into w, a record per row.
func (lj *lineJoin) read(ctx context.Context, side int, w *partitioner) error {
	s := lj.h.r.sides[side]
	lr, rf, e := lj.lines[side], lj.rf[side], s.enc
	// Lines come many a call when the reader can (LineBatcher); the line after a batch
	// that stopped short is not one it hands over that way, and comes alone.
	lb, _ := lr.(LineBatcher)
	var lines [][]byte
	var locs []uint64
	if lb != nil {
		lines, locs = make([][]byte, lineBatch), make([]uint64, lineBatch)
	}
	alone := false
	var buf []byte
	for {
		if lb != nil && !alone {
			if err := s.before(ctx); err != nil {
				return err
			}
			n := lb.NextLinesLoose(lines, locs)
			s.took(n)
			for i, line := range lines[:n] {
				if err := lj.addLine(w, e, line, false, locs[i]); err != nil {
					return err
				}
			}
			if alone = n < len(lines); n > 0 {
				continue
			}
		}
		alone = false
		line, counted, cells, err := s.nextLoose(ctx, lr)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		loc := rf.Locator()
		if line != nil {
			// The most common row, written straight to its record.
			if err := lj.addLine(w, e, line, counted, loc); err != nil {
				return err
			}
			continue
		}
		if err := lj.located(side, loc); err != nil {
			return err
		}
		var k uint64
		var fp [fingerprintLen]byte
		var flags uint32
		vouched := false
		if e.rowErr != "" {
			// Not a row (a ragged record): an invalid_row, found again when read again.
			e.rowErr = ""
			if cells != nil {
				k = e.cellsKey(cells, lj.keys)
			}
		} else {
			// A record over several lines, or with a quoted key: its cells are hashed.
			k = e.cellsKey(cells, lj.keys)
			if vouched = e.cellsVouched(cells, k); vouched {
				fp, buf = lj.cellsPrint(cells, buf)
				flags = precCells
			}
		}
		if !vouched {
			flags = precForced
		}
		a, b := binary.LittleEndian.Uint64(fp[:8]), binary.LittleEndian.Uint32(fp[8:]) // 96 bits
		if err := lj.place(w, k, flags, a, b, loc); err != nil {
			return err
		}
	}
}

// lineBatch is how many lines read asks a LineBatcher for at once.
const lineBatch = 64

// located checks that a row's locator fits a record's.
func (lj *lineJoin) located(side int, loc uint64) error {
	if loc >= lrecCells {
		return fmt.Errorf("diff: %s: a row at byte %d is past what a line join can locate", sideName(side), loc)
	}
	return nil
}

// addLine adds the record of a row that came as a line, at locator loc.
func (lj *lineJoin) addLine(w *partitioner, e *encoder, line []byte, counted bool, loc uint64) error {
	if err := lj.located(e.side, loc); err != nil {
		return err
	}
	k, vouched := e.lineKey(line, counted, lj.keys)
	if !vouched {
		return lj.place(w, k, precForced, 0, 0, loc)
	}
	a, b := lj.seeds.linePrint(line) // lineFingerprint's, 96 of its bits
	return lj.place(w, k, 0, a, uint32(b), loc)
}

// place adds the record of a row whose key hashes to k, with flags and fingerprint a,
// b, at locator loc, to its partition of w (of level 0).
func (lj *lineJoin) place(w *partitioner, k uint64, flags uint32, a uint64, b uint32, loc uint64) error {
	k = lineRecKey(k)
	return placePrec(w, k, uint32(lj.kt(k))|flags, a, b, loc)
}

// lineKey returns the key hash of a line from NextLineLoose(e.lines.need), and whether
// the line can be vouched for: a key that is not empty and, when this side checks the
// line (k's top bit is the side), one field per column (counted here unless the
// reader did) and typed values that parse. The other side looks no further than the
// key: its line is vouched for by an equal line checked on the other side, or read
// again.
func (e *encoder) lineKey(line []byte, counted bool, keys *keyHash) (uint64, bool) {
	lf := e.lines
	ends := lf.ends // not cleared: entries are written before they are read
	field := func(i int) []byte {
		start := int32(0)
		if i > 0 {
			start = ends[i-1] + 1
		}
		return line[start:ends[i]]
	}
	// The delimiters all at once where the CPU can (most lines), else by searching as far
	// as needed.
	lo, hi, masked := lf.delims.masks(line, lf.delim)
	nk := lf.key + 1
	found := 0 // delimiters found (taken out of the masks)
	switch {
	case masked:
		found = maskEnds(&lo, &hi, ends[:nk])
	case nk == 1:
		// The key first: one search.
		if i := bytes.IndexByte(line, lf.delim); i >= 0 {
			ends[0], found = int32(i), 1
		}
	default:
		found = fieldEnds(line, lf.delim, ends[:nk], 0)
	}
	if found < nk {
		if found < nk-1 {
			return 0, false // no key field: a line of too few fields, not counted
		}
		ends[found] = int32(len(line)) // the last field ends the line
	}
	key := field(lf.key)
	if lf.isNull(key) {
		return 0, false // NULL: cellsKey's hash
	}
	k := keys.sum(key)
	if len(key) == 0 {
		return k, false // the empty string (there is a NULL marker): no key either
	}
	if int(k>>63) != e.side {
		return k, true
	}
	if !counted {
		fields := found + bits.OnesCount64(lo) + bits.OnesCount64(hi) + 1
		if !masked {
			fields = bytes.Count(line, lf.delimStr) + 1
		}
		if fields != e.ncols {
			return k, false
		}
	}
	if len(lf.typed) == 0 {
		return k, true
	}
	if nk < lf.need {
		var more int
		if masked {
			more = maskEnds(&lo, &hi, ends[nk:lf.need])
		} else {
			more = fieldEnds(line[ends[nk-1]+1:], lf.delim, ends[nk:lf.need], ends[nk-1]+1)
		}
		if found := nk + more; found < lf.need {
			ends[found] = int32(len(line))
		}
	}
	for j, f := range lf.typed {
		b := field(f)
		if lf.isNull(b) {
			continue
		}
		// The quick check by the field's kind (validPlain's first look, without the
		// column; a short number a word at a time, read from the line), validLine's
		// whole check when it says no.
		var ok bool
		switch kd := lf.kinds[j]; {
		case (kd == kDecimal || kd == kInteger) && len(b) <= 8 && cap(b) >= 8:
			ok = plainDecimalWord(binary.LittleEndian.Uint64(b[:8]), len(b), kd == kInteger)
		default:
			ok = plainValid(kd, bstr(b))
		}
		if !ok && !e.validLine(e.cols[e.typed[j]], bstr(b)) {
			return k, false
		}
	}
	return k, true
}

// validLine reports whether a typed value parses, which lets the line join vouch for
// its row: the quick check, else the parse itself (a boolean or a JSON value has no
// quick check, a decimal such as "+1" or a zoned timestamp fails it: without the parse
// every such row would be read again). Called on one side only.
func (e *encoder) validLine(c *column, s string) bool {
	if c.validPlain(s) {
		return true
	}
	var p string
	e.canon, p = c.problem(e.canon[:0], s)
	return p == ""
}

// cellsKey is lineKey's hash for a row that came as cells (0 without a key).
func (e *encoder) cellsKey(cells []Cell, keys *keyHash) uint64 {
	i := e.keyIdx[0]
	if i >= len(cells) || cells[i].Null {
		return 0
	}
	return keys.sumString(cells[i].Text)
}

// cellsVouched is lineKey's check for a row that came as cells, whose key hashes to k.
func (e *encoder) cellsVouched(cells []Cell, k uint64) bool {
	if key := cells[e.keyIdx[0]]; key.Null || key.Text == "" {
		return false
	}
	if int(k>>63) == e.side {
		for _, i := range e.typed {
			if c := cells[e.colIdx[i]]; !c.Null && !e.validLine(e.cols[i], c.Text) {
				return false
			}
		}
	}
	return true
}

// cellsPrint is the fingerprint of a row that came as cells: of every cell in order
// (tag 0 for NULL, or tag 1, the uvarint length and the text), with the seeds of
// canonical values, so that it is never a line's. buf is a buffer to reuse.
func (lj *lineJoin) cellsPrint(cells []Cell, buf []byte) (fp [fingerprintLen]byte, _ []byte) {
	buf = buf[:0]
	for _, c := range cells {
		if c.Null {
			buf = append(buf, 0)
			continue
		}
		buf = append(buf, 1)
		buf = binary.AppendUvarint(buf, uint64(len(c.Text)))
		buf = append(buf, c.Text...)
	}
	binary.LittleEndian.PutUint64(fp[:8], maphash.Bytes(lj.seeds.a, buf))
	binary.LittleEndian.PutUint64(fp[8:], maphash.Bytes(lj.seeds.b, buf))
	return fp, buf
}

// join joins the partitions of level 0, then compares the rows left over.
func (lj *lineJoin) join(ctx context.Context, ws [2]*partitioner) (err error) {
	h, r := lj.h, lj.h.r
	var jobs []int
	for i := range h.fanout {
		if ws[0].parts[i].rows+ws[1].parts[i].rows > 0 {
			jobs = append(jobs, i)
		}
	}
	// Partitions wholly in memory first: joining them gives chunks back.
	inMem := func(i int) bool { return !ws[0].parts[i].spilled && !ws[1].parts[i].spilled }
	ordered := make([]int, 0, len(jobs))
	for _, first := range []bool{true, false} {
		for _, i := range jobs {
			if inMem(i) == first {
				ordered = append(ordered, i)
			}
		}
	}
	r.parts.Store(int64(len(jobs)))
	r.joining.Store(true)
	for i := range lj.left {
		lj.left[i] = &partitioner{h: h, parts: make([]part, leftRanges), mask: leftRanges - 1, name: fmt.Sprintf("left%d", i)}
	}
	defer func() {
		for _, w := range lj.left {
			if cerr := w.discard(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()

	var next atomic.Int64
	var once sync.Once
	var first error
	var halt atomic.Bool
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ordered)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := &lineWorker{lj: lj}
			defer wk.free()
			for !halt.Load() {
				n := int(next.Add(1)) - 1
				if n >= len(ordered) {
					return
				}
				err := ctx.Err()
				if err == nil {
					err = wk.part(ws, ordered[n], 0)
				}
				if err != nil {
					once.Do(func() { first = err })
					halt.Store(true)
					return
				}
				r.joined.Add(1)
			}
		}()
	}
	wg.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return wrapCtx(cerr)
	}
	if first != nil {
		return first
	}
	// The join's chunks are not needed any more: the run over the rows left over has
	// a pool of its own, given the free ones. Nor are its spill files: they are removed
	// while those rows are compared (freeing a file's blocks takes the kernel ~10 ms
	// per 100 MB, which would otherwise come after everything else).
	for _, w := range ws {
		for i := range w.parts {
			h.drop(&w.parts[i])
		}
	}
	removed := make(chan error, 1)
	go func() {
		var rerr error
		for _, w := range ws {
			if cerr := w.close(); cerr != nil && rerr == nil {
				rerr = cerr
			}
		}
		removed <- rerr
	}()
	err = lj.compareLeft(ctx)
	if rerr := <-removed; err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	m := lj.matched.Load()
	r.x.sum.Compared += m
	r.x.sum.Matched += m
	return nil
}

// lineWorker joins partitions, one at a time, in buffers it keeps between them.
type lineWorker struct {
	lj    *lineJoin
	recs  [2][]byte
	left  [2][]uint64 // bits of the records left over, by index
	locs  [2][]uint64 // by word of left: the locator of the record before its first
	table []lslot
	gen   uint64 // of the partition being decided, in its slots' k: older ones are empty
	held  int64  // bytes of the above, accounted in the pool
	batch [2][]byte
}

// lslot is a slot of a partition's table: a k, its first row on each side (-1 for
// none), how many rows it has there (up to 2), and what the join decides from its first
// rows as they come: the source's fingerprint and whether that row is vouched for, and
// whether the target's first row is the same line. Kept in the slot itself, so that a
// row costs one random access to the table: the source's row is not looked at again.
type lslot struct {
	k       uint64 // the worker's gen<<32 | kt+1; empty when of an older gen
	fp      [precDelta - precFP]byte
	s, t    int32
	ns, nt  uint8
	vouched bool // the first source row is vouched for
	same    bool // and the first target row too, with the same fingerprint
}

func (wk *lineWorker) free() {
	wk.lj.h.pool.release(wk.held)
	wk.held = 0
	*wk = lineWorker{lj: wk.lj}
}

// account accounts for the worker's buffers as they are now.
func (wk *lineWorker) account() {
	n := int64(cap(wk.table)) * int64(unsafe.Sizeof(lslot{}))
	for side := range 2 {
		n += int64(cap(wk.recs[side])+cap(wk.batch[side])) + int64(cap(wk.left[side])+cap(wk.locs[side]))*8
	}
	if n > wk.held {
		wk.lj.h.pool.reserve(n-wk.held, true)
		wk.held = n
	}
}

// part joins partition i of ws, partitioning it again first when it is too big.
func (wk *lineWorker) part(ws [2]*partitioner, i, level int) error {
	lj := wk.lj
	ps, pt := &ws[0].parts[i], &ws[1].parts[i]
	if (ps.rows+pt.rows)*precSize > lj.maxPart {
		// Partitioned again with the next bits of k while there are some; past them,
		// its rows share k.
		if (level+1)*int(lj.h.bits) <= precKBits {
			return wk.split(ws, i, level)
		}
		// Too big with every bit of k kept used: few keys, many rows each. All left over.
		return wk.leaveAll(ws, i)
	}
	for side, w := range ws {
		buf, err := load(w, &w.parts[i], wk.recs[side][:0])
		if err != nil {
			return err
		}
		wk.recs[side] = buf
	}
	wk.account()
	wk.decide()
	wk.account()
	return nil
}

// decide joins the partition's rows (wk.recs) and passes on what it decides: the matched
// keys counted, the rows of other keys left over.
func (wk *lineWorker) decide() {
	src, tgt := wk.recs[0], wk.recs[1]
	n := (len(src) + len(tgt)) / precSize
	// As many slots as rows and a quarter: a load of at most 0.8 when every row has a
	// key of its own, about 0.4 when each key is on both sides. The slot of k is
	// k*golden's top bits scaled to the size (not a power of two).
	size := uint64(max(16, n+n/4))
	if cap(wk.table) < int(size) {
		wk.table = make([]lslot, size+size/4)
		wk.account()
	}
	table := wk.table[:size]
	// Slots of earlier partitions are empty by their generation: no clearing per
	// partition, but when the count wraps.
	if wk.gen++; wk.gen >= 1<<32 {
		clear(wk.table)
		wk.gen = 1
	}
	gen := wk.gen << 32
	slot := func(k uint64) uint64 {
		hi, _ := bits.Mul64(k*0x9E3779B97F4A7C15, size)
		return hi
	}
	// Every row is left over until its k is matched: a bit per record, set, then
	// cleared for escape records and for the two rows of a matched k, as they come (a
	// second row on a side undoes a match). No pass over the table afterwards: its
	// empty slots would cost a mispredicted branch each.
	for side, recs := range wk.recs {
		nrec := len(recs) / precSize
		words := (nrec + 63) / 64
		if cap(wk.left[side]) < words {
			wk.left[side] = make([]uint64, words, words+words/4)
			wk.locs[side] = make([]uint64, words, words+words/4)
		}
		wk.locs[side] = wk.locs[side][:words]
		l := wk.left[side][:words]
		for i := range l {
			l[i] = ^uint64(0)
		}
		if r := nrec % 64; r != 0 {
			l[words-1] = 1<<r - 1
		}
		wk.left[side] = l
	}
	left := wk.left
	var matched int64
	type fp = [precDelta - precFP]byte
	for side, recs := range wk.recs {
		// Locators add up as the records come (nextLoc), noted every 64 records: a row
		// left over is located from the note before it.
		locs, loc := wk.locs[side], uint64(0)
		for j := range len(recs) / precSize {
			rec := recs[j*precSize : (j+1)*precSize]
			if j&63 == 0 {
				locs[j>>6] = loc
			}
			head := precHead(rec)
			if head&precEscape == precEscape {
				loc = precAt(rec)
				left[side][j>>6] &^= 1 << (j & 63)
				continue
			}
			loc += uint64(binary.LittleEndian.Uint32(rec[precDelta-1:])) >> 8 // precJump
			kt := uint64(head&precKMask) + 1
			k := gen | kt
			s := slot(kt)
			for {
				sl := &table[s]
				if sl.k < gen {
					*sl = lslot{k: k, s: -1, t: -1}
					if side == 0 {
						sl.s, sl.ns, sl.vouched = int32(j), 1, head&precForced == 0
						sl.fp = fp(rec[precFP:precDelta])
					} else {
						sl.t, sl.nt = int32(j), 1
					}
					break
				}
				if sl.k != k {
					if s++; s == size {
						s = 0
					}
					continue
				}
				switch {
				case side == 0:
					sl.ns = 2
				case sl.nt == 0:
					sl.t, sl.nt = int32(j), 1
					// Sources all come first: ns is final.
					if sl.ns == 1 && sl.vouched && head&precForced == 0 && sl.fp == fp(rec[precFP:precDelta]) {
						sl.same = true
						matched++
						left[0][sl.s>>6] &^= 1 << (sl.s & 63)
						left[1][j>>6] &^= 1 << (j & 63)
					}
				default:
					if sl.same {
						sl.same = false
						matched--
						left[0][sl.s>>6] |= 1 << (sl.s & 63)
						left[1][sl.t>>6] |= 1 << (sl.t & 63)
					}
					sl.nt = 2
				}
				break
			}
		}
	}
	wk.lj.matched.Add(matched)
	// Rows left over, in order, located from the note of their word.
	for side, recs := range wk.recs {
		batch := wk.batch[side][:0]
		for w, word := range left[side] {
			if word == 0 {
				continue
			}
			loc, at := wk.locs[side][w], w*64 // the records before at are counted in loc
			for ; word != 0; word &= word - 1 {
				j := w*64 + bits.TrailingZeros64(word)
				for ; at <= j; at++ {
					loc, _ = nextLoc(recs[at*precSize:], loc)
				}
				batch = appendLrec(batch, recs[j*precSize:(j+1)*precSize], loc)
			}
		}
		if len(batch) > 0 {
			wk.lj.leaveErr(side, batch)
		}
		wk.batch[side] = batch
	}
}

// split partitions partition i of ws again with the next bits of kt and joins the parts.
func (wk *lineWorker) split(ws [2]*partitioner, i, level int) (err error) {
	h := wk.lj.h
	var sub [2]*partitioner
	for side, w := range ws {
		sub[side] = h.newPartitioner(level+1, fmt.Sprintf("%s-%d", w.name, i))
	}
	defer func() {
		for _, w := range sub {
			if cerr := w.discard(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	h.reparts.Add(1)
	var k0 uint64
	some, same := false, true
	for side, w := range ws {
		var loc uint64
		err := eachChunk(w, &w.parts[i], func(recs []byte) error {
			for off := 0; off < len(recs); off += precSize {
				rec := recs[off : off+precSize]
				var row bool
				if loc, row = nextLoc(rec, loc); !row {
					continue
				}
				head := precHead(rec)
				k := uint64(head & precKMask)
				if !some {
					k0, some = k, true
				}
				same = same && k == k0
				a, b := precPrint(rec)
				if err := placePrec(sub[side], k<<h.bits, head, a, b, loc); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		h.drop(&w.parts[i])
	}
	for j := range h.fanout {
		if sub[0].parts[j].rows+sub[1].parts[j].rows == 0 {
			continue
		}
		var err error
		if same {
			// One k: more bits will not split it. All left over.
			err = wk.leaveAll(sub, j)
		} else {
			err = wk.part(sub, j, level+1)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// leaveAll leaves every row of partition i of ws over.
func (wk *lineWorker) leaveAll(ws [2]*partitioner, i int) error {
	for side, w := range ws {
		var loc uint64
		var batch []byte
		err := eachChunk(w, &w.parts[i], func(recs []byte) error {
			batch = batch[:0]
			for off := 0; off < len(recs); off += precSize {
				var row bool
				if loc, row = nextLoc(recs[off:], loc); row {
					batch = appendLrec(batch, recs[off:off+precSize], loc)
				}
			}
			return wk.lj.leave(side, batch)
		})
		if err != nil {
			return err
		}
		wk.lj.h.drop(&w.parts[i])
	}
	return nil
}

// load appends the records of p (blocks of w's file, then chunks) to dst and gives the
// chunks back to the pool.
func load(w *partitioner, p *part, dst []byte) ([]byte, error) {
	for _, b := range p.blocks {
		n := len(dst)
		if cap(dst)-n < b.n {
			grown := make([]byte, n, max(2*cap(dst), n+b.n))
			copy(grown, dst)
			dst = grown
		}
		dst = dst[:n+b.n]
		if err := readBlock(w, b, dst[n:]); err != nil {
			return nil, err
		}
	}
	for _, c := range p.chunks {
		dst = append(dst, c...)
	}
	if p.cur != nil {
		dst = append(dst, p.cur...)
	}
	w.h.drop(p)
	return dst, nil
}

// eachChunk calls fn with the records of p, a block or a chunk at a time.
func eachChunk(w *partitioner, p *part, fn func(recs []byte) error) error {
	if len(p.blocks) > 0 {
		buf := w.h.pool.get(true)
		defer w.h.pool.put(buf)
		for _, b := range p.blocks {
			data := buf[:b.n] // a block is at most a chunk: records are smaller
			if err := readBlock(w, b, data); err != nil {
				return err
			}
			if err := fn(data); err != nil {
				return err
			}
		}
	}
	for _, c := range p.chunks {
		if err := fn(c); err != nil {
			return err
		}
	}
	if len(p.cur) > 0 {
		return fn(p.cur)
	}
	return nil
}

// leave adds records to the side's rows left over.
func (lj *lineJoin) leave(side int, recs []byte) error {
	lj.leftMu[side].Lock()
	defer lj.leftMu[side].Unlock()
	w := lj.left[side]
	for off := 0; off < len(recs); off += lrecSize {
		rec := recs[off : off+lrecSize]
		loc, _ := lrecLocator(rec)
		if err := w.addHashed(rec, loc*leftRanges/(lj.ends[side]+1)); err != nil {
			return err
		}
	}
	lj.leftN.Add(int64(len(recs) / lrecSize))
	return nil
}

// leaveErr is leave for decide, which has no error to return: the first error is kept
// and returned by compareLeft.
func (lj *lineJoin) leaveErr(side int, recs []byte) {
	if err := lj.leave(side, recs); err != nil {
		lj.leftMu[side].Lock()
		if lj.leftErr[side] == nil {
			lj.leftErr[side] = err
		}
		lj.leftMu[side].Unlock()
	}
}

// compareLeft compares the rows left over: read again, by the hash strategy with values,
// in a pool of its own given the join's free chunks.
func (lj *lineJoin) compareLeft(ctx context.Context) error {
	for side := range lj.left {
		if err := lj.leftErr[side]; err != nil {
			return err
		}
	}
	if lj.leftN.Load() == 0 {
		return nil
	}
	if fn := lj.h.r.o.beforeLeft; fn != nil {
		fn()
	}
	h, r := lj.h, lj.h.r
	// The rows left over are read again in the order of their offsets, so that rows
	// close together come from one read of the file: their records are in ranges of
	// offsets (leftRanges), each sorted. A side whose records fit in an eighth of the
	// pool (kept out of the run's own pool) is sorted at once; else its records go to
	// disk and are read back a range at a time, each range sorted when it fits in what
	// is left of the eighth (else in the order they came).
	var sorted [2][]byte
	var rows [2]int64
	for side, w := range lj.left {
		for i := range w.parts {
			rows[side] += w.parts[i].rows
		}
	}
	eighth := h.pool.limit / 8
	held, streamed := int64(0), 0
	for side, w := range lj.left {
		if n := rows[side] * (2*lrecSize + 8); rows[side] < 1<<24 && held+n <= eighth {
			out := make([]byte, 0, rows[side]*lrecSize)
			var buf []byte
			var order []uint64
			for i := range w.parts {
				var err error
				if buf, err = load(w, &w.parts[i], buf[:0]); err != nil {
					return err
				}
				out, order = byLocator(out, order, buf)
			}
			sorted[side] = out
			held += n
			continue
		}
		for i := range w.parts {
			if err := w.spillAll(&w.parts[i]); err != nil {
				return err
			}
		}
		streamed++
	}
	// The chunks free now (the join's, and those of the records just loaded or written
	// out) go to the run's pool: else they would sit beside its new ones.
	free := h.pool.takeFree()
	var sortCap int64
	if streamed > 0 {
		sortCap = (eighth - held) / int64(streamed) // the two sides are read at once
		held = eighth
	}
	sub := &run{spec: r.spec, p: r.p, x: r.x,
		o: options{interval: r.o.interval, checkEvery: r.o.checkEvery, chunkSize: r.o.chunkSize, fanout: r.o.fanout,
			poolLimit: h.pool.limit - held, noLineJoin: true, noFingerprint: lj.leftFit(rows, h.pool.limit-held), poolFree: free}}
	for side := range 2 {
		lr := &leftReader{lj: lj, side: side, w: lj.left[side], fetch: lj.rf[side].Refetch, recs: sorted[side], sortCap: sortCap}
		if s, ok := lj.rf[side].(SessionRefetcher); ok {
			lr.fetch = s.RefetchSession()
		}
		sub.sides[side] = sub.newSide(lr, side)
	}
	err := sub.hash(ctx)
	st := sub.hstats
	h.spills.Add(st.Spills)
	h.spilled.Add(st.SpilledBytes)
	h.reparts.Add(st.Repartitions)
	h.pool.mu.Lock()
	h.pool.peak = max(h.pool.peak, st.PoolPeak)
	h.pool.mu.Unlock()
	return err
}

// leftFit reports whether the rows left over (rows a side) fit in a quarter of limit
// with their values, by the sides' mean line (bytes read over rows read, twice over for
// what a record with values adds): the run over them then keeps values, not
// fingerprints, so that the rows of keys that differ (most of them) are not read a
// third time. Were the guess wrong, that run spills as any does.
func (lj *lineJoin) leftFit(rows [2]int64, limit int64) bool {
	var need int64
	for side, s := range lj.h.r.sides {
		if s.n > 0 {
			mean := int64(lj.rf[side].Locator())/s.n + 1
			need += rows[side] * (2*mean + 64)
		}
	}
	return need <= limit/4
}

// byLocator appends recs, sorted by their locators (offsets in the file), to dst, with
// order as scratch space; it returns both for reuse.
func byLocator(dst []byte, order []uint64, recs []byte) ([]byte, []uint64) {
	n := len(recs) / lrecSize
	order = order[:0] // locator (38 bits) and index (24 bits)
	for i := range n {
		loc, _ := lrecLocator(recs[i*lrecSize:])
		order = append(order, loc<<24|uint64(i))
	}
	slices.Sort(order)
	for _, o := range order {
		i := int(o & (1<<24 - 1))
		dst = append(dst, recs[i*lrecSize:(i+1)*lrecSize]...)
	}
	return dst, order
}

// leftReader reads a side's rows left over again. It is a Refetcher and RawRecorder
// in turn, so that the run over them keeps fingerprints too (a row bigger than the
// budget is compared all the same).
type leftReader struct {
	lj      *lineJoin
	side    int
	w       *partitioner
	fetch   func(loc uint64) ([]Cell, []byte, error)
	sortCap int64 // bytes a range may take to be sorted (its records twice, and the order)
	part    int   // the range being read
	blk     int   // its next block
	buf     []byte
	sorted  []byte   // a range's records in offset order
	order   []uint64 // byLocator's scratch
	recs    []byte   // records of the range or block being read
	loc     uint64
	raw     []byte // the row last returned as read, when it is one line
	print   []byte // cellsPrint's buffer
}

func (l *leftReader) CanRefetch() bool          { return true }
func (l *leftReader) Locator() uint64           { return l.loc }
func (l *leftReader) RawRecord() ([]byte, bool) { return l.raw, l.raw != nil }
func (l *leftReader) RawFormat() string         { return l.lj.lines[l.side].RawFormat() }

// Refetch reads a row again, by its locator in the file.
func (l *leftReader) Refetch(loc uint64) ([]Cell, []byte, error) {
	return l.lj.rf[l.side].Refetch(loc)
}

// RefetchSession implements SessionRefetcher, with the file's reader's sessions when
// it has them.
func (l *leftReader) RefetchSession() func(loc uint64) ([]Cell, []byte, error) {
	if s, ok := l.lj.rf[l.side].(SessionRefetcher); ok {
		return s.RefetchSession()
	}
	return l.Refetch
}

func (l *leftReader) Columns() []string { return l.lj.h.r.sides[l.side].r.Columns() }
func (l *leftReader) Close() error      { return nil }

// Position names the row last returned where it is in its file.
func (l *leftReader) Position() string {
	p, err := l.lj.pos[l.side].PositionAt(l.loc)
	if err == nil {
		return p
	}
	name := string(sideName(l.side))
	if n, ok := l.lj.h.r.sides[l.side].r.(Namer); ok {
		name = n.Name()
	}
	return fmt.Sprintf("%s byte %d", name, l.loc)
}

// Next reads the next row left over again and checks that it is the row read first.
func (l *leftReader) Next() ([]Cell, error) {
	for len(l.recs) == 0 {
		if l.part >= len(l.w.parts) {
			return nil, io.EOF
		}
		p := &l.w.parts[l.part]
		if l.blk == 0 && p.rows > 0 && p.rows < 1<<24 && p.rows*(2*lrecSize+8) <= l.sortCap { // byLocator's 24-bit indexes
			buf, err := load(l.w, p, l.buf[:0])
			if err != nil {
				return nil, err
			}
			// Buffers reused from range to range: no garbage for the collector to let
			// the heap grow by.
			l.buf = buf
			l.sorted, l.order = byLocator(l.sorted[:0], l.order, buf)
			l.recs = l.sorted
			l.part++
			continue
		}
		if l.blk == len(p.blocks) {
			l.part, l.blk = l.part+1, 0
			continue
		}
		b := p.blocks[l.blk]
		l.blk++
		if cap(l.buf) < b.n {
			l.buf = make([]byte, b.n)
		}
		if err := readBlock(l.w, b, l.buf[:b.n]); err != nil {
			return nil, err
		}
		l.recs = l.buf[:b.n]
	}
	rec := l.recs[:lrecSize]
	l.recs = l.recs[lrecSize:]
	loc, flags := lrecLocator(rec)
	l.loc = loc
	l.lj.h.refetched.Add(1)
	cells, raw, err := l.fetch(loc)
	l.raw = raw
	var bad InvalidRowError
	if err != nil && !errors.As(err, &bad) {
		return nil, err
	}
	same := true
	switch {
	case flags == 0:
		fp := lineFingerprint(l.lj.seeds, raw)
		same = raw != nil && string(fp[:lrecLoc-lrecFP]) == string(lrecPrint(rec))
	case flags == lrecCells:
		// Read first as a whole row: it still must be one.
		same = err == nil
		if same {
			var fp [fingerprintLen]byte
			fp, l.print = l.lj.cellsPrint(cells, l.print)
			same = string(fp[:lrecLoc-lrecFP]) == string(lrecPrint(rec))
		}
	case err == nil:
		same = l.lj.kt(lineRecKey(l.lj.h.r.sides[l.side].enc.cellsKey(cells, l.lj.keys))) == lrecKey(rec)
	}
	if !same {
		what := ""
		if n, ok := l.lj.h.r.sides[l.side].r.(Namer); ok {
			what = " (" + n.Name() + ")"
		}
		return nil, fmt.Errorf("diff: %s changed during the run%s: the row read again at %s is not the one read first",
			sideName(l.side), what, l.Position())
	}
	return cells, err
}
