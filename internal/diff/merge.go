package diff

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"unsafe"
)

// Sorted merge, in step. One goroutine reads both sides in key order and decides each
// key while the rows that decide it are still the readers' current rows, so rows are not
// copied: what is kept is a side's last key (to verify the order and to count the rows
// of a key) and, for the few outcomes that report them, the values they report.
//
// A key K on both sides: its values are compared while both first rows are current
// (texts that are the same need no normalizing: they are the same value, valid or not on
// both sides, so they are validated once), then each side reads past K's rows, counting
// them and reporting the rows without a usable key on the way; then K's outcome is
// decided (SEMANTICS.md rules 2-5) from the counts, the validity of each first row and
// the comparison.
//
// Reading each side from a goroutine of its own would put both readers on two cores,
// but the rows would have to be copied to be handed over, and then keyed and validated
// apart: measured on the ledger benchmark, about 1.5 times the CPU of reading in step
// for about 15% less wall time on two idle cores, and slower when the cores are busy.
// When both sides can be read from byte offsets (local files), split.go cuts the key
// range in two instead and runs two such merges, one per core.
//
// Most target rows of a reconciliation are the source's byte for byte. When the target's
// reader can tell (SameRecordReader: the split's CSV sections), a target row that is the
// source's current row is read without being parsed, and its key and values are the
// source's: pair then only validates the typed values, once.

// SameRecordReader is a Reader that can read its next record without parsing it when
// its bytes are those of the record another reader last returned (split CSV sections:
// most target records of a reconciliation are byte for byte the source's).
type SameRecordReader interface {
	Reader
	// NextSame reads the next record and returns true when it is, byte for byte, the
	// record other's Next last returned, read with the same dialect and columns, so that
	// Next would have returned the same cells (other's, which the caller uses); Position
	// then names it. False reads nothing.
	NextSame(other Reader) bool
}

// mside is one side of a merge.
type mside struct {
	s     *sideReader
	side  int
	cells []Cell // the current row, which has a usable key; nil at the end
	key   []byte // its key tuple
	prev  []byte // the key tuple of the row before it (and scratch for the next one)
	has   bool   // a row with a usable key was read
	eof   bool
	raw   []byte // first row of the current key: its key values as read, when needed
	rawAt []int  // end of each key value in raw
	first []byte // the first usable key read (for the split merge's checks)
	early bool   // an invalid row was reported before the first usable key
	twin  bool   // target: the current row is the source's current row, byte for byte
}

// mcol is a compared column as pair reads it.
type mcol struct {
	s, t int // index in the source and target cells
	kind kind
	c    *column
}

type merger struct {
	ctx      context.Context
	x        *emitter
	p        *plan
	sides    [2]mside
	keysSame bool // every key column's canonical bytes are its text as read
	plainKey bool // one key column, a plain string
	cols     []mcol
	typed    []mcol           // the compared columns that are not strings
	same     SameRecordReader // the target's reader, when it can read the source's rows as its own
	scratch  [2][]byte
	probs    [2][]string
	diffs    []ColumnDiff
}

func (r *run) merge(ctx context.Context) error {
	_, err := r.mergeSides(ctx, r.x, r.sides)
	return err
}

