package diff

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// refetchReader is a sliceReader that can read its rows again by index; change, when
// set, alters what Refetch returns (a file changed under the run).
type refetchReader struct {
	*sliceReader
	fetched atomic.Int64
	change  func(cells []Cell) []Cell
}

func (r *refetchReader) CanRefetch() bool { return true }
func (r *refetchReader) Locator() uint64  { return uint64(r.i - 1) }
func (r *refetchReader) Refetch(loc uint64) ([]Cell, []byte, error) {
	if loc >= uint64(len(r.rows)) {
		return nil, nil, errors.New("no such row")
	}
	r.fetched.Add(1)
	cells := append([]Cell(nil), r.rows[loc]...)
	if r.change != nil {
		cells = r.change(cells)
	}
	return cells, nil, nil
}

// fingerprintPair builds a pair of known outcomes: n identical rows, then keys whose
// values are equal in another spelling (not read again), equal within tolerance (read
// again, matched), different (read again, mismatch), missing, duplicated and invalid.
func fingerprintPair(n int) (src, tgt [][]Cell, refetchedKeys int) {
	for i := range n {
		id := fmt.Sprintf("k%06d", i)
		v := fmt.Sprintf("%d.%02d", i, i%100)
		at := fmt.Sprintf("2026-03-01T10:%02d:%02dZ", i/60%60, i%60)
		src = append(src, row(id, v, at, "EUR"))
		tgt = append(tgt, row(id, v, at, "EUR"))
	}
	add := func(s, t []Cell) {
		if s != nil {
			src = append(src, s)
		}
		if t != nil {
			tgt = append(tgt, t)
		}
	}
	// Same canonical values: one fingerprint, matched without reading again.
	add(row("spell1", "10.5", "2026-03-01T10:00:00Z", "EUR"), row("spell1", "10.50", "2026-03-01T11:00:00+01:00", "EUR"))
	add(row("spell2", "007", "2026-03-01T10:00:00.000Z", nil), row("spell2", "7.0", "2026-03-01T10:00:00Z", nil))
	// Within tolerance: read again, matched.
	add(row("tol1", "1.00", "2026-03-01T10:00:00Z", "EUR"), row("tol1", "1.01", "2026-03-01T10:00:00Z", "EUR"))
	add(row("tol2", "1.00", "2026-03-01T10:00:00Z", "EUR"), row("tol2", "1.00", "2026-03-01T10:00:02Z", "EUR"))
	// Different: read again, mismatch.
	add(row("diff1", "1.00", "2026-03-01T10:00:00Z", "EUR"), row("diff1", "1.02", "2026-03-01T10:00:00Z", "EUR"))
	add(row("diff2", "1.00", "2026-03-01T10:00:00Z", "EUR"), row("diff2", "1.00", "2026-03-01T10:00:00Z", "eur"))
	add(row("diff3", "1.00", "2026-03-01T10:00:00Z", nil), row("diff3", "1.00", "2026-03-01T10:00:00Z", ""))
	refetchedKeys = 5
	// Neither read again: missing, duplicated, invalid.
	add(row("onlysrc", "1", "2026-03-01T10:00:00Z", "EUR"), nil)
	add(nil, row("onlytgt", "1", "2026-03-01T10:00:00Z", "EUR"))
	add(row("dup", "1", "2026-03-01T10:00:00Z", "EUR"), row("dup", "2", "2026-03-01T10:00:00Z", "EUR"))
	add(row("dup", "1", "2026-03-01T10:00:00Z", "EUR"), nil)
	add(row("bad", "1,5", "2026-03-01T10:00:00Z", "EUR"), row("bad", "1", "2026-03-01T10:00:00Z", "EUR"))
	add(row(nil, "1", "2026-03-01T10:00:00Z", "EUR"), nil)
	return src, tgt, refetchedKeys
}

var fingerprintSpec = Spec{
	Keys: []Column{{Name: "id"}},
	Compare: []Column{
		{Name: "amount", Type: TypeDecimal, AbsTolerance: "0.01"},
		{Name: "booked_at", Type: TypeTimestamp, TimeTolerance: 2 * time.Second},
		{Name: "currency", Sensitive: true},
	},
	Strategy: StrategyHash,
}

var fingerprintCols = []string{"id", "amount", "booked_at", "currency"}

