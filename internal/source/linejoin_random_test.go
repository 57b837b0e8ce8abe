package source_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// ljRandDialect is a CSV dialect of a random pair.
type ljRandDialect struct {
	delim, quote byte
	null         string
	noHeader     bool
	bom          bool
}

var ljRandValues = [][]string{
	// id
	{"k0", "k1", "k2", "k3", "k4", "", "NULL", "k 1", "k1 ", "k,1", "k\"1", "k\n1", "k'1", "k;1"},
	// amount (decimal, tolerance 0.01)
	{"1", "1.0", "1.00", "+1", "1e3", "1000", "  5", "5", "x", "", "NULL", "1.005", "-0", "0", "10.5", "10.50", "1,5"},
	// at (timestamp, 2 s)
	{"2026-01-02T00:00:00Z", "2026-01-02T00:00:00+02:00", "2026-01-01T22:00:00Z", "2026-01-02T00:00:01Z",
		"2026-01-02 00:00:00", "bad", "", "2026-01-01T22:00:03Z", "NULL"},
	// day (date)
	{"2026-01-02", "2026-02-30", " 2026-01-02", "2026-1-2", "", "NULL"},
	// ok (boolean)
	{"true", "TRUE", "1", "t", "yes", "x", "false", ""},
	// n (integer)
	{"1", "+1", "01", " 1", "1.0", "-", "2", ""},
	// memo (string, sensitive)
	{"a", "b", "a b", "", "NULL", "\"q\"", "x\ny", "x\r\ny", "c,d", "c;d", "'s'", "é"},
	// doc (json)
	{`{"a":1}`, `{"a": 1}`, `{"b":[1,2],"a":1}`, `[1,2]`, `{`, `1`, `1.0`, `"s"`, `null`, ""},
}

// ljRandLong are values longer than a reader's buffer.
var ljRandLong = []string{strings.Repeat("long ", 60000), strings.Repeat("l\"o,n\ng ", 40000)}

var ljRandCols = []string{"id", "amount", "at", "day", "ok", "n", "memo", "doc"}

// ljRandField writes a field, quoted when it must be or at random.
func ljRandField(rng *rand.Rand, d ljRandDialect, v string) string {
	must := strings.ContainsAny(v, string([]byte{d.delim, d.quote, '\n', '\r'}))
	if v == "" && d.null == "" && rng.IntN(3) == 0 {
		must = true // a quoted empty field, not NULL
	}
	if !must && rng.IntN(6) != 0 {
		return v
	}
	q := string(d.quote)
	return q + strings.ReplaceAll(v, q, q+q) + q
}

func ljRandLine(rng *rand.Rand, d ljRandDialect, row []string) string {
	fields := make([]string, 0, len(row)+1)
	for _, v := range row {
		fields = append(fields, ljRandField(rng, d, v))
	}
	switch rng.IntN(40) {
	case 0:
		fields = fields[:rng.IntN(len(fields))+1] // too few
	case 1:
		fields = append(fields, "extra") // too many
	}
	return strings.Join(fields, string(d.delim))
}

func ljRandRow(rng *rand.Rand) []string {
	row := make([]string, len(ljRandValues))
	for i, vs := range ljRandValues {
		row[i] = vs[rng.IntN(len(vs))]
	}
	if rng.IntN(400) == 0 {
		row[6] = ljRandLong[rng.IntN(len(ljRandLong))] // memo
	}
	return row
}

func ljRandFile(rng *rand.Rand, d ljRandDialect, rows [][]string, cols []string) string {
	var sb strings.Builder
	lone := rng.IntN(4) == 0
	if d.bom && rng.IntN(2) == 0 {
		sb.WriteString("\ufeff")
	}
	eol := func() string {
		switch rng.IntN(20) {
		case 0:
			return "\r\n"
		case 1:
			return "\n\n"
		case 2:
			return "\r\n\r\n"
		case 3:
			if lone {
				return "\r" // a lone CR ends no line
			}
		}
		return "\n"
	}
	if !d.noHeader {
		sb.WriteString(strings.Join(cols, string(d.delim)))
		sb.WriteString([]string{"\n", "\r\n", "\n\n"}[rng.IntN(3)])
	}
	for i, r := range rows {
		sb.WriteString(ljRandLine(rng, d, r))
		if i < len(rows)-1 || rng.IntN(2) == 0 {
			sb.WriteString(eol())
		}
	}
	return sb.String()
}

