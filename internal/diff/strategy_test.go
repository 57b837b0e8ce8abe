package diff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	scSrcCols = []string{"id1", "id2", "amount", "ts", "name", "secret", "flag", "doc"}
	scTgtCols = []string{"k1", "k2", "amt", "ts", "name", "secret", "flag", "doc", "extra"}
)

func scenarioSpec() Spec {
	return Spec{
		MaskKey: testMaskKey,
		Keys:    []Column{{Name: "id1", Target: "k1"}, {Name: "id2", Target: "k2"}},
		Compare: []Column{
			{Name: "amount", Target: "amt", Type: TypeDecimal, AbsTolerance: "0.01"},
			{Name: "ts", Type: TypeTimestamp},
			{Name: "name", Trim: true, IgnoreCase: true},
			{Name: "secret", Sensitive: true},
			{Name: "flag", Type: TypeBoolean},
			{Name: "doc", Type: TypeJSON},
		},
	}
}

// scRow builds a row with default values, then overrides (column, value) pairs.
func scRow(cols []string, id1, id2 any, kv ...any) []Cell {
	vals := map[string]any{
		"amount": "10.00", "amt": "10.00", "ts": "2024-01-01T00:00:00Z", "name": "Alice",
		"secret": "s3cr3t", "flag": "true", "doc": `{"a":1}`, "extra": "ignored",
	}
	for i := 0; i < len(kv); i += 2 {
		vals[kv[i].(string)] = kv[i+1]
	}
	out := make([]any, len(cols))
	out[0], out[1] = id1, id2
	for i := 2; i < len(cols); i++ {
		out[i] = vals[cols[i]]
	}
	return row(out...)
}

func scenarioRows() (src, tgt [][]Cell) {
	s := func(id1, id2 any, kv ...any) { src = append(src, scRow(scSrcCols, id1, id2, kv...)) }
	t := func(id1, id2 any, kv ...any) { tgt = append(tgt, scRow(scTgtCols, id1, id2, kv...)) }
	s("a|b", "c")
	t("a|b", "c")
	s("a", "b|c")
	s("ü", "ß", "amount", "10.5")
	t("ü", "ß", "amt", "10.50")
	s("x", "1")
	t("x", "1", "amt", "10.02", "name", "Bob")
	s("x", "2")
	t("x", "2", "amt", "10.01")
	s("dup", "s")
	s("dup", "s", "amount", "99")
	t("dup", "s")
	s("dup", "t")
	t("dup", "t")
	t("dup", "t")
	t("dup", "t")
	s("dup", "both")
	s("dup", "both")
	t("dup", "both")
	t("dup", "both")
	t("e", "")
	s(nil, "n")
	s("bad", "v", "amount", "abc")
	t("bad", "v")
	s("bad", "both", "amount", "1,5")
	t("bad", "both", "flag", "maybe")
	s("tz", "1", "ts", "2024-01-01T10:00:00+02:00")
	t("tz", "1", "ts", "2024-01-01 08:00:00")
	t("only", "t")
	s("secret", "1", "secret", "alpha")
	t("secret", "1", "secret", "beta")
	s("nullv", "1", "name", nil)
	t("nullv", "1", "name", "")
	s("json", "1", "doc", `{"a":1,"b":[1,2]}`)
	t("json", "1", "doc", `{"b":[1,2.0],"a":1.0}`)
	s("dupinv", "1")
	s("dupinv", "1", "amount", "zz")
	t("dupinv", "1")
	s("case", "1", "name", " Hello ")
	t("case", "1", "name", "hello")
	s("a\x00b", "c")
	t("a", "\x00bc")
	s("bool", "1", "flag", "yes")
	t("bool", "1", "flag", "T")
	s("bool", "2", "flag", "no")
	t("bool", "2", "flag", "1")
	t("tdup", "x")
	t("tdup", "x")
	s("日本", "🙂", "amount", "1")
	t("日本", "🙂", "amt", "2")
	s("", "x")
	s("mix", "1", "amount", "?")
	t("mix", "1")
	t("mix", "1")
	s("invonly", "1", "ts", "yesterday")
	s("nulls", "1", "amount", nil, "doc", nil)
	t("nulls", "1", "amt", nil, "doc", nil)
	return src, tgt
}

