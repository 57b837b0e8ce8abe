package diff

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// plan is a Spec compiled against the two readers' columns.
type plan struct {
	keys        []*column
	cols        []*column
	keyIdx      [2][]int // reader column index of each key column, per side
	colIdx      [2][]int // reader column index of each compared column, per side
	ncols       [2]int
	singleBytes bool // one key column whose canonical bytes order like its values
}

func sideName(side int) Side {
	if side == 0 {
		return SideSource
	}
	return SideTarget
}

func newPlan(spec Spec, srcCols, tgtCols []string) (*plan, error) {
	if err := spec.CheckColumns(srcCols, tgtCols); err != nil {
		return nil, err
	}
	p := &plan{ncols: [2]int{len(srcCols), len(tgtCols)}}
	maskKey := spec.MaskKey
	if len(maskKey) == 0 {
		maskKey = NewMaskKey()
	}
	index := func(cols []string, name string) int {
		for i, c := range cols {
			if c == name {
				return i
			}
		}
		return -1
	}
	build := func(field string, in []Column) ([]*column, error) {
		out := make([]*column, len(in))
		for i, c := range in {
			cc, err := compileColumn(c)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
			}
			cc.srcIdx = index(srcCols, c.Name)
			cc.tgtIdx = index(tgtCols, c.TargetName())
			cc.keyOrdinal = i
			cc.maskKey = maskKey
			out[i] = cc
		}
		return out, nil
	}
	var err error
	if p.keys, err = build("keys", spec.Keys); err != nil {
		return nil, err
	}
	if p.cols, err = build("compare", spec.Compare); err != nil {
		return nil, err
	}
	for _, k := range p.keys {
		p.keyIdx[0] = append(p.keyIdx[0], k.srcIdx)
		p.keyIdx[1] = append(p.keyIdx[1], k.tgtIdx)
	}
	for _, c := range p.cols {
		p.colIdx[0] = append(p.colIdx[0], c.srcIdx)
		p.colIdx[1] = append(p.colIdx[1], c.tgtIdx)
	}
	p.singleBytes = len(p.keys) == 1 && p.keys[0].bytewise
	return p, nil
}

// Records. Every row the hash strategy reads is encoded once into a self-contained
// record, the unit that partition chunks and spill files hold:
//
//	flags              flagInvalidKey | flagInvalidValue | flagFingerprint
//	uvarint L          length of the rest of the record
//	[8 bytes]          only with flagInvalidKey: the row's hash (it has no key to hash)
//	uvarint K, K bytes key tuple: per key column uvarint length + canonical bytes
//	                   (empty when flagInvalidKey)
//	uvarint R, R bytes per key column the value as read: tag 0 NULL, tag 1 same as the
//	                   canonical component, tag 2 uvarint length + text
//	then, when flagged invalid: uvarint length + reason, uvarint length + position;
//	with flagFingerprint: uvarint locator and 16 bytes of fingerprint (fingerprint.go);
//	else per compared column: tag 0 NULL | tag 1 uvarint length + canonical (= as read)
//	                   | tag 2 uvarint length + canonical, uvarint length + as read
//
// A key's hash is not stored: it is the xxhash of the key tuple, computed again where
// needed (cheaper than moving 8 more bytes per row through memory and spill files).
const (
	flagInvalidKey   = 1
	flagInvalidValue = 2
)

// uvarintAt decodes the uvarint at b[0:], fast for one byte.
func uvarintAt(b []byte) (v, n int) {
	if b[0] < 0x80 {
		return int(b[0]), 1
	}
	x, k := binary.Uvarint(b)
	return int(x), k
}

func recLen(rec []byte) int {
	l, k := uvarintAt(rec[1:])
	return 1 + k + l
}

func recFlags(rec []byte) byte { return rec[0] }