// ljRandPair draws two files of the same dialect and columns: the target's rows are
// mostly the source's, some changed, some dropped, some duplicated, some new.
func ljRandPair(rng *rand.Rand, d ljRandDialect) (string, string, []string) {
	var src, tgt [][]string
	n := rng.IntN(60)
	if rng.IntN(10) == 0 {
		n = 3000 + rng.IntN(3000) // spills under the smallest budget
	}
	for range n {
		r := ljRandRow(rng)
		if n > 1000 && rng.IntN(4) > 0 {
			r[0] = fmt.Sprintf("r%d", rng.IntN(n))
		}
		src = append(src, r)
		switch rng.IntN(10) {
		case 0: // missing in target
		case 1, 2:
			t := append([]string(nil), r...)
			c := rng.IntN(len(t)-1) + 1
			t[c] = ljRandValues[c][rng.IntN(len(ljRandValues[c]))]
			tgt = append(tgt, t)
		case 3:
			tgt = append(tgt, r, r)
		default:
			tgt = append(tgt, r)
		}
	}
	for range rng.IntN(5) {
		tgt = append(tgt, ljRandRow(rng))
	}
	rng.Shuffle(len(tgt), func(i, j int) { tgt[i], tgt[j] = tgt[j], tgt[i] })
	// The columns in a random order, the same on both sides: the key anywhere.
	perm := rng.Perm(len(ljRandCols))
	cols := make([]string, len(perm))
	for i, j := range perm {
		cols[i] = ljRandCols[j]
	}
	order := func(rows [][]string) [][]string {
		out := make([][]string, len(rows))
		for r, row := range rows {
			out[r] = make([]string, len(perm))
			for i, j := range perm {
				out[r][i] = row[j]
			}
		}
		return out
	}
	return ljRandFile(rng, d, order(src), cols), ljRandFile(rng, d, order(tgt), cols), cols
}

// ljRandRun compares two CSV files of dialect so under spec and returns the summary
// (without strategy and split), every discrepancy as JSON (sorted), the stats and the
// run's error.
func ljRandRun(t *testing.T, spec diff.Spec, sp, tp string, so source.Options, opts ...diff.Option) (diff.Summary, []string, diff.Stats, error) {
	t.Helper()
	src, err := source.Open(t.Context(), sp, so)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := source.Open(t.Context(), tp, so)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = src.Close(), tgt.Close() }()
	var c diff.Collect
	var st diff.Stats
	sum, err := diff.Run(t.Context(), spec, src, tgt, &c, append(opts, diff.WithStats(func(s diff.Stats) { st = s }))...)
	diff.SortDiscrepancies(c.Discrepancies)
	out := make([]string, len(c.Discrepancies))
	for i, d := range c.Discrepancies {
		out[i] = string(d.AppendJSON(nil))
	}
	sum.Strategy, sum.Split = "", false
	return sum, out, st, err
}

