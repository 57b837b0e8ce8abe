package diff

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Fingerprinted records. When both sides are Refetchers, the hash strategy does not keep
// a row's values: the value part of its record is
//
//	uvarint locator, then 16 bytes: two 64-bit hashes of the row's canonical values
//
// (flagFingerprint set). The hashes are maphash's with two seeds drawn for the run, so
// nobody can prepare rows that collide; both sides use the same seeds. Two rows whose
// canonical values are all equal have equal fingerprints and are matched, as bytes.Equal
// on canonical values would decide (equal canonical values are equal under any
// tolerance). When the fingerprints of a key's two rows differ, both rows are read again
// (Refetcher.Refetch), checked to have the key and fingerprint they were read with (else
// the input changed during the run, and the run fails), encoded with their values, and
// compared column by column as always, so tolerances, differing columns and the texts
// they report are exactly those of a run without fingerprints. Only rows of a key on both sides whose values are not
// all equal are read again: at 0.1% discrepancies that is about 0.1% of the rows.
//
// What is hashed per compared column: tag 0 for NULL, or tag 1, the uvarint length of the
// canonical bytes and the canonical bytes. The text as read is not (values equal in
// another spelling, "10.5" and "10.50", hash the same). When both sides are RawRecorders
// whose rows have the same form (rawRecorders), a row that has a raw form (a CSV record
// on one line) is hashed as those bytes instead, with other seeds (lineprint.go: for
// most lines, Go's AES hash construction with both hashes in one pass): equal lines hold
// equal texts, so equal values; a key whose two rows are spelled differently is read
// again and compared, and is matched if its values are equal. The values of a raw row
// are still validated (a row with a value that does not parse is an invalid_row).
//
// Two different rows sharing both hashes would be matched without being compared: with
// 128 bits from seeds drawn per run, the chance is about 2^-128 per key.

const (
	flagFingerprint = 4
	fingerprintLen  = 16
)

// WithoutFingerprints makes the hash strategy keep every row's values even when both
// sides could be read again (tests compare the two ways).
func WithoutFingerprints() Option { return func(o *options) { o.noFingerprint = true } }

// fpSeeds are a run's fingerprint seeds, shared by both sides' encoders: a and b hash
// canonical values, c and d rows as read (RawRecorder), so that the two kinds of input
// never give the same fingerprint by being the same bytes.
type fpSeeds struct {
	a, b, c, d maphash.Seed
	aes        *aesSeeds // for rows as read of aesLineMin to aesLineMax bytes (lineprint.go)
}

func newFPSeeds() *fpSeeds {
	return &fpSeeds{a: maphash.MakeSeed(), b: maphash.MakeSeed(), c: maphash.MakeSeed(), d: maphash.MakeSeed(),
		aes: newAESSeeds()}
}

// rawRecorders returns both sides' RawRecorders when rows read as the same bytes on both
// sides have the same compared values: the same RawFormat and columns, and every key and
// compared column at the same position on both sides.
func rawRecorders(p *plan, s, t Reader) (rs [2]RawRecorder, ok bool) {
	a, okA := unwrapTo[RawRecorder](s)
	b, okB := unwrapTo[RawRecorder](t)
	if !okA || !okB || a.RawFormat() == "" || a.RawFormat() != b.RawFormat() ||
		!slices.Equal(s.Columns(), t.Columns()) ||
		!slices.Equal(p.keyIdx[0], p.keyIdx[1]) || !slices.Equal(p.colIdx[0], p.colIdx[1]) {
		return rs, false
	}
	return [2]RawRecorder{a, b}, true
}

// unwrapTo returns rd, or the reader it wraps (Unwrap), as a T.
func unwrapTo[T any](rd Reader) (T, bool) {
	for {
		if t, ok := rd.(T); ok {
			return t, true
		}
		u, ok := rd.(interface{ Unwrap() Reader })
		if !ok {
			var zero T
			return zero, false
		}
		rd = u.Unwrap()
	}
}

// canRefetch reports whether rd can read its rows again.
func canRefetch(rd Reader) (Refetcher, bool) {
	rf, ok := unwrapTo[Refetcher](rd)
	return rf, ok && rf.CanRefetch()
}

// appendFingerprint appends the fingerprinted value part of a row to dst, or collects the
// problems of its values in e.probs (dst then unchanged).
func (e *encoder) appendFingerprint(dst []byte, cells []Cell) []byte {
	var line []byte
	if e.raw != nil {
		line, _ = e.raw.RawRecord()
	}
	fp, ok := e.fingerprintOf(cells, line)
	if !ok {
		return dst
	}
	dst = binary.AppendUvarint(dst, e.loc.Locator())
	return append(dst, fp[:]...)
}