// recKeyAt is the offset of the key tuple's length.
func recKeyAt(rec []byte) int {
	_, k := uvarintAt(rec[1:])
	if rec[0]&flagInvalidKey != 0 {
		return 1 + k + 8
	}
	return 1 + k
}

func recHash(rec []byte) uint64 {
	if rec[0]&flagInvalidKey != 0 {
		_, k := uvarintAt(rec[1:])
		return binary.LittleEndian.Uint64(rec[1+k:])
	}
	return xxhash.Sum64(recKey(rec))
}

func recKey(rec []byte) []byte {
	o := recKeyAt(rec)
	n, k := uvarintAt(rec[o:])
	return rec[o+k : o+k+n]
}

func recRaw(rec []byte) (raw, rest []byte) {
	o := recKeyAt(rec)
	n, k := uvarintAt(rec[o:])
	o += k + n
	n, k = uvarintAt(rec[o:])
	return rec[o+k : o+k+n], rec[o+k+n : recLen(rec)]
}

func uvarintBytes(b []byte) (v, rest []byte) {
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)], b[k+int(n):]
}

// readVal decodes one compared value: tag, canonical bytes, bytes as read.
func readVal(b []byte) (tag byte, canon, raw, rest []byte) {
	tag = b[0]
	if tag == 0 {
		return 0, nil, nil, b[1:]
	}
	canon, rest = uvarintBytes(b[1:])
	raw = canon
	if tag == 2 {
		raw, rest = uvarintBytes(rest)
	}
	return tag, canon, raw, rest
}

// mix64 spreads a row number into a hash for rows without a key.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// encoder turns one side's rows into records. Not safe for concurrent use.
type encoder struct {
	_        [128]byte // written per row: keep it off others' cache lines
	p        *plan
	keys     []*column // copies of the plan's, read per row
	cols     []*column
	side     int
	keyIdx   []int
	colIdx   []int
	ncols    int
	canon    []byte
	rowNo    uint64
	probs    []string
	seeds    *fpSeeds    // set: fingerprinted records (fingerprint.go)
	loc      Refetcher   // with seeds: where rows are read again
	raw      RawRecorder // with seeds: rows hashed as read when they can be
	typed    []int       // compared columns that are not strings (their values are validated)
	plainKey bool        // one key column, a plain string
	lines    *lineFields // rows come as lines (usePlainLines)
	vals     []byte      // with seeds: canonical values of the row being encoded
	noHash   bool        // skip the key hash (benchmarks of encoding alone)
	hash     uint64      // the hash of the last record encoded
	// rowErr is the reader's reason when the next row to encode could not be read as
	// a row (InvalidRowError); the row becomes an invalid_row with it.
	rowErr string
	_      [128]byte
}

func newEncoder(p *plan, side int) *encoder {
	e := &encoder{p: p, side: side, keys: slices.Clone(p.keys), cols: slices.Clone(p.cols),
		keyIdx: slices.Clone(p.keyIdx[side]), colIdx: slices.Clone(p.colIdx[side]), ncols: p.ncols[side]}
	for i, c := range e.cols {
		if c.kind != kString {
			e.typed = append(e.typed, i)
		}
	}
	e.plainKey = len(e.keys) == 1 && e.keys[0].identity
	return e
}

// appendKey appends the key tuple of a row (per key column uvarint length + canonical
// bytes) to dst, or returns why the row has no usable key, with dst unchanged: the
// reader could not read it (rowErr, which it consumes), it has the wrong number of
// cells, or a key value is NULL, empty or does not parse.
func (e *encoder) appendKey(dst []byte, cells []Cell) ([]byte, string) {
	switch {
	case e.rowErr != "":
		reason := e.rowErr
		e.rowErr = ""
		return dst, reason
	case len(cells) != e.ncols:
		return dst, fmt.Sprintf("row has %d values, expected %d", len(cells), e.ncols)
	}
	start := len(dst)
	for i, k := range e.keys {
		cell := cells[e.keyIdx[i]]
		if cell.Null {
			return dst[:start], "key column " + k.sideName[e.side] + " is NULL"
		}
		if k.isEmpty(cell.Text) {
			return dst[:start], "key column " + k.sideName[e.side] + " is empty"
		}
		if k.identity {
			dst = appendLenText(dst, cell.Text)
			continue
		}
		var p string
		e.canon, _, p = k.canon(e.canon[:0], cell.Text)
		if p != "" {
			return dst[:start], "key column " + k.sideName[e.side] + ": " + k.quote(cell.Text) + " " + p
		}
		dst = binary.AppendUvarint(dst, uint64(len(e.canon)))
		dst = append(dst, e.canon...)
	}
	return dst, ""
}