func key2(a, b any) []KeyValue {
	c := row(a, b)
	return []KeyValue{{Name: "id1", Value: c[0]}, {Name: "id2", Value: c[1]}}
}

// posOf returns the position of the row with that key (line 1 is the header).
func posOf(name string, rows [][]Cell, id1, id2 any) string {
	want := row(id1, id2)
	for i, r := range rows {
		if r[0] == want[0] && r[1] == want[1] {
			return fmt.Sprintf("%s line %d", name, i+2)
		}
	}
	panic(fmt.Sprintf("no row %v %v", id1, id2))
}

func scenarioWant(src, tgt [][]Cell) []Discrepancy {
	mis := func(a, b any, cols ...ColumnDiff) Discrepancy {
		return Discrepancy{Kind: KindMismatch, Key: key2(a, b), Columns: cols}
	}
	cd := func(name string, s, t any) ColumnDiff {
		c := row(s, t)
		return ColumnDiff{Name: name, Source: c[0], Target: c[1]}
	}
	inv := func(side Side, a, b any, reason string) Discrepancy {
		name, rows := "src", src
		if side == SideTarget {
			name, rows = "tgt", tgt
		}
		return Discrepancy{Kind: KindInvalidRow, Key: key2(a, b), Side: side, Reason: reason, Position: posOf(name, rows, a, b)}
	}
	dup := func(side Side, a, b any, n int64) Discrepancy {
		return Discrepancy{Kind: KindDuplicateKey, Key: key2(a, b), Side: side, Count: n}
	}
	return []Discrepancy{
		{Kind: KindMissingInTarget, Key: key2("a", "b|c")},
		mis("x", "1", cd("amount", "10.00", "10.02"), cd("name", "Alice", "Bob")),
		dup(SideSource, "dup", "s", 2),
		dup(SideTarget, "dup", "t", 3),
		dup(SideSource, "dup", "both", 2),
		dup(SideTarget, "dup", "both", 2),
		inv(SideTarget, "e", "", "key column k2 is empty"),
		inv(SideSource, nil, "n", "key column id1 is NULL"),
		inv(SideSource, "bad", "v", `column amount: "abc" is not a valid decimal`),
		inv(SideSource, "bad", "both", `column amount: "1,5" is not a valid decimal`),
		inv(SideTarget, "bad", "both", `column flag: "maybe" is not a valid boolean (want true/false, t/f, 1/0, yes/no)`),
		{Kind: KindMissingInSource, Key: key2("only", "t")},
		mis("secret", "1", cd("secret", maskText(testMaskKey, "alpha"), maskText(testMaskKey, "beta"))),
		mis("nullv", "1", cd("name", nil, "")),
		dup(SideSource, "dupinv", "1", 2),
		{Kind: KindMissingInTarget, Key: key2("a\x00b", "c")},
		{Kind: KindMissingInSource, Key: key2("a", "\x00bc")},
		mis("bool", "2", cd("flag", "no", "1")),
		dup(SideTarget, "tdup", "x", 2),
		mis("日本", "🙂", cd("amount", "1", "2")),
		inv(SideSource, "", "x", "key column id1 is empty"),
		dup(SideTarget, "mix", "1", 2),
		inv(SideSource, "invonly", "1", `column ts: "yesterday" is not a valid timestamp`),
	}
}

func scenarioSummary() Summary {
	// matched: a|b, ü/ß, x/2, tz, json, case, bool/1, nulls
	return Summary{Compared: 8 + 23, Matched: 8, MissingInTarget: 2, MissingInSource: 2, Mismatched: 5, DuplicateKeys: 7, InvalidRows: 7}
}

type strategyCase struct {
	name   string
	spec   func(Spec) Spec
	opts   []Option
	order  bool // feed OrderedReaders with sorted rows
	stats  func(t *testing.T, s hashStats)
	shuffl bool
}

