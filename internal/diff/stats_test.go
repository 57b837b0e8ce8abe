package diff

import (
	"sync"
	"testing"
	"time"
)

// A hash run that spills reports reading, then joining with the exact number of
// partitions, joined counts that only go up to all of them, and then its Stats.
func TestProgressPhasesAndStats(t *testing.T) {
	src, tgt := hashRows(20000)
	spec := hashRowsSpec()
	spec.Strategy = StrategyHash
	spec.TempDir = t.TempDir()
	const fanout = 8

	var mu sync.Mutex
	var calls []Progress
	var stats []Stats
	statsAfter := -1 // progress calls made before the stats call
	// Closed by the first call that sees a join under way, whatever came before it:
	// the read can end before the progress goroutine first runs (both cores reading), so
	// waiting for a call that sees the change from reading would wait forever.
	sawJoining := make(chan struct{})
	var joined sync.Once
	progress := func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Phase == PhaseJoining && p.PartitionsJoined < p.Partitions {
			joined.Do(func() { close(sawJoining) })
		}
		calls = append(calls, p)
	}
	// The first discrepancy waits for a progress call of the join phase: the partition
	// it comes from is not joined yet, so that call saw a join under way.
	var once sync.Once
	sink := SinkFunc(func(Discrepancy) error {
		once.Do(func() { <-sawJoining })
		return nil
	})
	sum, err := Run(t.Context(), spec, newSliceReader("src", genCols, src), newSliceReader("tgt", genCols, tgt), sink,
		func(o *options) { o.chunkSize, o.fanout, o.poolLimit = 256, fanout, 3<<10 },
		WithProgressInterval(time.Millisecond),
		WithProgress(progress),
		WithStats(func(s Stats) {
			mu.Lock()
			defer mu.Unlock()
			stats = append(stats, s)
			statsAfter = len(calls)
		}))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Discrepancies() == 0 {
		t.Fatal("want discrepancies: the test waits on the first one")
	}

	mu.Lock()
	defer mu.Unlock()
	nSrc, nTgt := int64(len(src)), int64(len(tgt))
	joining := false
	var last Progress
	midJoin := 0
	for i, p := range calls {
		switch p.Phase {
		case PhaseReading:
			if joining {
				t.Fatalf("call %d: reading after joining: %+v", i, p)
			}
			if p.Partitions != 0 || p.PartitionsJoined != 0 {
				t.Errorf("call %d: partitions while reading: %+v", i, p)
			}
		case PhaseJoining:
			joining = true
			if p.SourceRows != nSrc || p.TargetRows != nTgt || p.Partitions != fanout {
				t.Errorf("call %d: joining %+v, want %d/%d rows and %d partitions", i, p, nSrc, nTgt, fanout)
			}
			if p.PartitionsJoined < last.PartitionsJoined || p.PartitionsJoined > p.Partitions {
				t.Errorf("call %d: joined %d after %d of %d", i, p.PartitionsJoined, last.PartitionsJoined, p.Partitions)
			}
			if p.PartitionsJoined < p.Partitions {
				midJoin++
			}
		default:
			t.Fatalf("call %d: phase %q", i, p.Phase)
		}
		if p.SourceRows < last.SourceRows || p.TargetRows < last.TargetRows {
			t.Errorf("call %d: rows went down: %+v after %+v", i, p, last)
		}
		last = p
	}
	if midJoin == 0 {
		t.Error("no progress call during the join")
	}
	want := Progress{SourceRows: nSrc, TargetRows: nTgt, Phase: PhaseJoining, PartitionsJoined: fanout, Partitions: fanout}
	if last != want {
		t.Errorf("final progress %+v, want %+v", last, want)
	}

	if len(stats) != 1 || statsAfter != len(calls) {
		t.Fatalf("stats called %d times, after %d of %d progress calls", len(stats), statsAfter, len(calls))
	}
	s := stats[0]
	if s.Strategy != StrategyHash || s.SourceRows != nSrc || s.TargetRows != nTgt || s.MemoryBudget != DefaultMemoryBudget ||
		s.PoolLimit != 3<<10 || s.ChunkSize != 256 || s.Partitions != fanout {
		t.Errorf("stats %+v", s)
	}
	if s.Spills == 0 || s.SpilledBytes == 0 || s.PoolPeak == 0 || s.Elapsed <= 0 {
		t.Errorf("stats %+v: want spills, spilled bytes, a pool peak and a wall time", s)
	}
}

// Merge stays in the reading phase and has no hash stats.
func TestProgressAndStatsMerge(t *testing.T) {
	src := [][]Cell{row("a", "1"), row("b", "2")}
	tgt := [][]Cell{row("a", "1"), row("c", "3")}
	spec := Spec{Keys: []Column{{Name: "id"}}, Strategy: StrategyMerge}
	var calls []Progress
	var got []Stats
	_, _, err := runCollect(t, spec, newSliceReader("src", []string{"id", "v"}, src), newSliceReader("tgt", []string{"id", "v"}, tgt),
		WithProgress(func(p Progress) { calls = append(calls, p) }),
		WithStats(func(s Stats) { got = append(got, s) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 || calls[len(calls)-1] != (Progress{SourceRows: 2, TargetRows: 2, Phase: PhaseReading}) {
		t.Errorf("progress %+v", calls)
	}
	if len(got) != 1 {
		t.Fatalf("stats called %d times", len(got))
	}
	got[0].Elapsed = 0
	if want := (Stats{Strategy: StrategyMerge, SourceRows: 2, TargetRows: 2}); got[0] != want {
		t.Errorf("stats %+v, want %+v", got[0], want)
	}
}
