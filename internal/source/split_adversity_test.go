package source

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Adversity review of the sorted merge split by key range: a randomized differential
// test of the split against the in-step merge (diff.WithoutRangeSplit) over dialects,
// key types and layouts the other random tests do not vary: typed keys whose spellings
// order differently from their values (integers with leading zeros and spaces,
// timestamps in several zones), trimmed and case-folded keys, a NULL marker, other
// delimiters (the same on both sides or not), a target with its columns in another
// order, a sensitive column, a BOM, CRLF, a last line without a line end, and rows out
// of key order in the second half only.

type advCase struct {
	keyType    diff.Type
	fold       bool // key trimmed and case-folded (string keys)
	delim      [2]byte
	null       string
	reorder    bool // target columns in another order
	sensitive  bool
	bom        bool
	noFinalEOL bool
	crlf       int  // one line in crlf ends in CRLF (0: none)
	quoteMod   int  // one row in quoteMod has a multi-line quoted note
	ooo        int  // 0 none, 1 source, 2 target: one row out of key order late in the file
	noHeader   bool // columns declared instead of a header
	project    bool // both sides read with declared columns in another order (a projection)
}

func (c advCase) String() string {
	return fmt.Sprintf("key %s fold %v delim %q null %q reorder %v sensitive %v bom %v noEOL %v crlf %d quote %d ooo %d noHeader %v project %v",
		c.keyType, c.fold, c.delim[:], c.null, c.reorder, c.sensitive, c.bom, c.noFinalEOL, c.crlf, c.quoteMod, c.ooo, c.noHeader, c.project)
}

func advCaseOf(seed uint64) advCase {
	rng := rand.New(rand.NewPCG(seed, 4242))
	c := advCase{keyType: []diff.Type{diff.TypeString, diff.TypeInteger, diff.TypeTimestamp, diff.TypeDecimal}[rng.IntN(4)]}
	c.fold = c.keyType == diff.TypeString && rng.IntN(2) == 0
	d := []byte{',', ';', '\t'}[rng.IntN(3)]
	c.delim = [2]byte{d, d}
	if rng.IntN(4) == 0 {
		c.delim[1] = []byte{',', ';', '|'}[rng.IntN(3)]
	}
	if rng.IntN(2) == 0 {
		c.null = `\N`
	}
	c.reorder = rng.IntN(4) == 0
	c.sensitive = rng.IntN(3) == 0
	c.bom = rng.IntN(3) == 0
	c.noFinalEOL = rng.IntN(2) == 0
	c.crlf = []int{0, 0, 3, 50}[rng.IntN(4)]
	c.quoteMod = []int{0, 9, 40}[rng.IntN(3)]
	c.ooo = []int{0, 0, 1, 2}[rng.IntN(4)]
	c.noHeader = rng.IntN(4) == 0
	c.project = !c.noHeader && rng.IntN(3) == 0
	return c
}

// advKey spells logical key i of c's key type; any spelling of i has the same value,
// and keys order by i.
func advKey(c advCase, rng *rand.Rand, i int) string {
	switch c.keyType {
	case diff.TypeInteger:
		v := fmt.Sprint(i * 3)
		switch rng.IntN(4) {
		case 0:
			v = "00" + v
		case 1:
			v = " " + v + " "
		}
		return v
	case diff.TypeDecimal:
		v := fmt.Sprintf("%d.%d", i/10, i%10)
		switch rng.IntN(4) {
		case 0:
			v = "0" + v + "00"
		case 1:
			v = " " + v
		}
		return v
	case diff.TypeTimestamp:
		at := time.Date(2024, 3, 30, 22, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Second)
		zone := []int{0, 2, -5, 13}[rng.IntN(4)]
		return at.In(time.FixedZone("", zone*3600)).Format(time.RFC3339)
	}
	k := fmt.Sprintf("k%06d", i)
	if c.fold {
		switch rng.IntN(4) {
		case 0:
			k = strings.ToUpper(k)
		case 1:
			k = " " + k + " "
		}
	}
	return k
}

