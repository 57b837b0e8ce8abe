package diff

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// hashRows generates n keys on both sides, in key order: most rows the same bytes on both
// sides, with every kind of outcome mixed in, including duplicates of rows that are the
// same on both sides (which must not count as matched).
func hashRows(n int) (src, tgt [][]Cell) {
	for i := 0; i < n; i++ {
		k1 := fmt.Sprintf("h%03d", i%701)
		k2 := fmt.Sprintf("%d", i)
		amount := fmt.Sprintf("%d.%02d", i%5000, i%97+1)
		name := fmt.Sprintf("name-%d", i%89)
		ts := fmt.Sprintf("2024-%02d-%02dT%02d:%02d:00Z", i%12+1, i%28+1, i%24, i%60)
		sRow := row(k1, k2, amount, name, ts)
		tRow := slices.Clone(sRow)
		switch {
		case i%101 == 1:
			src = append(src, sRow)
			continue // missing in target
		case i%103 == 2:
			tgt = append(tgt, tRow)
			continue // missing in source
		case i%107 == 3:
			tRow[2].Text = amount + "9" // mismatch (beyond the tolerance)
		case i%109 == 4:
			tgt = append(tgt, slices.Clone(tRow)) // the same row twice in the target
		case i%113 == 5:
			src = append(src, slices.Clone(sRow)) // the same row twice in the source
		case i%127 == 6:
			sRow[2].Text = "n/a" // invalid value
		case i%131 == 7:
			tRow[1] = Cell{Null: true} // invalid key
		case i%137 == 8:
			tRow[2].Text = amount + "0" // equal, but not the same bytes
		case i%139 == 9:
			tRow[3].Text = " " + strings.ToUpper(name) // equal under trim and ignoreCase
		}
		src = append(src, sRow)
		tgt = append(tgt, tRow)
	}
	return src, tgt
}

func hashRowsSpec() Spec {
	return Spec{
		Keys: []Column{{Name: "k1"}, {Name: "k2", Type: TypeInteger}},
		Compare: []Column{
			{Name: "amount", Type: TypeDecimal, AbsTolerance: "0.001"},
			{Name: "name", Trim: true, IgnoreCase: true},
			{Name: "ts", Type: TypeTimestamp},
		},
	}
}

// hashConfig is one way of running the hash strategy: a budget, tuning, and workers.
type hashConfig struct {
	name   string
	budget int64
	opts   []Option
	procs  int
}

func hashConfigs() []hashConfig {
	tune := func(cs, fanout int, pool int64) Option {
		return func(o *options) { o.chunkSize, o.fanout, o.poolLimit = cs, fanout, pool }
	}
	var out []hashConfig
	for _, procs := range []int{1, 2, 5} {
		out = append(out,
			hashConfig{name: "in-memory", procs: procs},
			hashConfig{name: "min-budget", budget: MinMemoryBudget, procs: procs},
			hashConfig{name: "1MiB", budget: 1 << 20, procs: procs},
			hashConfig{name: "fanout64", budget: 1 << 20, opts: []Option{tune(2048, 64, 0)}, procs: procs},
			hashConfig{name: "tiny-pool", budget: MinMemoryBudget, opts: []Option{tune(256, 4, 3<<10)}, procs: procs},
		)
	}
	return out
}

// runHash runs the hash strategy in cfg and returns the discrepancies in the order the
// sink got them, and the stats. It checks that the spill directory is left empty.
func runHash(t *testing.T, cfg hashConfig, spec Spec, src, tgt [][]Cell) (Summary, []Discrepancy, hashStats) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.procs))
	spec.Strategy = StrategyHash
	spec.MemoryBudget = cfg.budget
	spec.TempDir = t.TempDir()
	var stats hashStats
	opts := append(slices.Clone(cfg.opts), func(o *options) { o.onHashStats = func(s hashStats) { stats = s } })
	var got []Discrepancy
	sink := SinkFunc(func(d Discrepancy) error { got = append(got, d); return nil })
	sum, err := Run(t.Context(), spec, newSliceReader("src", genCols, src), newSliceReader("tgt", genCols, tgt), sink, opts...)
	if err != nil {
		t.Fatalf("%s: %v", cfg.name, err)
	}
	if stats.peak > stats.budget {
		t.Errorf("%s: pool peak %d over the budget %d", cfg.name, stats.peak, stats.budget)
	}
	if left, _ := os.ReadDir(spec.TempDir); len(left) > 0 {
		t.Errorf("%s: left %d files in the spill directory", cfg.name, len(left))
	}
	return sum, got, stats
}