func strategyCases() []strategyCase {
	hashSpec := func(s Spec) Spec { s.Strategy = StrategyHash; return s }
	spilled := func(repart bool) func(t *testing.T, s hashStats) {
		return func(t *testing.T, s hashStats) {
			t.Helper()
			if s.spills == 0 || repart != (s.repartition > 0) {
				t.Errorf("expected spills (and repartitions: %v), got %+v", repart, s)
			}
			if s.peak > s.budget {
				t.Errorf("peak %d over budget %d", s.peak, s.budget)
			}
		}
	}
	return []strategyCase{
		{name: "merge", spec: func(s Spec) Spec { s.Strategy = StrategyMerge; return s }, order: true},
		{name: "auto-merge", spec: func(s Spec) Spec { return s }, order: true},
		{name: "merge-check-every-row", spec: func(s Spec) Spec { s.Strategy = StrategyMerge; return s }, order: true,
			opts: []Option{func(o *options) { o.checkEvery = 1 }}},
		{name: "hash", spec: hashSpec},
		{name: "auto-hash", spec: func(s Spec) Spec { return s }, shuffl: true},
		{name: "hash-shuffled", spec: hashSpec, shuffl: true},
		{name: "hash-spill", spec: func(s Spec) Spec { s.Strategy = StrategyHash; s.MemoryBudget = 64 << 10; return s }, shuffl: true,
			opts: []Option{func(o *options) { o.chunkSize, o.fanout, o.poolLimit = 128, 2, 2<<10 }}, stats: spilled(true)},
		{name: "hash-spill-fanout4", spec: func(s Spec) Spec { s.Strategy = StrategyHash; s.MemoryBudget = 64 << 10; return s },
			opts: []Option{func(o *options) { o.chunkSize, o.fanout, o.poolLimit = 512, 4, 4<<10 }}, stats: spilled(false)},
	}
}

func TestStrategiesScenario(t *testing.T) {
	for _, tc := range strategyCases() {
		t.Run(tc.name, func(t *testing.T) {
			src, tgt := scenarioRows()
			if tc.order {
				sortRows(src, 0, 1)
				sortRows(tgt, 0, 1)
			}
			if tc.shuffl {
				rng := rand.New(rand.NewPCG(1, 2))
				rng.Shuffle(len(src), func(i, j int) { src[i], src[j] = src[j], src[i] })
				rng.Shuffle(len(tgt), func(i, j int) { tgt[i], tgt[j] = tgt[j], tgt[i] })
			}
			var sr, tr Reader = newSliceReader("src", scSrcCols, src), newSliceReader("tgt", scTgtCols, tgt)
			if tc.order {
				sr = &orderedReader{sr.(*sliceReader), []string{"id1", "id2", "amount"}}
				tr = &orderedReader{tr.(*sliceReader), []string{"k1", "k2"}}
			}
			var stats hashStats
			opts := append(slices.Clone(tc.opts), func(o *options) { o.onHashStats = func(s hashStats) { stats = s } })
			sum, got, err := runCollect(t, tc.spec(scenarioSpec()), sr, tr, opts...)
			if err != nil {
				t.Fatal(err)
			}
			assertSame(t, tc.name, scenarioWant(src, tgt), got)
			want := scenarioSummary()
			want.SourceRows, want.TargetRows = int64(len(src)), int64(len(tgt))
			want.Strategy = sum.Strategy
			if sum != want {
				t.Errorf("summary\n got %+v\nwant %+v", sum, want)
			}
			if tc.order != (sum.Strategy == StrategyMerge) {
				t.Errorf("strategy %s", sum.Strategy)
			}
			if tc.stats != nil {
				tc.stats(t, stats)
			}
		})
	}
}

// genRows generates n keys with injected discrepancies of every kind; both sides are
// returned in key order. Keys are composite (string, integer-typed).
func genRows(n int) (src, tgt [][]Cell) {
	for i := 0; i < n; i++ {
		k1 := fmt.Sprintf("g%03d|", i%1000)
		k2 := fmt.Sprintf("%d", i)
		amount := fmt.Sprintf("%d.%02d", i, i%100)
		name := fmt.Sprintf("name-%d", i)
		ts := time.Unix(int64(i)*3600, 0).UTC().Format(time.RFC3339)
		sRow := row(k1, k2, amount, name, ts)
		tRow := row(k1, k2, amount+"0", name, ts)
		switch {
		case i%97 == 1:
			src = append(src, sRow)
			continue // missing in target
		case i%89 == 2:
			tgt = append(tgt, tRow)
			continue // missing in source
		case i%83 == 3:
			tRow[2].Text = amount + "1" // mismatch
		case i%79 == 4:
			src = append(src, sRow) // duplicate in source
		case i%73 == 5:
			tgt = append(tgt, tRow) // duplicate in target
		case i%71 == 6:
			sRow[2].Text = "n/a" // invalid value
		case i%67 == 7:
			tRow[0] = Cell{Null: true} // invalid key on target; source is then missing in target
		case i%61 == 8:
			tRow[3].Text = "  NAME-" + k2 + " " // equal under trim + ignoreCase
		case i%59 == 9:
			tRow[4].Text = time.Unix(int64(i)*3600, 0).In(time.FixedZone("x", 3600)).Format("2006-01-02 15:04:05-07:00")
		}
		src = append(src, sRow)
		tgt = append(tgt, tRow)
	}
	return src, tgt
}