// advGen writes a source and a target sorted by the key's value, with c's layout.
func advGen(seed uint64, c advCase) (src, tgt string) {
	rng := rand.New(rand.NewPCG(seed, 99))
	nk := 26000 + rng.IntN(6000)
	nullKey := ""
	if c.null != "" {
		nullKey = c.null
	}
	var b [2]strings.Builder
	eol := func() string {
		if c.crlf > 0 && rng.IntN(c.crlf) == 0 {
			return "\r\n"
		}
		return "\n"
	}
	// join writes fields with side's delimiter; the target's columns maybe reordered.
	join := func(side int, f [3]string) string {
		d := string(c.delim[side])
		if side == 1 && c.reorder {
			return f[2] + d + f[0] + d + f[1]
		}
		return f[0] + d + f[1] + d + f[2]
	}
	for s := range 2 {
		if c.bom {
			b[s].WriteString("\xEF\xBB\xBF")
		}
		if !c.noHeader {
			b[s].WriteString(join(s, [3]string{"id", "amount", "note"}) + "\n")
		}
	}
	note := func(i, side int) string {
		if c.quoteMod > 0 && rng.IntN(c.quoteMod) == 0 {
			// Lines that look like records of nearby keys, in this side's dialect.
			j := min(i+1+rng.IntN(3), nk-1)
			k := advKey(c, rng, j)
			return "\"x\n" + join(side, [3]string{k, "1.00", "y"}) + "\n" + join(side, [3]string{k, "2.00", `""z""`}) + "\n\""
		}
		switch rng.IntN(12) {
		case 0:
			return c.null // NULL (unquoted empty with the default marker)
		case 1:
			return `""`
		}
		return strings.Repeat("n", rng.IntN(60))
	}
	oooSide, oooAt := c.ooo-1, -1
	if c.ooo > 0 {
		oooAt = nk*6/10 + rng.IntN(nk*3/10)
	}
	for i := range nk {
		ns, nt := 1, 1
		switch rng.IntN(20) {
		case 0:
			ns = 0
		case 1:
			nt = 0
		case 2:
			ns = 2
		case 3:
			nt = 2 + rng.IntN(2)
		}
		var srcRows [][3]string
		for s, n := range []int{ns, nt} {
			if s == oooSide && i == oooAt {
				b[s].WriteString(join(s, [3]string{advKey(c, rng, 5), "1.00", "late"}) + eol())
			}
			for r := range n {
				switch rng.IntN(200) {
				case 0:
					b[s].WriteString(join(s, [3]string{nullKey, "1.00", "nullkey"}) + eol())
				case 1:
					b[s].WriteString(join(s, [3]string{`""`, "1.00", "emptykey"}) + eol())
				case 2:
					b[s].WriteString(advKey(c, rng, i) + string(c.delim[s]) + "ragged" + eol())
				case 3:
					b[s].WriteString(eol())
				}
				f := [3]string{advKey(c, rng, i), fmt.Sprintf("%d.%02d", rng.IntN(4), rng.IntN(3)), note(i, s)}
				if rng.IntN(80) == 0 {
					f[1] = "abc"
				}
				if s == 0 {
					srcRows = append(srcRows, f)
				} else if r < len(srcRows) && rng.IntN(6) != 0 {
					f = srcRows[r] // the source's record, byte for byte when the dialects agree
					if strings.Contains(f[2], "\n") {
						f[2] = note(i, s)
					}
				}
				b[s].WriteString(join(s, f) + eol())
			}
		}
	}
	src, tgt = b[0].String(), b[1].String()
	if c.noFinalEOL {
		src = strings.TrimRight(src, "\r\n")
		tgt = strings.TrimRight(tgt, "\r\n")
	}
	return src, tgt
}

func advRun(t *testing.T, c advCase, sp, tp string, opts ...diff.Option) splitResult {
	t.Helper()
	ctx := context.Background()
	var rd [2]diff.Reader
	for i, p := range []string{sp, tp} {
		o := Options{OrderedBy: []string{"id"}, Delimiter: rune(c.delim[i]), NullMarker: c.null}
		switch {
		case c.noHeader && i == 1 && c.reorder:
			o.NoHeader, o.Columns = true, []string{"note", "id", "amount"}
		case c.noHeader:
			o.NoHeader, o.Columns = true, []string{"id", "amount", "note"}
		case c.project:
			o.Columns = []string{"note", "amount", "id"}
		}
		r, err := Open(ctx, p, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		rd[i] = r
	}
	spec := diff.Spec{
		Keys:     []diff.Column{{Name: "id", Type: c.keyType, Trim: c.fold, IgnoreCase: c.fold}},
		Compare:  []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "note", Sensitive: c.sensitive}},
		Strategy: diff.StrategyMerge,
		MaskKey:  []byte("0123456789abcdef0123456789abcdef"),
	}
	var res splitResult
	var col diff.Collect
	opts = append(opts, diff.WithProgress(func(p diff.Progress) { res.prog = p }))
	sum, err := diff.Run(ctx, spec, rd[0], rd[1], &col, opts...)
	res.sum, res.ds = sum, col.Discrepancies
	if err != nil {
		res.err = err.Error()
	}
	return res
}