// Joined concurrently, with and without spilling and partitioning again, hash finds
// exactly what merge finds.
func TestHashParallelSameAsMerge(t *testing.T) {
	src, tgt := hashRows(20000)
	if stats := hashSameAsMerge(t, src, tgt); !stats.spilled || !stats.reparted {
		t.Errorf("no configuration spilled (%v) or partitioned again (%v)", stats.spilled, stats.reparted)
	}
}

// heavyKeyRows is hashRows(n) with heavy rows of one key more on each side (each with a
// value of its own): a key no further partitioning can split.
func heavyKeyRows(n, heavy int) (src, tgt [][]Cell) {
	src, tgt = hashRows(n)
	for i := range heavy {
		r := row("h000", "0", fmt.Sprintf("%d.00", i), "heavy", "2024-01-01T00:00:00Z")
		src = append(src, r)
		if i%4 == 0 {
			tgt = append(tgt, slices.Clone(r))
		}
	}
	return src, tgt
}

// One key with many more rows than the memory holds: hash cannot split its partition,
// and joins it keeping one row per key and side, with exactly merge's outcomes (one
// duplicate_key per side for it), instead of failing.
func TestHashManyRowsOfOneKey(t *testing.T) {
	src, tgt := heavyKeyRows(3000, 20000)
	if stats := hashSameAsMerge(t, src, tgt); !stats.reparted {
		t.Error("no configuration partitioned again")
	}
}

type sameAsMergeStats struct{ spilled, reparted bool }

// hashSameAsMerge runs merge over src and tgt sorted, then hash in every configuration of
// hashConfigs, and demands merge's summary and discrepancies of each.
func hashSameAsMerge(t *testing.T, src, tgt [][]Cell) (stats sameAsMergeStats) {
	t.Helper()
	spec := hashRowsSpec()
	ordered := func(rows [][]Cell, name string) Reader {
		return &orderedReader{newSliceReader(name, genCols, rows), []string{"k1", "k2"}}
	}
	// Merge needs k1 bytes then k2 by value; the generator's order is k2's.
	order := func(rows [][]Cell) [][]Cell {
		out := slices.Clone(rows)
		slices.SortStableFunc(out, func(a, b []Cell) int {
			if c := compareCell(a[0], b[0]); c != 0 {
				return c
			}
			return cmpDecimal([]byte(a[1].Text), []byte(b[1].Text))
		})
		return out
	}
	src, tgt = order(src), order(tgt)
	mergeSpec := spec
	mergeSpec.Strategy = StrategyMerge
	wantSum, want, err := runCollect(t, mergeSpec, ordered(src, "src"), ordered(tgt, "tgt"))
	if err != nil {
		t.Fatal(err)
	}
	if wantSum.Matched == 0 || wantSum.DuplicateKeys == 0 || wantSum.InvalidRows == 0 || wantSum.Mismatched == 0 ||
		wantSum.MissingInSource == 0 || wantSum.MissingInTarget == 0 {
		t.Fatalf("generator lacks a kind: %+v", wantSum)
	}
	for _, cfg := range hashConfigs() {
		sum, got, hs := runHash(t, cfg, spec, src, tgt)
		sum.Strategy = wantSum.Strategy
		if sum != wantSum {
			t.Errorf("%s/%d: summary %+v, merge %+v", cfg.name, cfg.procs, sum, wantSum)
		}
		assertSame(t, fmt.Sprintf("%s/%d", cfg.name, cfg.procs), slices.Clone(want), got)
		stats.spilled = stats.spilled || hs.spills > 0
		stats.reparted = stats.reparted || hs.repartition > 0
	}
	return stats
}