func genSpec() Spec {
	return Spec{
		Keys: []Column{{Name: "k1"}, {Name: "k2", Type: TypeInteger}},
		Compare: []Column{
			{Name: "amount", Type: TypeDecimal},
			{Name: "name", Trim: true, IgnoreCase: true},
			{Name: "ts", Type: TypeTimestamp},
		},
	}
}

var genCols = []string{"k1", "k2", "amount", "name", "ts"}

func TestStrategiesGenerated(t *testing.T) {
	n := 30000
	if testing.Short() {
		n = 5000
	}
	src, tgt := genRows(n)
	// Merge needs key order: k1 bytes, then k2 as an integer.
	order := func(rows [][]Cell) {
		slices.SortStableFunc(rows, func(a, b []Cell) int {
			if c := compareCell(a[0], b[0]); c != 0 {
				return c
			}
			return cmpDecimal([]byte(a[1].Text), []byte(b[1].Text))
		})
	}
	order(src)
	order(tgt)
	ordered := func(rows [][]Cell, name string) Reader {
		return &orderedReader{newSliceReader(name, genCols, rows), []string{"k1", "k2"}}
	}
	spec := genSpec()
	sumM, merged, err := runCollect(t, spec, ordered(src, "src"), ordered(tgt, "tgt"))
	if err != nil {
		t.Fatal(err)
	}
	if sumM.Strategy != StrategyMerge {
		t.Fatalf("auto chose %s", sumM.Strategy)
	}
	if sumM.MissingInTarget == 0 || sumM.MissingInSource == 0 || sumM.Mismatched == 0 || sumM.DuplicateKeys == 0 || sumM.InvalidRows == 0 || sumM.Matched == 0 {
		t.Fatalf("generator lacks a kind: %+v", sumM)
	}
	if got := sumM.Compared - sumM.Matched; got != int64(len(merged)) {
		t.Fatalf("summary counts %d discrepancies, sink got %d", got, len(merged))
	}

	shuffled := func(rows [][]Cell) [][]Cell {
		out := slices.Clone(rows)
		rand.New(rand.NewPCG(3, 4)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	for _, hc := range []struct {
		name   string
		budget int64
		opts   []Option
		spill  bool
		repart bool
	}{
		{name: "in-memory"},
		{name: "min-budget", budget: MinMemoryBudget, spill: true, repart: true},
		{name: "1MiB", budget: 1 << 20, spill: true},
		{name: "tuned", budget: 256 << 10, spill: true, repart: true, opts: []Option{func(o *options) { o.chunkSize, o.fanout = 4096, 2 }}},
	} {
		t.Run(hc.name, func(t *testing.T) {
			spec := genSpec()
			spec.Strategy = StrategyHash
			spec.MemoryBudget = hc.budget
			spec.TempDir = t.TempDir()
			var stats hashStats
			opts := append(slices.Clone(hc.opts), func(o *options) { o.onHashStats = func(s hashStats) { stats = s } })
			// Sorted input: positions and first rows of duplicates are the same as merge's.
			sum, got, err := runCollect(t, spec, newSliceReader("src", genCols, src), newSliceReader("tgt", genCols, tgt), opts...)
			if err != nil {
				t.Fatal(err)
			}
			sum.Strategy = sumM.Strategy
			if sum != sumM {
				t.Errorf("summary %+v, merge %+v", sum, sumM)
			}
			assertSame(t, hc.name, merged, got)
			if hc.spill != (stats.spills > 0) || hc.repart != (stats.repartition > 0) {
				t.Errorf("expected spills and repartitions: %+v", stats)
			}
			if stats.peak > stats.budget {
				t.Errorf("peak %d over budget %d", stats.peak, stats.budget)
			}
			// Shuffled input: the same counts.
			sum2, got2, err := runCollect(t, spec, newSliceReader("src", genCols, shuffled(src)), newSliceReader("tgt", genCols, shuffled(tgt)), opts...)
			if err != nil {
				t.Fatal(err)
			}
			sum2.Strategy = sumM.Strategy
			if sum2 != sumM || len(got2) != len(merged) {
				t.Errorf("shuffled: summary %+v, merge %+v", sum2, sumM)
			}
			t.Logf("stats %+v", stats)
		})
	}
}

func TestMergeOutOfOrder(t *testing.T) {
	cols := []string{"id", "v"}
	for _, tc := range []struct {
		name      string
		src, tgt  [][]Cell
		side, pos string
		keys      string
	}{
		{"source", [][]Cell{row("a", "1"), row("c", "1"), row("b", "1")}, [][]Cell{row("a", "1")}, "source", "src line 4", `("b") after key ("c")`},
		{"target", [][]Cell{row("a", "1")}, [][]Cell{row("a", "1"), row("a", "1"), row(nil, "x"), row("B", "1")}, "target", "tgt line 5", `("B") after key ("a")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sr := &orderedReader{newSliceReader("src", cols, tc.src), []string{"id"}}
			tr := &orderedReader{newSliceReader("tgt", cols, tc.tgt), []string{"id"}}
			spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v"}}, Strategy: StrategyMerge}
			_, _, err := runCollect(t, spec, sr, tr)
			if err == nil {
				t.Fatal("no error for out-of-order input")
			}
			for _, want := range []string{tc.side + " is not in key order", tc.pos, tc.keys} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	// Typed keys are ordered by value, not text: 9 < 10.
	sr := &orderedReader{newSliceReader("src", cols, [][]Cell{row("9", "x"), row("10", "x")}), []string{"id"}}
	tr := &orderedReader{newSliceReader("tgt", cols, [][]Cell{row("09", "x"), row("10.0", "y")}), []string{"id"}}
	spec := Spec{Keys: []Column{{Name: "id", Type: TypeDecimal}}, Compare: []Column{{Name: "v"}}}
	sum, got, err := runCollect(t, spec, sr, tr)
	if err != nil {
		t.Fatal(err)
	}
	want := []Discrepancy{{Kind: KindMismatch, Key: []KeyValue{{Name: "id", Value: Cell{Text: "10"}}}, Columns: []ColumnDiff{{Name: "v", Source: Cell{Text: "x"}, Target: Cell{Text: "y"}}}}}
	assertSame(t, "typed keys", want, got)
	if sum.Matched != 1 || sum.Strategy != StrategyMerge {
		t.Errorf("summary %+v", sum)
	}
}

func TestMaxDiscrepancies(t *testing.T) {
	cols := []string{"id", "v"}
	var src, tgt [][]Cell
	for i := 0; i < 100; i++ {
		src = append(src, row(fmt.Sprintf("%03d", i), "a"))
		tgt = append(tgt, row(fmt.Sprintf("%03d", i), "b"))
	}
	for _, strategy := range []Strategy{StrategyMerge, StrategyHash} {
		for _, max := range []int64{1, 7, 99, 100, 101} {
			t.Run(fmt.Sprintf("%s-%d", strategy, max), func(t *testing.T) {
				spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v"}}, Strategy: strategy, MaxDiscrepancies: max}
				sum, got, err := runCollect(t, spec, newSliceReader("s", cols, src), newSliceReader("t", cols, tgt))
				if err != nil {
					t.Fatal(err)
				}
				wantN, trunc := min(max, 100), max < 100
				if int64(len(got)) != wantN || sum.Mismatched != wantN || sum.Compared != wantN || sum.Truncated != trunc {
					t.Errorf("got %d discrepancies, summary %+v; want %d truncated=%v", len(got), sum, wantN, trunc)
				}
			})
		}
	}
}

func TestCancel(t *testing.T) {
	cols := []string{"id", "v"}
	for _, strategy := range []Strategy{StrategyMerge, StrategyHash} {
		t.Run(string(strategy), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			mk := func(name string) *sliceReader {
				rows := make([][]Cell, 200000)
				for i := range rows {
					rows[i] = row(fmt.Sprintf("%08d", i), "v")
				}
				r := newSliceReader(name, cols, rows)
				r.onNext = func(i int) {
					if i == 5000 {
						cancel()
					}
				}
				return r
			}
			src, tgt := mk("s"), mk("t")
			spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v"}}, Strategy: strategy}
			_, err := Run(ctx, spec, src, tgt, &Collect{})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if src.i == len(src.rows) && tgt.i == len(tgt.rows) {
				t.Errorf("read everything despite cancel")
			}
		})
	}
}

func TestSinkErrorAndReaderError(t *testing.T) {
	cols := []string{"id", "v"}
	spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v"}}}
	boom := errors.New("boom")
	for _, strategy := range []Strategy{StrategyMerge, StrategyHash} {
		spec.Strategy = strategy
		_, err := Run(t.Context(), spec, newSliceReader("s", cols, [][]Cell{row("1", "a")}), newSliceReader("t", cols, nil),
			SinkFunc(func(Discrepancy) error { return boom }))
		if !errors.Is(err, boom) {
			t.Errorf("%s: sink error %v", strategy, err)
		}
		_, err = Run(t.Context(), spec, &failingReader{sliceReader: newSliceReader("s", cols, [][]Cell{row("1", "a"), row("2", "a")}), failAt: 1, err: boom},
			newSliceReader("t", cols, nil), &Collect{})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "read source at s line 3") {
			t.Errorf("%s: reader error %v", strategy, err)
		}
	}
}

type failingReader struct {
	*sliceReader
	failAt int
	err    error
}

func (r *failingReader) Next() ([]Cell, error) {
	if r.i == r.failAt {
		r.i++
		return nil, r.err
	}
	return r.sliceReader.Next()
}

func TestRaggedRowAndSensitiveKey(t *testing.T) {
	cols := []string{"id", "v"}
	src := [][]Cell{row("k1", "a"), row("k2"), row("k3", "bad")}
	tgt := [][]Cell{row("k1", "b"), row("k3", "1")}
	spec := Spec{MaskKey: testMaskKey, Keys: []Column{{Name: "id", Sensitive: true}}, Compare: []Column{{Name: "v", Type: TypeInteger, Sensitive: true}}}
	for _, strategy := range []Strategy{StrategyMerge, StrategyHash} {
		spec.Strategy = strategy
		_, got, err := runCollect(t, spec, newSliceReader("s", cols, src), newSliceReader("t", cols, tgt))
		if err != nil {
			t.Fatal(err)
		}
		m := func(s string) Cell { return Cell{Text: maskText(testMaskKey, s)} }
		want := []Discrepancy{
			{Kind: KindInvalidRow, Key: []KeyValue{{Name: "id", Value: m("k1")}}, Side: SideSource, Reason: "column v: " + maskText(testMaskKey, "a") + " is not a valid integer", Position: "s line 2"},
			{Kind: KindInvalidRow, Key: []KeyValue{{Name: "id", Value: m("k1")}}, Side: SideTarget, Reason: "column v: " + maskText(testMaskKey, "b") + " is not a valid integer", Position: "t line 2"},
			{Kind: KindInvalidRow, Key: []KeyValue{{Name: "id", Value: m("k2")}}, Side: SideSource, Reason: "row has 1 values, expected 2", Position: "s line 3"},
			{Kind: KindInvalidRow, Key: []KeyValue{{Name: "id", Value: m("k3")}}, Side: SideSource, Reason: "column v: " + maskText(testMaskKey, "bad") + " is not a valid integer", Position: "s line 4"},
		}
		assertSame(t, string(strategy), want, got)
		for _, d := range got {
			if strings.Contains(string(d.AppendJSON(nil)), "k1") {
				t.Errorf("sensitive key in clear: %s", d.AppendJSON(nil))
			}
		}
	}
}

func TestProgressAndRateLimit(t *testing.T) {
	cols := []string{"id", "v"}
	var src [][]Cell
	for i := 0; i < 3000; i++ {
		src = append(src, row(fmt.Sprintf("%05d", i), "v"))
	}
	var calls atomic.Int64
	var last Progress
	spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "v"}}, RowsPerSecond: 20000}
	sum, got, err := runCollect(t, spec, newSliceReader("s", cols, src), newSliceReader("t", cols, src[:1000]),
		WithProgress(func(p Progress) { calls.Add(1); last = p }), WithProgressInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 1 || last != (Progress{SourceRows: 3000, TargetRows: 1000, Phase: PhaseJoining, PartitionsJoined: 256, Partitions: 256}) {
		t.Errorf("progress: %d calls, last %+v", calls.Load(), last)
	}
	if len(got) != 2000 || sum.Matched != 1000 || sum.SourceRows != 3000 {
		t.Errorf("summary %+v", sum)
	}
}

func TestChooseStrategy(t *testing.T) {
	cols := []string{"id", "id2", "v"}
	plain := newSliceReader("p", cols, nil)
	ord := func(by ...string) Reader { return &orderedReader{newSliceReader("o", cols, nil), by} }
	spec := Spec{Keys: []Column{{Name: "id"}, {Name: "id2"}}}
	for _, tc := range []struct {
		name     string
		spec     Spec
		src, tgt Reader
		want     Strategy
	}{
		{"both ordered", spec, ord("id", "id2"), ord("id", "id2", "v"), StrategyMerge},
		{"prefix only", spec, ord("id"), ord("id", "id2"), StrategyHash},
		{"wrong order", spec, ord("id2", "id"), ord("id", "id2"), StrategyHash},
		{"one plain", spec, ord("id", "id2"), plain, StrategyHash},
		{"forced merge", Spec{Keys: spec.Keys, Strategy: StrategyMerge}, plain, plain, StrategyMerge},
		{"forced hash", Spec{Keys: spec.Keys, Strategy: StrategyHash}, ord("id", "id2"), ord("id", "id2"), StrategyHash},
		{"trimmed key", Spec{Keys: []Column{{Name: "id", Trim: true}, {Name: "id2"}}}, ord("id", "id2"), ord("id", "id2"), StrategyHash},
		{"target names", Spec{Keys: []Column{{Name: "id", Target: "id2"}}}, ord("id"), ord("id2"), StrategyMerge},
		{"checksum", Spec{Keys: spec.Keys, Strategy: StrategyChecksum}, plain, plain, StrategyChecksum},
	} {
		if got := ChooseStrategy(tc.spec, tc.src, tc.tgt); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestChecksumStrategyIsValidButNotRunHere: checksum is a valid spec strategy (the
// spec of a checksum run validates) but the engine cannot run it: Run says where it
// runs instead of falling back silently, and reads and emits nothing.
func TestChecksumStrategyIsValidButNotRunHere(t *testing.T) {
	spec := Spec{Keys: []Column{{Name: "id"}}, Strategy: StrategyChecksum}
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	cols := []string{"id"}
	src := newSliceReader("src", cols, [][]Cell{row("1")})
	tgt := newSliceReader("tgt", cols, nil)
	var got Collect
	sum, err := Run(context.Background(), spec, src, tgt, &got)
	if !errors.Is(err, ErrChecksumStrategy) {
		t.Fatalf("Run: %v, want ErrChecksumStrategy", err)
	}
	for _, want := range []string{"checksum needs two SQL sides", "internal/checksum"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if sum != (Summary{}) || len(got.Discrepancies) != 0 {
		t.Errorf("summary %+v, %d discrepancies: want nothing run", sum, len(got.Discrepancies))
	}
}

func TestMergeOutOfOrderMasksSensitiveKeys(t *testing.T) {
	cols := []string{"id", "v"}
	sr := &orderedReader{newSliceReader("src", cols, [][]Cell{row("secret-b", "1"), row("secret-a", "1")}), []string{"id"}}
	tr := &orderedReader{newSliceReader("tgt", cols, nil), []string{"id"}}
	spec := Spec{MaskKey: testMaskKey, Keys: []Column{{Name: "id", Sensitive: true}}, Strategy: StrategyMerge}
	_, _, err := runCollect(t, spec, sr, tr)
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), maskText(testMaskKey, "secret-a")+") after key ("+maskText(testMaskKey, "secret-b")) {
		t.Fatalf("error %v", err)
	}
}