// fingerprintOf returns the fingerprint of a row: of line, its bytes as read, when there
// is one and both sides' rows have that form (e.raw), else of its canonical values. false
// when a value does not parse (the problems are in e.probs).
func (e *encoder) fingerprintOf(cells []Cell, line []byte) (fp [fingerprintLen]byte, ok bool) {
	e.probs = e.probs[:0]
	if e.raw != nil && line != nil {
		// The values must still parse as their types (an invalid row is an outcome).
		for i, c := range e.cols {
			if c.kind == kString {
				continue
			}
			cell := cells[e.colIdx[i]]
			if cell.Null || c.validPlain(cell.Text) {
				continue
			}
			var p string
			if e.vals, p = c.problem(e.vals[:0], cell.Text); p != "" {
				e.probs = append(e.probs, "column "+c.sideName[e.side]+": "+c.quote(cell.Text)+" "+p)
			}
		}
		if len(e.probs) > 0 {
			return fp, false
		}
		return lineFingerprint(e.seeds, line), true
	}
	vals := e.appendValues(e.vals[:0], cells, false)
	e.vals = vals
	if len(e.probs) > 0 {
		return fp, false
	}
	binary.LittleEndian.PutUint64(fp[:8], maphash.Bytes(e.seeds.a, vals))
	binary.LittleEndian.PutUint64(fp[8:], maphash.Bytes(e.seeds.b, vals))
	return fp, true
}

// recFingerprint returns the fingerprint of a fingerprinted record: its last bytes.
func recFingerprint(rec []byte) []byte {
	n := recLen(rec)
	return rec[n-fingerprintLen : n]
}

// refetcher reads the rows of fingerprinted records again, with values. One per join
// worker (its encoders and buffers are not shared).
type refetcher struct {
	rs    [2]Refetcher
	enc   [2]*encoder                                 // with values
	fps   [2]*encoder                                 // as the side's encoder fingerprints rows: to check the row read again
	fetch [2]func(loc uint64) ([]Cell, []byte, error) // rs' Refetch, or a session of it
	buf   [2][]byte
	count *atomic.Int64 // rows read again, both sides, all workers
}

// newRefetcher returns a refetcher for sides read with the encoders sides.
func newRefetcher(p *plan, rs [2]Refetcher, sides [2]*encoder, count *atomic.Int64) *refetcher {
	f := &refetcher{rs: rs, enc: [2]*encoder{newEncoder(p, 0), newEncoder(p, 1)}, count: count}
	for i, e := range sides {
		f.fps[i] = newEncoder(p, i)
		f.fps[i].seeds, f.fps[i].raw = e.seeds, e.raw
		f.fetch[i] = rs[i].Refetch
		if s, ok := rs[i].(SessionRefetcher); ok {
			f.fetch[i] = s.RefetchSession()
		}
	}
	return f
}

// full returns the record of rec's row with its values, read again from its side.
func (f *refetcher) full(side int, rec []byte) ([]byte, error) {
	_, vals := recRaw(rec)
	loc, _ := binary.Uvarint(vals)
	rd := f.rs[side]
	cells, raw, err := f.fetch[side](loc)
	if err != nil {
		return nil, fmt.Errorf("diff: %s: reading a row again (at %d): %w", sideName(side), loc, err)
	}
	f.count.Add(1)
	// The row read again must be the row fingerprinted: same key, same fingerprint.
	fp, fpOK := f.fps[side].fingerprintOf(cells, raw)
	enc := f.enc[side]
	enc.rowErr = ""
	out := enc.encode(f.buf[side][:0], cells, rd)
	f.buf[side] = out
	if !fpOK || !bytes.Equal(fp[:], recFingerprint(rec)) || recFlags(out) != 0 || !bytes.Equal(recKey(out), recKey(rec)) {
		what := ""
		if n, ok := rd.(Namer); ok {
			what = " (" + n.Name() + ")"
		}
		return nil, fmt.Errorf("diff: %s changed during the run%s: the row read again at %d is not the one read first (key %s)",
			sideName(side), what, loc, enc.p.formatKey(recKey(rec)))
	}
	return out, nil
}

// encodeLine is encode's fast path for a row with one plain key column and a line to
// hash whose values pass the quick checks: it appends the very record encode would, or
// returns false with dst unchanged (encode then says what is wrong, if anything).
func (e *encoder) encodeLine(dst []byte, cells []Cell) ([]byte, bool) {
	if e.rowErr != "" || len(cells) != e.ncols {
		return dst, false
	}
	key := cells[e.keyIdx[0]]
	line, ok := e.raw.RawRecord()
	if !ok || key.Null {
		return dst, false
	}
	for _, i := range e.typed {
		if cell := cells[e.colIdx[i]]; !cell.Null && !e.cols[i].validPlain(cell.Text) {
			return dst, false
		}
	}
	return e.appendLineRecord(dst, key.Text, line)
}