// With MaxDiscrepancies, which discrepancies come out, in which order, and every count,
// are the same whatever the memory, the fan-out and the number of workers.
func TestHashTruncationDeterministic(t *testing.T) {
	t.Run("rows", func(t *testing.T) {
		src, tgt := hashRows(8000)
		hashTruncationDeterministic(t, src, tgt)
	})
	t.Run("heavy-key", func(t *testing.T) {
		src, tgt := heavyKeyRows(3000, 20000)
		hashTruncationDeterministic(t, src, tgt)
	})
}

func hashTruncationDeterministic(t *testing.T, src, tgt [][]Cell) {
	rng := rand.New(rand.NewPCG(5, 6))
	rng.Shuffle(len(src), func(i, j int) { src[i], src[j] = src[j], src[i] })
	rng.Shuffle(len(tgt), func(i, j int) { tgt[i], tgt[j] = tgt[j], tgt[i] })
	spec := hashRowsSpec()
	full, _, _ := runHash(t, hashConfig{name: "unlimited", procs: 2}, spec, src, tgt)
	total := full.Discrepancies()
	for _, max := range []int64{1, 2, 17, 150, total - 1, total, total + 1} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			spec := spec
			spec.MaxDiscrepancies = max
			var refSum Summary
			var ref []Discrepancy
			for i, cfg := range hashConfigs() {
				sum, got, _ := runHash(t, cfg, spec, src, tgt)
				if want := min(max, total); sum.Discrepancies() != want || int64(len(got)) != want || sum.Truncated != (max < total) {
					t.Fatalf("%s/%d: %d discrepancies, summary %+v; want %d, truncated %v", cfg.name, cfg.procs, len(got), sum, want, max < total)
				}
				if i == 0 {
					refSum, ref = sum, got
					continue
				}
				if sum != refSum {
					t.Errorf("%s/%d: summary %+v, first configuration %+v", cfg.name, cfg.procs, sum, refSum)
				}
				if g, w := jsonLines(got), jsonLines(ref); g != w {
					t.Errorf("%s/%d: discrepancies differ from the first configuration's\n--- first\n%s--- got\n%s", cfg.name, cfg.procs, w, g)
				}
			}
		})
	}
}

// A sink's error stops every worker and is returned; nothing is left on disk.
func TestHashSinkErrorAndCancel(t *testing.T) {
	src, tgt := hashRows(20000)
	spec := hashRowsSpec()
	spec.Strategy = StrategyHash
	spec.MemoryBudget = 1 << 20
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	boom := errors.New("boom")
	for _, max := range []int64{0, 1000} {
		spec.MaxDiscrepancies = max
		spec.TempDir = t.TempDir()
		var n atomic.Int64
		sink := SinkFunc(func(d Discrepancy) error {
			if n.Add(1) == 10 {
				return boom
			}
			return nil
		})
		_, err := Run(t.Context(), spec, newSliceReader("src", genCols, src), newSliceReader("tgt", genCols, tgt), sink)
		if !errors.Is(err, boom) {
			t.Errorf("max %d: error %v, want boom", max, err)
		}
		if left, _ := os.ReadDir(spec.TempDir); len(left) > 0 {
			t.Errorf("max %d: left %d files in the spill directory", max, len(left))
		}

		spec.TempDir = t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		sink = SinkFunc(func(d Discrepancy) error { cancel(); return nil })
		_, err = Run(ctx, spec, newSliceReader("src", genCols, src), newSliceReader("tgt", genCols, tgt), sink)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("max %d: error %v, want context.Canceled", max, err)
		}
		if left, _ := os.ReadDir(spec.TempDir); len(left) > 0 {
			t.Errorf("max %d: left %d files in the spill directory after cancelling", max, len(left))
		}
	}
}