// encode appends the record of cells (aligned with the reader's columns) to dst. r is
// asked for its Position only when the row is invalid.
func (e *encoder) encode(dst []byte, cells []Cell, r Reader) []byte {
	if e.raw != nil && e.plainKey {
		if out, ok := e.encodeLine(dst, cells); ok {
			return out
		}
	}
	e.rowNo++
	start := len(dst)
	dst = append(dst, 0, 0, 0) // flags, L and K, one byte each until known
	kAt := start + 2
	var flags byte
	dst, reason := e.appendKey(dst, cells)
	var h uint64
	switch {
	case reason != "":
		flags = flagInvalidKey
		h = mix64(e.rowNo*2 + uint64(e.side))
		dst = binary.LittleEndian.AppendUint64(dst[:kAt], h)
		kAt = len(dst)
		dst = append(dst, 0)
	default:
		dst = putLenAt(dst, kAt, len(dst)-kAt-1)
		if !e.noHash {
			_, k := uvarintAt(dst[kAt:])
			h = xxhash.Sum64(dst[kAt+k:])
		}
	}
	e.hash = h

	// The key values as read.
	rawAt := len(dst)
	dst = append(dst, 0)
	_, k := uvarintAt(dst[kAt:])
	off := kAt + k
	for i := range e.keys {
		idx := e.keyIdx[i]
		if idx >= len(cells) || cells[idx].Null {
			dst = append(dst, 0)
			continue
		}
		text := cells[idx].Text
		if flags == 0 {
			n, k := uvarintAt(dst[off:])
			comp := dst[off+k : off+k+n]
			off += k + n
			if e.keys[i].identity || string(comp) == text {
				dst = append(dst, 1)
				continue
			}
		}
		dst = append(dst, 2)
		dst = binary.AppendUvarint(dst, uint64(len(text)))
		dst = append(dst, text...)
	}
	dst = putLenAt(dst, rawAt, len(dst)-rawAt-1)

	if flags == 0 && e.seeds != nil {
		dst = e.appendFingerprint(dst, cells)
		if len(e.probs) > 0 {
			flags = flagInvalidValue
			reason = strings.Join(e.probs, "; ")
		}
	} else if flags == 0 {
		valStart := len(dst)
		dst = e.appendValues(dst, cells, true)
		if len(e.probs) > 0 {
			dst = dst[:valStart]
			flags = flagInvalidValue
			reason = strings.Join(e.probs, "; ")
		}
	}
	if flags != 0 {
		pos := r.Position()
		dst = binary.AppendUvarint(dst, uint64(len(reason)))
		dst = append(dst, reason...)
		dst = binary.AppendUvarint(dst, uint64(len(pos)))
		dst = append(dst, pos...)
	}
	if flags == 0 && e.seeds != nil {
		flags = flagFingerprint
	}
	dst[start] = flags
	return putLenAt(dst, start+1, len(dst)-start-2)
}