// mergeSides merges two sides into x and returns the merger, whose sides tell the split
// merge (split.go) the first and last keys each side read.
func (r *run) mergeSides(ctx context.Context, x *emitter, sides [2]*sideReader) (*merger, error) {
	m := &merger{ctx: ctx, x: x, p: r.p, keysSame: true}
	for _, k := range r.p.keys {
		m.keysSame = m.keysSame && k.identity
	}
	m.plainKey = m.keysSame && len(r.p.keys) == 1
	for i, c := range r.p.cols {
		m.cols = append(m.cols, mcol{s: r.p.colIdx[0][i], t: r.p.colIdx[1][i], kind: c.kind, c: c})
	}
	for _, mc := range m.cols {
		if mc.kind != kString {
			m.typed = append(m.typed, mc)
		}
	}
	for side := range m.sides {
		m.sides[side] = mside{s: sides[side], side: side}
	}
	if sr, ok := sides[1].r.(SameRecordReader); ok && sides[1].lim == nil && r.p.ncols[0] == r.p.ncols[1] &&
		slices.Equal(r.p.keyIdx[0], r.p.keyIdx[1]) && slices.Equal(r.p.colIdx[0], r.p.colIdx[1]) {
		m.same = sr
	}
	src, tgt := &m.sides[0], &m.sides[1]
	if _, err := m.read(src); err != nil {
		return m, err
	}
	if _, err := m.read(tgt); err != nil {
		return m, err
	}
	for !src.eof || !tgt.eof {
		var err error
		switch c := m.order(); {
		case c < 0:
			err = m.single(src)
		case c > 0:
			err = m.single(tgt)
		default:
			err = m.pair()
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// order compares the current keys of both sides, an ended side being last.
func (m *merger) order() int {
	src, tgt := &m.sides[0], &m.sides[1]
	switch {
	case tgt.eof:
		return -1
	case src.eof:
		return 1
	case tgt.twin:
		return 0 // the target's row is the source's (read)
	}
	return m.p.cmpKey(src.key, tgt.key)
}

// read makes the next row with a usable key the side's current row (or ends the side),
// reporting the rows without one on the way, and verifies the key order. same says the
// row has the key of the row before it.
func (m *merger) read(ms *mside) (same bool, err error) {
	enc := ms.s.enc
	ms.twin = false
	if src := &m.sides[0]; ms.side == 1 && m.same != nil && src.cells != nil && ms.s.nextSame(m.same, src.s.r) {
		// The source's current row, byte for byte: its cells and key tuple. The key is in
		// order and new: the target is read only while its key is below the source's
		// (single), or was equal until the source read past it (pair).
		if !ms.has {
			ms.first = append(ms.first[:0], src.key...)
		}
		ms.key, ms.prev = append(ms.prev[:0], src.key...), ms.key
		ms.has, ms.twin, ms.cells = true, true, src.cells
		return false, nil
	}
	for {
		cells, err := ms.s.next(m.ctx)
		if err == io.EOF {
			ms.end()
			return false, nil
		}
		if err != nil {
			return false, wrapCtx(err)
		}
		var reason string
		if k := m.plainKeyOf(ms, cells); k != "" {
			// The tuple of a plain string key: its length and text.
			ms.prev = append(append(ms.prev[:0], byte(len(k))), k...)
		} else {
			ms.prev, reason = enc.appendKey(ms.prev[:0], cells)
		}
		if reason != "" {
			d := Discrepancy{Kind: KindInvalidRow, Key: keyOfCells(m.p, ms.side, cells), Side: sideName(ms.side), Reason: reason, Position: ms.s.r.Position()}
			if !ms.has {
				ms.early = true
			}
			if err := m.x.emit(d); err != nil {
				return false, err
			}
			continue
		}
		return m.accept(ms, cells)
	}
}

// accept makes a row with a usable key, whose tuple is in prev, the side's current row,
// verifying the key order.
func (m *merger) accept(ms *mside, cells []Cell) (same bool, err error) {
	if ms.has {
		c := m.p.cmpKey(ms.key, ms.prev)
		if c > 0 {
			return false, fmt.Errorf("diff: merge: %s is not in key order: the row at %s has key %s after key %s",
				sideName(ms.side), ms.s.r.Position(), m.p.formatKey(ms.prev), m.p.formatKey(ms.key))
		}
		same = c == 0
	} else {
		ms.first = slices.Clone(ms.prev)
	}
	ms.key, ms.prev = ms.prev, ms.key
	ms.has = true
	ms.cells = cells
	return same, nil
}

// nextSame reads the next row as next does when same can read it as other's current
// one (see SameRecordReader); false when it cannot, or when next has its periodic
// checks to make.
func (s *sideReader) nextSame(same SameRecordReader, other Reader) bool {
	if s.pending >= s.every || !same.NextSame(other) {
		return false
	}
	s.n++
	s.pending++
	return true
}

// plainKeyOf returns the key of a row when the key is one plain string column and the
// row is well formed with a key of 1 to 127 bytes, else "" (appendKey then decides).
func (m *merger) plainKeyOf(ms *mside, cells []Cell) string {
	if !m.plainKey || ms.s.enc.rowErr != "" || len(cells) != m.p.ncols[ms.side] {
		return ""
	}
	k := cells[m.p.keyIdx[ms.side][0]]
	if k.Null || len(k.Text) >= 0x80 {
		return ""
	}
	return k.Text
}

// end ends a side; prev holds the last key, as after a row with another key.
func (ms *mside) end() {
	ms.cells, ms.eof = nil, true
	ms.key, ms.prev = ms.prev, ms.key
}

// skip reads past the rows of the current key and returns how many there were. Until
// the side is read again, prev holds that key (keyOf reads it).
func (m *merger) skip(ms *mside) (int64, error) {
	n := int64(1)
	for {
		same, err := m.read(ms)
		if err != nil || !same {
			return n, err
		}
		n++
	}
}

// keepKey keeps the key values as read of the current row when they are not its key
// tuple's components.
func (m *merger) keepKey(ms *mside) {
	if m.keysSame {
		return
	}
	ms.raw, ms.rawAt = ms.raw[:0], ms.rawAt[:0]
	for _, idx := range m.p.keyIdx[ms.side] {
		ms.raw = append(ms.raw, ms.cells[idx].Text...)
		ms.rawAt = append(ms.rawAt, len(ms.raw))
	}
}

// keyOf returns the key, as read and masked where sensitive, of the first row of the key
// just skipped on ms (see keepKey and skip).
func (m *merger) keyOf(ms *mside) []KeyValue {
	kv := make([]KeyValue, len(m.p.keys))
	tuple := ms.prev
	start := 0
	for i, k := range m.p.keys {
		var text string
		if m.keysSame {
			var comp []byte
			comp, tuple = uvarintBytes(tuple)
			text = string(comp)
		} else {
			text = string(ms.raw[start:ms.rawAt[i]])
			start = ms.rawAt[i]
		}
		kv[i] = KeyValue{Name: k.Name, Value: k.show(text, false)}
	}
	return kv
}

// keyOfCells returns the key values as read of a row, masked where sensitive; a value
// the row does not have is NULL.
func keyOfCells(p *plan, side int, cells []Cell) []KeyValue {
	kv := make([]KeyValue, len(p.keys))
	for i, k := range p.keys {
		kv[i].Name = k.Name
		idx := p.keyIdx[side][i]
		if idx >= len(cells) || cells[idx].Null {
			kv[i].Value = Cell{Null: true}
			continue
		}
		kv[i].Value = k.show(strings.Clone(cells[idx].Text), false)
	}
	return kv
}

// check appends to probs what is wrong with a non-NULL value of c on a side.
func (m *merger) check(c *column, side int, text string) {
	var p string
	m.scratch[side], p = c.problem(m.scratch[side], text)
	if p != "" {
		m.probs[side] = append(m.probs[side], "column "+c.sideName[side]+": "+c.quote(text)+" "+p)
	}
}

// invalid is the invalid_row outcome of a side's current row, without its key; nil when
// its values all parse.
func (m *merger) invalid(ms *mside) *Discrepancy {
	if len(m.probs[ms.side]) == 0 {
		return nil
	}
	return &Discrepancy{Kind: KindInvalidRow, Side: sideName(ms.side), Reason: strings.Join(m.probs[ms.side], "; "), Position: ms.s.r.Position()}
}

// single decides the current key of ms, which the other side does not have.
func (m *merger) single(ms *mside) error {
	m.probs[ms.side] = m.probs[ms.side][:0]
	for i, c := range m.p.cols {
		if cell := ms.cells[m.p.colIdx[ms.side][i]]; !cell.Null {
			m.check(c, ms.side, cell.Text)
		}
	}
	inv := m.invalid(ms)
	m.keepKey(ms)
	n, err := m.skip(ms)
	if err != nil {
		return err
	}
	d := Discrepancy{Kind: KindMissingInTarget, Key: m.keyOf(ms)}
	switch {
	case n > 1:
		d = Discrepancy{Kind: KindDuplicateKey, Key: d.Key, Side: sideName(ms.side), Count: n}
	case inv != nil:
		inv.Key = d.Key
		d = *inv
	case ms.side == 1:
		d.Kind = KindMissingInSource
	}
	return m.x.emit(d)
}

// pair decides the current key, which both sides have.
func (m *merger) pair() error {
	src, tgt := &m.sides[0], &m.sides[1]
	m.probs[0], m.probs[1], m.diffs = m.probs[0][:0], m.probs[1][:0], m.diffs[:0]
	sc, tc := src.cells, tgt.cells
	if tgt.twin {
		// The rows are the same bytes: every value is the same text on both sides.
		for i := range m.typed {
			mc := &m.typed[i]
			if s := sc[mc.s]; !s.Null && !mc.c.validPlain(s.Text) {
				m.checkSame(mc.c, s.Text)
			}
		}
	} else {
		for i := range m.cols {
			mc := &m.cols[i]
			s, t := sc[mc.s], tc[mc.t]
			if s.Null || t.Null || !sameText(s.Text, t.Text) {
				m.compare(mc.c, s, t)
				continue
			}
			// The same text: the same value (normalizing is a function of the text), valid
			// or not on both sides.
			if mc.kind != kString && !mc.c.validPlain(s.Text) {
				m.checkSame(mc.c, s.Text)
			}
		}
	}
	var invS, invT *Discrepancy
	if len(m.probs[0]) > 0 {
		invS = m.invalid(src)
	}
	if len(m.probs[1]) > 0 {
		invT = m.invalid(tgt)
	}
	m.keepKey(src)
	m.keepKey(tgt)
	ns, err := m.skip(src)
	if err != nil {
		return err
	}
	nt, err := m.skip(tgt)
	if err != nil {
		return err
	}
	if ns > 1 || nt > 1 {
		if ns > 1 {
			if err := m.x.emit(Discrepancy{Kind: KindDuplicateKey, Key: m.keyOf(src), Side: SideSource, Count: ns}); err != nil {
				return err
			}
		}
		if nt > 1 {
			return m.x.emit(Discrepancy{Kind: KindDuplicateKey, Key: m.keyOf(tgt), Side: SideTarget, Count: nt})
		}
		return nil
	}
	if invS != nil || invT != nil {
		if invS != nil {
			invS.Key = m.keyOf(src)
			if err := m.x.emit(*invS); err != nil {
				return err
			}
		}
		if invT != nil {
			invT.Key = m.keyOf(tgt)
			return m.x.emit(*invT)
		}
		return nil
	}
	if len(m.diffs) == 0 {
		m.x.sum.count(KindMatched)
		return nil
	}
	return m.x.emit(Discrepancy{Kind: KindMismatch, Key: m.keyOf(src), Columns: slices.Clone(m.diffs)})
}

// compare compares two values of c that are not the same text, or NULL, validating
// them, and notes a difference when both rows are valid so far.
func (m *merger) compare(c *column, s, t Cell) {
	switch {
	case s.Null || t.Null:
		if !s.Null {
			m.check(c, 0, s.Text)
		}
		if !t.Null {
			m.check(c, 1, t.Text)
		}
		if s.Null == t.Null {
			return
		}
	default:
		var ps, pt string
		m.scratch[0], _, ps = c.canon(m.scratch[0][:0], s.Text)
		m.scratch[1], _, pt = c.canon(m.scratch[1][:0], t.Text)
		if ps != "" {
			m.probs[0] = append(m.probs[0], "column "+c.sideName[0]+": "+c.quote(s.Text)+" "+ps)
		}
		if pt != "" {
			m.probs[1] = append(m.probs[1], "column "+c.sideName[1]+": "+c.quote(t.Text)+" "+pt)
		}
		if ps != "" || pt != "" || c.equal(m.scratch[0], m.scratch[1]) {
			return
		}
	}
	if len(m.probs[0])+len(m.probs[1]) == 0 {
		m.diffs = append(m.diffs, ColumnDiff{Name: c.Name, Source: ownedCell(c, s), Target: ownedCell(c, t)})
	}
}

// checkSame validates a text of c that both rows have.
func (m *merger) checkSame(c *column, text string) {
	var p string
	if m.scratch[0], p = c.problem(m.scratch[0], text); p != "" {
		q := ": " + c.quote(text) + " " + p
		m.probs[0] = append(m.probs[0], "column "+c.sideName[0]+q)
		m.probs[1] = append(m.probs[1], "column "+c.sideName[1]+q)
	}
}

// sameText is a == b, without a call for the short texts most values are.
func sameText(a, b string) bool {
	n := len(a)
	if n != len(b) {
		return false
	}
	if n < 8 || n > 16 {
		return a == b
	}
	x := unsafe.Slice(unsafe.StringData(a), n)
	y := unsafe.Slice(unsafe.StringData(b), n)
	return binary.LittleEndian.Uint64(x) == binary.LittleEndian.Uint64(y) &&
		binary.LittleEndian.Uint64(x[n-8:]) == binary.LittleEndian.Uint64(y[n-8:])
}

// ownedCell is a compared value as it goes into an outcome, not sharing the reader's
// memory.
func ownedCell(c *column, cell Cell) Cell {
	if !cell.Null && !c.Sensitive {
		cell.Text = strings.Clone(cell.Text)
	}
	return c.show(cell.Text, cell.Null)
}