// appendLineRecord appends the record of a row whose one plain key is key and whose
// line, with values that pass the quick checks, is line; false (dst unchanged) for an
// empty key or one too long for the short form.
func (e *encoder) appendLineRecord(dst []byte, key string, line []byte) ([]byte, bool) {
	loc := e.loc.Locator()
	n := len(key)
	// After L: K, the key tuple (length, bytes), R, tag 1, the locator, the fingerprint.
	rest := 1 + 1 + n + 2 + uvarintLen(loc) + fingerprintLen
	if n == 0 || rest >= 0x80 {
		return dst, false
	}
	e.rowNo++
	start := len(dst)
	dst = append(dst, flagFingerprint, byte(rest), byte(n+1), byte(n))
	dst = append(dst, key...)
	if e.noHash {
		e.hash = 0
	} else {
		e.hash = xxhash.Sum64(dst[start+3:])
	}
	dst = append(dst, 1, 1)
	dst = binary.AppendUvarint(dst, loc)
	fp := lineFingerprint(e.seeds, line)
	return append(dst, fp[:]...), true
}

// lineFields is what encodePlain needs of a line: the fields to find, in order.
type lineFields struct {
	delim    byte
	null     string // a field that is NULL; "" for an empty one
	need     int    // fields to find: up to the last one read
	key      int    // the key's field
	typed    []int  // fields validated, by compared column (e.typed order)
	kinds    []kind // the typed fields' kinds, for lineKey's quick checks
	ends     []int32
	delimStr []byte      // delim, for bytes.Count
	delims   delimMasker // how to find the delimiters at once
}

// isNull reports whether a field of a line is NULL.
func (lf *lineFields) isNull(b []byte) bool { return string(b) == lf.null }

// usePlainLines sets e up to encode lines of lr unsplit (encodePlain), when its rows are
// fingerprinted as lines with one plain key.
func (e *encoder) usePlainLines(lr LineReader) bool {
	delim, ok := lr.LineDelimiter()
	return ok && e.useLines(delim, "")
}

// useLines sets e up for lines whose fields are split at delim, null being NULL.
func (e *encoder) useLines(delim byte, null string) bool {
	if e.raw == nil || e.loc == nil || !e.plainKey || e.ncols > maxLineFields {
		return false
	}
	lf := &lineFields{delim: delim, null: null, key: e.keyIdx[0], delims: cpuDelims}
	lf.need = lf.key + 1
	for _, i := range e.typed {
		lf.typed = append(lf.typed, e.colIdx[i])
		lf.kinds = append(lf.kinds, e.cols[i].kind)
		lf.need = max(lf.need, e.colIdx[i]+1)
	}
	// Written per line: padded so that no other object (the other side's) shares its
	// cache lines.
	pad := 128 / 4
	lf.ends = make([]int32, pad+lf.need+pad)[pad : pad+lf.need]
	lf.delimStr = []byte{delim}
	e.lines = lf
	return true
}

const maxLineFields = 64

// encodePlain is encodeLine for a line of a LineReader (NextLine(lf.need)), which has
// one field per column and none of the fields it needs quoted: it finds the key and the
// typed fields without splitting the rest. false (dst unchanged) when encode must see
// the row's cells.
func (e *encoder) encodePlain(dst []byte, line []byte) ([]byte, bool) {
	lf := e.lines
	var ends [maxLineFields]int32
	found := fieldEnds(line, lf.delim, ends[:lf.need], 0)
	if found < lf.need {
		// The last field ends the line.
		ends[found] = int32(len(line))
	}
	field := func(i int) []byte {
		start := int32(0)
		if i > 0 {
			start = ends[i-1] + 1
		}
		return line[start:ends[i]]
	}
	for j, f := range lf.typed {
		if b := field(f); len(b) > 0 && !e.cols[e.typed[j]].validPlain(bstr(b)) {
			return dst, false
		}
	}
	return e.appendLineRecord(dst, bstr(field(lf.key)), line)
}

// fieldEnds writes to ends the offsets of the first len(ends) delimiters of line, plus
// base, eight bytes at a time, and returns how many it found.
func fieldEnds(line []byte, delim byte, ends []int32, base int32) int {
	dm := uint64(delim) * 0x0101010101010101
	n, i := 0, 0
	for ; i+8 <= len(line); i += 8 {
		w := binary.LittleEndian.Uint64(line[i:])
		for m := zeroBytes(w ^ dm); m != 0; m &= m - 1 {
			ends[n] = base + int32(i+bits.TrailingZeros64(m)>>3)
			if n++; n == len(ends) {
				return n
			}
		}
	}
	for ; i < len(line); i++ {
		if line[i] == delim {
			ends[n] = base + int32(i)
			if n++; n == len(ends) {
				return n
			}
		}
	}
	return n
}

// zeroBytes has the high bit of each byte of x that is zero set, and no other bit.
func zeroBytes(x uint64) uint64 {
	const lo7 = 0x7f7f7f7f7f7f7f7f
	t := ((x & lo7) + lo7) | x
	return ^(t | lo7)
}

// bstr is b as a string, without copying: only while b is not modified.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