func TestSplitAdversityRandom(t *testing.T) {
	seeds := uint64(24)
	if testing.Short() {
		seeds = 6
	}
	splits := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		c := advCaseOf(seed)
		s, g := advGen(seed, c)
		dir := t.TempDir()
		sp, tp := filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
		if err := os.WriteFile(sp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tp, []byte(g), 0o600); err != nil {
			t.Fatal(err)
		}
		got := advRun(t, c, sp, tp)
		want := advRun(t, c, sp, tp, diff.WithoutRangeSplit())
		if got.sum.Split {
			splits++
		}
		if want.sum.Split {
			t.Fatalf("seed %d: WithoutRangeSplit split", seed)
		}
		if c.ooo > 0 && !strings.Contains(want.err, "not in key order") {
			t.Errorf("seed %d (%s): out-of-order row not reported: %q", seed, c, want.err)
		}
		split := got.sum.Split
		got.sum.Split = false
		if !reflect.DeepEqual(got.sum, want.sum) || got.err != want.err || got.prog != want.prog {
			t.Errorf("seed %d (%s): summary\n got %+v %q %+v\nwant %+v %q %+v", seed, c, got.sum, got.err, got.prog, want.sum, want.err, want.prog)
			continue
		}
		if len(got.ds) != len(want.ds) {
			t.Errorf("seed %d (%s): %d vs %d discrepancies", seed, c, len(got.ds), len(want.ds))
			continue
		}
		for i := range got.ds {
			if !reflect.DeepEqual(got.ds[i], want.ds[i]) {
				t.Errorf("seed %d (%s) discrepancy %d:\n got %+v\nwant %+v", seed, c, i, got.ds[i], want.ds[i])
				break
			}
		}
		t.Logf("seed %d (%s): split %v, %d bytes, sum %+v err %q", seed, c, split, len(s), want.sum, want.err)
	}
	t.Logf("splits: %d of %d", splits, seeds)
}

// TestSplitFallbackProgressNeverGoesDown: WithProgress promises counts that never go
// down. When the split merge falls back to the in-step merge (here: the split key lands
// inside a multi-line quoted field, so the first half fails at its end), the progress
// shown while the halves ran (both halves' rows) must not drop back to the in-step
// merge's count restarting from zero.
func TestSplitFallbackProgressNeverGoesDown(t *testing.T) {
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		if side == 0 && i > splitRows/4+7 && i < 3*splitRows/4 && row != "" {
			return fmt.Sprintf("K%07d,%d.%02d,\"x\n%s\nK%07da,1.00,y\nK%07db,1.00,y\n\"\n", i, i%1000, i%100, strings.Repeat("p", 300), i, i)
		}
		return row
	})
	ctx := context.Background()
	rd := openPair(ctx, t, src, tgt)
	spec := diff.Spec{
		Keys:     []diff.Column{{Name: "id"}},
		Compare:  []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "note"}},
		Strategy: diff.StrategyMerge,
	}
	var seen []diff.Progress
	sum, err := diff.Run(ctx, spec, rd[0], rd[1], &diff.Collect{},
		diff.WithProgressInterval(200*time.Microsecond),
		diff.WithProgress(func(p diff.Progress) { seen = append(seen, p) }))
	if err != nil || sum.Split {
		t.Fatalf("err %v, split %v: want the in-step merge, no error", err, sum.Split)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].SourceRows < seen[i-1].SourceRows || seen[i].TargetRows < seen[i-1].TargetRows {
			t.Fatalf("progress went down: call %d %+v, then %+v", i, seen[i-1], seen[i])
		}
	}
	if last := seen[len(seen)-1]; last.SourceRows != sum.SourceRows || last.TargetRows != sum.TargetRows {
		t.Fatalf("final progress %+v, summary rows %d %d", last, sum.SourceRows, sum.TargetRows)
	}
}

