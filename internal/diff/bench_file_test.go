package diff_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// File benchmarks: the end-to-end case in one process, on a generated pair
// (CLEARHOUSE_PERF_DIR: a directory with source.csv and target.csv), e.g.
//
//	bin/clearhouse gen --dir /tmp/perf --rows 1000000 --sorted --rate 0.001
//	CLEARHOUSE_PERF_DIR=/tmp/perf go test -run '^$' -bench 'File' -benchtime 5x -count 3 ./internal/diff/
//
// cpu-ns/row is the process's CPU time per row read (both sides): BenchmarkFloorFile is
// the floor (reading and parsing only), BenchmarkMergeFile what `clearhouse diff
// --strategy merge --sorted` adds to it.

type discardSink struct{}

func (discardSink) Emit(diff.Discrepancy) error { return nil }

func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// ledgerFileSpec is the comparison the benchmark (make bench) runs on the generated
// payments ledger.
func ledgerFileSpec(strategy diff.Strategy) diff.Spec {
	return diff.Spec{
		Keys: []diff.Column{{Name: "id"}},
		Compare: []diff.Column{
			{Name: "amount", Type: diff.TypeDecimal, AbsTolerance: "0.01"},
			{Name: "currency"},
			{Name: "value_date", Type: diff.TypeDate},
			{Name: "booked_at", Type: diff.TypeTimestamp, TimeTolerance: 2 * time.Second},
			{Name: "status"},
			{Name: "account", Sensitive: true},
			{Name: "memo"},
		},
		Strategy: strategy,
	}
}

// BenchmarkMergeFile is `clearhouse diff --key id --tolerance amount=0.01
// --time-tolerance booked_at=2s --type value_date=date --sensitive account --strategy
// merge --sorted` without the output.
func BenchmarkMergeFile(b *testing.B) {
	dir := os.Getenv("CLEARHOUSE_PERF_DIR")
	if dir == "" {
		b.Skip("CLEARHOUSE_PERF_DIR not set")
	}
	spec := ledgerFileSpec(diff.StrategyMerge)
	cpu0 := cpuNanos()
	var rows int64
	for b.Loop() {
		src, err := source.Open(b.Context(), filepath.Join(dir, "source.csv"), source.Options{OrderedBy: []string{"id"}})
		if err != nil {
			b.Fatal(err)
		}
		tgt, err := source.Open(b.Context(), filepath.Join(dir, "target.csv"), source.Options{OrderedBy: []string{"id"}})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := diff.Run(b.Context(), spec, src, tgt, discardSink{})
		if err != nil {
			b.Fatal(err)
		}
		rows += sum.SourceRows + sum.TargetRows
		_ = src.Close()
		_ = tgt.Close()
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(rows), "cpu-ns/row")
}

// BenchmarkFloorFile reads both files, one after the other: the floor.
func BenchmarkFloorFile(b *testing.B) {
	dir := os.Getenv("CLEARHOUSE_PERF_DIR")
	if dir == "" {
		b.Skip("CLEARHOUSE_PERF_DIR not set")
	}
	cpu0 := cpuNanos()
	var rows int64
	for b.Loop() {
		for _, f := range []string{"source.csv", "target.csv"} {
			r, err := source.Open(b.Context(), filepath.Join(dir, f), source.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := r.Next(); err != nil {
					break
				}
				rows++
			}
			_ = r.Close()
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(rows), "cpu-ns/row")
}

// BenchmarkFloorFileStep reads both files in step, alternating rows.
func BenchmarkFloorFileStep(b *testing.B) {
	dir := os.Getenv("CLEARHOUSE_PERF_DIR")
	if dir == "" {
		b.Skip("CLEARHOUSE_PERF_DIR not set")
	}
	cpu0 := cpuNanos()
	var rows int64
	for b.Loop() {
		var rs []diff.Reader
		for _, f := range []string{"source.csv", "target.csv"} {
			r, err := source.Open(b.Context(), filepath.Join(dir, f), source.Options{})
			if err != nil {
				b.Fatal(err)
			}
			rs = append(rs, r)
		}
		for live := 2; live > 0; {
			live = 0
			for _, r := range rs {
				if _, err := r.Next(); err == nil {
					rows++
					live++
				}
			}
		}
		for _, r := range rs {
			_ = r.Close()
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(rows), "cpu-ns/row")
}