// TestFingerprintsSameOutcomes: with rows that can be read again, hash keeps
// fingerprints, reads again exactly the rows of keys whose canonical values differ, and
// reports exactly what it reports with every value kept, in memory and spilling.
func TestFingerprintsSameOutcomes(t *testing.T) {
	srcRows, tgtRows, refetchedKeys := fingerprintPair(3000)
	for _, budget := range []int64{0, 64 << 10} {
		t.Run(fmt.Sprintf("budget=%d", budget), func(t *testing.T) {
			spec := fingerprintSpec
			spec.MemoryBudget = budget
			spec.TempDir = t.TempDir()
			wantSum, want, err := runCollect(t, spec,
				newSliceReader("s.csv", fingerprintCols, srcRows), newSliceReader("t.csv", fingerprintCols, tgtRows))
			if err != nil {
				t.Fatal(err)
			}
			s := &refetchReader{sliceReader: newSliceReader("s.csv", fingerprintCols, srcRows)}
			tg := &refetchReader{sliceReader: newSliceReader("t.csv", fingerprintCols, tgtRows)}
			var st Stats
			gotSum, got, err := runCollect(t, spec, s, tg, WithStats(func(x Stats) { st = x }))
			if err != nil {
				t.Fatal(err)
			}
			if gotSum != wantSum {
				t.Errorf("summary %+v, want %+v", gotSum, wantSum)
			}
			assertSame(t, "fingerprints", want, got)
			if !st.Fingerprints || st.Refetched != int64(2*refetchedKeys) {
				t.Errorf("stats: fingerprints %t, refetched %d, want true, %d", st.Fingerprints, st.Refetched, 2*refetchedKeys)
			}
			if s.fetched.Load() != int64(refetchedKeys) || tg.fetched.Load() != int64(refetchedKeys) {
				t.Errorf("rows read again: source %d, target %d, want %d each", s.fetched.Load(), tg.fetched.Load(), refetchedKeys)
			}
			if wantSum.Mismatched != 3 || wantSum.Matched != 3000+4 {
				t.Errorf("the pair is not what the test means: %+v", wantSum)
			}
		})
	}
}

// TestFingerprintsOnlyWhenBothSidesCan: one side that cannot read rows again, or
// WithoutFingerprints, keeps every value.
func TestFingerprintsOnlyWhenBothSidesCan(t *testing.T) {
	srcRows, tgtRows, _ := fingerprintPair(10)
	for name, tc := range map[string]struct {
		tgt  Reader
		opts []Option
	}{
		"target cannot":       {tgt: newSliceReader("t.csv", fingerprintCols, tgtRows)},
		"WithoutFingerprints": {tgt: &refetchReader{sliceReader: newSliceReader("t.csv", fingerprintCols, tgtRows)}, opts: []Option{WithoutFingerprints()}},
	} {
		t.Run(name, func(t *testing.T) {
			s := &refetchReader{sliceReader: newSliceReader("s.csv", fingerprintCols, srcRows)}
			var st Stats
			if _, _, err := runCollect(t, fingerprintSpec, s, tc.tgt, append(tc.opts, WithStats(func(x Stats) { st = x }))...); err != nil {
				t.Fatal(err)
			}
			if st.Fingerprints || st.Refetched != 0 || s.fetched.Load() != 0 {
				t.Errorf("fingerprints %t, refetched %d (%d)", st.Fingerprints, st.Refetched, s.fetched.Load())
			}
		})
	}
}

// TestFingerprintsChangedInput: a row read again that is not the row read first (the
// file changed during the run: another key, or other values) fails the run, naming the
// side and the key (masked when sensitive), instead of comparing the wrong rows.
func TestFingerprintsChangedInput(t *testing.T) {
	srcRows, tgtRows, _ := fingerprintPair(10)
	for _, tc := range []struct {
		sensitive bool
		change    func(c []Cell) []Cell
	}{
		{false, func(c []Cell) []Cell { c[0].Text += "x"; return c }},
		{true, func(c []Cell) []Cell { c[0].Text += "x"; return c }},
		{false, func(c []Cell) []Cell { c[1].Text = "7.77"; return c }},
		{true, func(c []Cell) []Cell { c[3] = Cell{Null: true}; return c }},
	} {
		sensitive := tc.sensitive
		spec := fingerprintSpec
		spec.Keys = []Column{{Name: "id", Sensitive: sensitive}}
		s := &refetchReader{sliceReader: newSliceReader("s.csv", fingerprintCols, srcRows)}
		tg := &refetchReader{sliceReader: newSliceReader("t.csv", fingerprintCols, tgtRows), change: tc.change}
		_, _, err := runCollect(t, spec, s, tg)
		if err == nil || !strings.Contains(err.Error(), "target changed during the run (t.csv): the row read again at ") {
			t.Fatalf("sensitive=%t: err = %v", sensitive, err)
		}
		named := false
		for _, k := range []string{"tol1", "tol2", "diff1", "diff2", "diff3"} {
			named = named || strings.Contains(err.Error(), `"`+k+`"`)
		}
		if named == sensitive {
			t.Errorf("sensitive=%t, key named in clear %t: %v", sensitive, named, err)
		}
	}
}