// failingSink fails at its n-th discrepancy (a results store that fails mid-run).
type failingSink struct{ n int }

func (s *failingSink) Emit(diff.Discrepancy) error {
	if s.n--; s.n == 0 {
		return errors.New("store: disk full")
	}
	return nil
}

// TestSplitSinkErrorSummary: a sink that fails mid-run stops the run; the summary the
// run returns with the error (rows read, matched, compared up to the failing outcome;
// --stats and the final progress show it) must be the in-step merge's, not the whole
// files' that the halves read. Discrepancies are around the split, so the sink fails in
// either half and right where the first half's sections end.
func TestSplitSinkErrorSummary(t *testing.T) {
	src, tgt := splitFiles(t, func(side, i int, _ string) string {
		row := fmt.Sprintf("K%07d,%d.%02d,n%d\n", i, i%1000, i%100, i%7)
		if d := i - splitRows/2; d > -40 && d < 40 {
			switch {
			case side == 0 && i%3 == 0, side == 1 && i%3 == 1:
				return ""
			case side == 1:
				return fmt.Sprintf("K%07d,%d.%02d,n%d\n", i, i%1000+1, i%100, i%7)
			}
		}
		return row
	})
	ctx := context.Background()
	run := func(fail int, opts ...diff.Option) (diff.Summary, string) {
		rd := openPair(ctx, t, src, tgt)
		spec := diff.Spec{
			Keys:     []diff.Column{{Name: "id"}},
			Compare:  []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "note"}},
			Strategy: diff.StrategyMerge,
		}
		var last diff.Progress
		opts = append(opts, diff.WithProgress(func(p diff.Progress) { last = p }))
		sum, err := diff.Run(ctx, spec, rd[0], rd[1], &failingSink{n: fail}, opts...)
		if last.SourceRows != sum.SourceRows || last.TargetRows != sum.TargetRows {
			t.Fatalf("fail at %d: final progress %+v, summary %+v", fail, last, sum)
		}
		if err == nil {
			return sum, ""
		}
		return sum, err.Error()
	}
	all, _ := run(-1, diff.WithoutRangeSplit())
	if all.Discrepancies() < 40 {
		t.Fatalf("%+v", all)
	}
	for fail := 1; fail <= int(all.Discrepancies()); fail++ {
		got, gotErr := run(fail)
		want, wantErr := run(fail, diff.WithoutRangeSplit())
		if !got.Split {
			t.Fatalf("fail at %d: not split", fail)
		}
		got.Split = false
		if got != want || gotErr != wantErr {
			t.Fatalf("fail at %d:\n got %+v %q\nwant %+v %q", fail, got, gotErr, want, wantErr)
		}
	}
}

// TestSplitOutOfOrderSecondHalfNamesAbsoluteLine: a row out of key order only in the
// second half of the target is the in-step merge's error, naming the row by its line in
// the whole file (not in the second section).
func TestSplitOutOfOrderSecondHalfNamesAbsoluteLine(t *testing.T) {
	const at = 4 * splitRows / 5
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		if side == 1 && i == at {
			return "K0000005,1.00,late\n"
		}
		return row
	})
	res := checkSplit(t, src, tgt, limits{}, false)
	dropped := (at-1)/907 + 1 // target rows i%907 == 0 before the late row
	want := fmt.Sprintf(`diff: merge: target is not in key order: the row at target.csv line %d has key ("K0000005") after key ("K%07d")`, 1+at-dropped+1, at-1)
	if res.err != want {
		t.Fatalf("error\n got %q\nwant %q", res.err, want)
	}
}

// TestSplitNullKeyRowsAtSplit: rows without a usable key (NULL, empty, ragged) before
// and after every row around the middle of both files, so whichever key the split
// takes, such rows sit right before it on both sides: they are the first halves' (the
// split is exact), with their lines in the whole file.
func TestSplitNullKeyRowsAtSplit(t *testing.T) {
	src, tgt := splitFiles(t, func(side, i int, row string) string {
		if d := i - splitRows/2; d > -100 && d < 100 && row != "" {
			bad := []string{",1.00,nullkey\n", "\"\",1.00,emptykey\n", "ragged\n"}[(i+side)%3]
			return bad + row + bad
		}
		return row
	})
	res := checkSplit(t, src, tgt, limits{}, true)
	if res.sum.InvalidRows < 700 {
		t.Fatalf("%+v", res.sum)
	}
}