// appendValues appends a row's compared values: per column tag 0 for NULL, else tag 1,
// the uvarint length of the canonical bytes and the canonical bytes; with texts, tag 2
// instead when the text as read is not the canonical bytes, then its uvarint length and
// the text. The problems of values that do not parse go to e.probs (the caller drops
// what was appended).
func (e *encoder) appendValues(dst []byte, cells []Cell, texts bool) []byte {
	e.probs = e.probs[:0]
	for i, c := range e.cols {
		cell := cells[e.colIdx[i]]
		if cell.Null {
			dst = append(dst, 0)
			continue
		}
		text := cell.Text
		if c.identity || c.isCanon(text) {
			dst = append(dst, 1)
			dst = appendLenText(dst, text)
			continue
		}
		// The canonical bytes go straight after the tag and one byte reserved for their
		// length.
		at := len(dst)
		dst = append(dst, 1, 0)
		var p string
		var same bool
		dst, same, p = c.canon(dst, text)
		if p != "" {
			dst = dst[:at]
			e.probs = append(e.probs, "column "+c.sideName[e.side]+": "+c.quote(text)+" "+p)
			continue
		}
		withText := texts && !same && (c.kind == kTimestamp || string(dst[at+2:]) != text)
		dst = putLenAt(dst, at+1, len(dst)-at-2)
		if withText {
			dst[at] = 2
			dst = appendLenText(dst, text)
		}
	}
	return dst
}

// appendLenText appends the uvarint length of text and text.
func appendLenText(dst []byte, text string) []byte {
	if len(text) < 0x80 {
		dst = append(dst, byte(len(text)))
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(text)))
	}
	return append(dst, text...)
}

// putLenAt writes n, the number of bytes after at+1 (the end of dst), as a uvarint at
// at, where one byte was reserved for it, moving the bytes when it needs more.
func putLenAt(dst []byte, at, n int) []byte {
	if n < 0x80 {
		dst[at] = byte(n)
		return dst
	}
	var tmp [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(tmp[:], uint64(n))
	dst = append(dst, tmp[:k-1]...)
	copy(dst[at+k:], dst[at+1:at+1+n])
	copy(dst[at:], tmp[:k])
	return dst
}

// cmpKey orders two key tuples: component by component, each in its natural order.
func (p *plan) cmpKey(a, b []byte) int {
	if p.singleBytes {
		_, na := binary.Uvarint(a)
		_, nb := binary.Uvarint(b)
		return bytes.Compare(a[na:], b[nb:])
	}
	for _, k := range p.keys {
		var ca, cb []byte
		ca, a = uvarintBytes(a)
		cb, b = uvarintBytes(b)
		if c := k.cmpCanon(ca, cb); c != 0 {
			return c
		}
	}
	return 0
}

// formatKey renders a key tuple for an error message: canonical values, masked when
// sensitive.
func (p *plan) formatKey(key []byte) string {
	var sb strings.Builder
	sb.WriteByte('(')
	for i, k := range p.keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		var c []byte
		c, key = uvarintBytes(key)
		if k.Sensitive {
			sb.WriteString(maskText(k.maskKey, k.canonText(c)))
		} else {
			sb.WriteString(strconv.Quote(k.canonText(c)))
		}
	}
	sb.WriteByte(')')
	return sb.String()
}

// errTruncated stops a run when maxDiscrepancies is reached.
var errTruncated = errors.New("diff: maxDiscrepancies reached")

// emitter decides outcomes (SEMANTICS.md rules 2-5) and sends discrepancies to the sink.
// It is used by one goroutine at a time.
type emitter struct {
	_     [128]byte // written per row: keep it off others' cache lines
	p     *plan
	sink  Sink
	sum   Summary
	max   int64
	found int64
	rf    *refetcher // fingerprinted records: reads rows again
	_     [128]byte
}

func (x *emitter) emit(d Discrepancy) error {
	if x.max > 0 && x.found >= x.max {
		x.sum.Truncated = true
		return errTruncated
	}
	x.found++
	x.sum.count(d.Kind)
	if err := x.sink.Emit(d); err != nil {
		return fmt.Errorf("diff: sink: %w", err)
	}
	return nil
}