// TestDataLimitFollowsTheMemoryLimit: with GOGC at 100 the pool gets half the budget
// (less 1/16); with a memory limit within the budget and a quarter, 3/4 of it.
func TestDataLimitFollowsTheMemoryLimit(t *testing.T) {
	const budget = 256 << 20
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	gc := debug.SetGCPercent(100)
	defer debug.SetGCPercent(gc)
	debug.SetMemoryLimit(math.MaxInt64)
	if got, want := dataLimit(budget), int64(budget/2-budget/16); got != want {
		t.Errorf("no memory limit: %d, want %d", got, want)
	}
	debug.SetMemoryLimit(budget + 32<<20)
	if got, want := dataLimit(budget), int64(budget*3/4-budget/16); got != want {
		t.Errorf("memory limit: %d, want %d", got, want)
	}
}

// lineReader is a rawReader whose lines can be split at commas (usePlainLines).
type lineReader struct{ *rawReader }

func (lineReader) LineDelimiter() (byte, bool)          { return ',', true }
func (lineReader) NextLine(int) ([]byte, []Cell, error) { panic("not read") }
func (lineReader) LineCells() []Cell                    { panic("not read") }

// rawReader is a refetchReader whose rows without NULLs have a raw form (the texts
// joined by commas).
type rawReader struct{ *refetchReader }

func (r *rawReader) RawFormat() string { return "test" }
func (r *rawReader) RawRecord() ([]byte, bool) {
	var b []byte
	for i, c := range r.rows[r.i-1] {
		if c.Null {
			return nil, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.Text...)
	}
	return b, true
}

// TestEncodeLineSameRecord: encode's fast path for lines writes exactly the record and
// hash the general path writes, and leaves to it every row it cannot take.
func TestEncodeLineSameRecord(t *testing.T) {
	spec := fingerprintSpec
	p, err := newPlan(spec, fingerprintCols, fingerprintCols)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]Cell{
		row("k1", "1.50", "2026-03-01T10:00:00Z", "EUR"),
		row("k2", "10.5", "2026-03-01T11:00:00+01:00", "EUR"), // valid, not canonical: the line is hashed
		row("k3", "x", "2026-03-01T10:00:00Z", "EUR"),         // invalid
		row("k4", "1", "2026-03-01T10:00:00Z", nil),           // no raw form
		row("", "1", "2026-03-01T10:00:00Z", "EUR"),           // empty key
		row(strings.Repeat("k", 200), "1", "2026-03-01T10:00:00Z", "EUR"),
	}
	rd := &rawReader{&refetchReader{sliceReader: newSliceReader("s.csv", fingerprintCols, rows)}}
	seeds := newFPSeeds()
	fast, slow, probe := newEncoder(p, 0), newEncoder(p, 0), newEncoder(p, 0)
	for _, e := range []*encoder{fast, slow, probe} {
		e.seeds, e.loc, e.raw = seeds, rd, rd
	}
	slow.plainKey = false
	lines := newEncoder(p, 0)
	lines.seeds, lines.loc, lines.raw = seeds, rd, rd
	if !lines.usePlainLines(lineReader{rd}) {
		t.Fatal("usePlainLines refused a plain key with rows hashed as lines")
	}
	took := 0
	for i := range rows {
		cells, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		_, ok := probe.encodeLine(nil, cells)
		if ok {
			took++
		}
		// From the line alone, encodePlain takes the same rows and writes the same.
		if line, hasLine := rd.RawRecord(); hasLine {
			rec, plainOK := lines.encodePlain(nil, line)
			want := slow.encode(nil, cells, rd)
			slow.rowNo-- // encoded again below
			if plainOK != ok || ok && (string(rec) != string(want) || lines.hash != slow.hash) {
				t.Errorf("row %d: encodePlain %x %v, want %x %v", i, rec, plainOK, want, ok)
			}
		}
		a := fast.encode(nil, cells, rd)
		b := slow.encode(nil, cells, rd)
		if string(a) != string(b) || fast.hash != slow.hash || fast.rowNo != slow.rowNo {
			t.Errorf("row %d: fast %x (hash %x), general %x (hash %x)", i, a, fast.hash, b, slow.hash)
		}
	}
	if took != 2 {
		t.Errorf("the fast path took %d rows, want 2", took)
	}
}