// TestLineJoinRandomPairs: random small CSV pairs of random dialects, built from
// fields that are hard to read (quoted, over several lines, values that need the full
// parser, NULL and empty keys, ragged rows, duplicates), compared by the line join, by
// hash with keyed fingerprints and by hash with every value kept: the same summary and
// the same discrepancies, positions included.
func TestLineJoinRandomPairs(t *testing.T) {
	n := 300
	if v := os.Getenv("LJ_SEEDS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			t.Fatalf("LJ_SEEDS=%q: %v", v, err)
		}
	}
	if testing.Short() {
		n = 60
	}
	key := diff.NewMaskKey()
	for seed := range uint64(n) {
		rng := rand.New(rand.NewPCG(seed, 11))
		d := ljRandDialect{delim: ",;|\t"[rng.IntN(4)], quote: "\"'"[rng.IntN(2)], noHeader: rng.IntN(5) == 0, bom: rng.IntN(5) == 0}
		if rng.IntN(3) == 0 {
			d.null = "NULL"
		}
		s, tg, cols := ljRandPair(rng, d)
		sp, tp := ljWritePair(t, s, tg)
		so := source.Options{Delimiter: rune(d.delim), Quote: rune(d.quote), NullMarker: d.null, NoHeader: d.noHeader}
		if d.noHeader {
			so.Columns = cols
		}
		all := []diff.Column{
			{Name: "amount", Type: diff.TypeDecimal, AbsTolerance: "0.01"},
			{Name: "at", Type: diff.TypeTimestamp, TimeTolerance: 2 * time.Second},
			{Name: "day", Type: diff.TypeDate},
			{Name: "ok", Type: diff.TypeBoolean},
			{Name: "n", Type: diff.TypeInteger},
			{Name: "memo", Sensitive: rng.IntN(2) == 0},
			{Name: "doc", Type: diff.TypeJSON},
		}
		if rng.IntN(4) == 0 {
			paris, err := time.LoadLocation("Europe/Paris")
			if err != nil {
				t.Fatal(err)
			}
			all[1].Location, all[1].Precision = paris, time.Second
		}
		if rng.IntN(4) == 0 {
			all[5].Trim, all[5].IgnoreCase = rng.IntN(2) == 0, rng.IntN(2) == 0
		}
		var cmp []diff.Column
		for _, c := range all {
			if rng.IntN(4) > 0 {
				cmp = append(cmp, c)
			}
		}
		keyCol := diff.Column{Name: "id", Sensitive: rng.IntN(4) == 0}
		plainKey := true
		if rng.IntN(8) == 0 {
			// A key trimmed or case-folded: lines with equal keys may differ there.
			keyCol.Trim, keyCol.IgnoreCase, plainKey = rng.IntN(2) == 0, true, false
		}
		spec := diff.Spec{Keys: []diff.Column{keyCol}, Compare: cmp, Strategy: diff.StrategyHash, MaskKey: key, TempDir: t.TempDir()}
		if rng.IntN(3) == 0 {
			spec.MemoryBudget = diff.MinMemoryBudget
		}
		what := fmt.Sprintf("seed %d (%+v)", seed, d)
		wantSum, want, _, werr := ljRandRun(t, spec, sp, tp, so, diff.WithoutFingerprints())
		keyedSum, keyed, _, kerr := ljRandRun(t, spec, sp, tp, so, diff.WithoutLineJoin())
		gotSum, got, st, gerr := ljRandRun(t, spec, sp, tp, so)
		if werr != nil && strings.Contains(werr.Error(), "does not fit in the memory budget") {
			// Rows kept as fingerprints fit where their values do not: the line join
			// is then held to hash with keyed fingerprints.
			werr, wantSum, want = kerr, keyedSum, keyed
		}
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || fmt.Sprint(werr) != fmt.Sprint(kerr) {
			t.Fatalf("%s: errors %v, %v (keyed), want %v\nsource:\n%.3000q\ntarget:\n%.3000q", what, gerr, kerr, werr, s, tg)
		}
		if werr != nil {
			continue
		}
		if st.LineJoin && !plainKey {
			t.Fatalf("%s: line join with key %+v", what, keyCol)
		}
		if !st.LineJoin && plainKey {
			t.Fatalf("%s: no line join", what)
		}
		if !t.Run("", func(t *testing.T) {
			ljSame(t, what+" (keyed fingerprints)", keyedSum, wantSum, keyed, want)
			ljSame(t, what, gotSum, wantSum, got, want)
		}) {
			t.Fatalf("source:\n%.3000q\ntarget:\n%.3000q", s, tg)
		}
		if left, _ := os.ReadDir(spec.TempDir); len(left) > 0 {
			t.Fatalf("%s: spill files left: %v", what, left)
		}
	}
}