// key returns the key of a record as read, masked where sensitive.
func (x *emitter) key(rec []byte) []KeyValue {
	raw, _ := recRaw(rec)
	tuple := recKey(rec)
	kv := make([]KeyValue, len(x.p.keys))
	for i, k := range x.p.keys {
		var comp []byte
		if len(tuple) > 0 {
			comp, tuple = uvarintBytes(tuple)
		}
		kv[i].Name = k.Name
		tag := raw[0]
		raw = raw[1:]
		switch tag {
		case 0:
			kv[i].Value = Cell{Null: true}
		case 1:
			kv[i].Value = k.show(string(comp), false)
		default:
			var text []byte
			text, raw = uvarintBytes(raw)
			kv[i].Value = k.show(string(text), false)
		}
	}
	return kv
}

func (x *emitter) invalidRow(rec []byte, side int) error {
	_, rest := recRaw(rec)
	reason, rest := uvarintBytes(rest)
	pos, _ := uvarintBytes(rest)
	return x.emit(Discrepancy{Kind: KindInvalidRow, Key: x.key(rec), Side: sideName(side), Reason: string(reason), Position: string(pos)})
}

// decide produces the outcome of one key: src and tgt are the first record with that key
// on each side (nil when ns or nt is 0), ns and nt the number of rows.
func (x *emitter) decide(src []byte, ns int64, tgt []byte, nt int64) error {
	if ns > 1 || nt > 1 {
		if ns > 1 {
			if err := x.emit(Discrepancy{Kind: KindDuplicateKey, Key: x.key(src), Side: SideSource, Count: ns}); err != nil {
				return err
			}
		}
		if nt > 1 {
			return x.emit(Discrepancy{Kind: KindDuplicateKey, Key: x.key(tgt), Side: SideTarget, Count: nt})
		}
		return nil
	}
	si := ns == 1 && recFlags(src)&flagInvalidValue != 0
	ti := nt == 1 && recFlags(tgt)&flagInvalidValue != 0
	if si || ti {
		if si {
			if err := x.invalidRow(src, 0); err != nil {
				return err
			}
		}
		if ti {
			return x.invalidRow(tgt, 1)
		}
		return nil
	}
	switch {
	case nt == 0:
		return x.emit(Discrepancy{Kind: KindMissingInTarget, Key: x.key(src)})
	case ns == 0:
		return x.emit(Discrepancy{Kind: KindMissingInSource, Key: x.key(tgt)})
	}
	if recFlags(src)&flagFingerprint != 0 {
		if bytes.Equal(recFingerprint(src), recFingerprint(tgt)) {
			x.sum.count(KindMatched)
			return nil
		}
		var err error
		if src, err = x.rf.full(0, src); err != nil {
			return err
		}
		if tgt, err = x.rf.full(1, tgt); err != nil {
			return err
		}
	}
	_, vs := recRaw(src)
	_, vt := recRaw(tgt)
	if bytes.Equal(vs, vt) {
		// Same tags, canonical values and texts: every column is equal.
		x.sum.count(KindMatched)
		return nil
	}
	var diffs []ColumnDiff
	for _, c := range x.p.cols {
		var ts, tt byte
		var cs, ct, rs, rt []byte
		ts, cs, rs, vs = readVal(vs)
		tt, ct, rt, vt = readVal(vt)
		if ts != 0 && tt != 0 {
			if c.equal(cs, ct) {
				continue
			}
		} else if ts == tt {
			continue
		}
		diffs = append(diffs, ColumnDiff{Name: c.Name, Source: c.show(string(rs), ts == 0), Target: c.show(string(rt), tt == 0)})
	}
	if diffs == nil {
		x.sum.count(KindMatched)
		return nil
	}
	return x.emit(Discrepancy{Kind: KindMismatch, Key: x.key(src), Columns: diffs})
}
