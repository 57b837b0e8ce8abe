//go:build unix

package diff_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// BenchmarkHashFile is `clearhouse diff --key id --tolerance amount=0.01 --time-tolerance
// booked_at=2s --type value_date=date --sensitive account --strategy hash --memory 256MiB`
// without the output, on a generated pair (CLEARHOUSE_HASH_DIR: a directory with
// source.csv and target.csv, shuffled as for make bench), e.g.
//
//	CLEARHOUSE_HASH_DIR=$PWD/bin/bench-data/csv-1000000-shuffled-seed1-rate0.001 \
//	  go test -run '^$' -bench HashFile -benchtime 3x -cpuprofile /tmp/cpu.out ./internal/diff/
//
// cpu-ns/row is the process's CPU time (user + system: spilling is mostly system time)
// per row read, both sides.
func BenchmarkHashFile(b *testing.B) {
	dir := os.Getenv("CLEARHOUSE_HASH_DIR")
	if dir == "" {
		b.Skip("CLEARHOUSE_HASH_DIR not set")
	}
	spec := ledgerFileSpec(diff.StrategyHash)
	spec.MemoryBudget = 256 << 20
	spec.TempDir = b.TempDir()
	cpu0 := cpuNanos()
	var rows int64
	for b.Loop() {
		src, err := source.Open(b.Context(), filepath.Join(dir, "source.csv"), source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		tgt, err := source.Open(b.Context(), filepath.Join(dir, "target.csv"), source.Options{})
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		sum, err := diff.Run(b.Context(), spec, src, tgt, diff.SinkFunc(func(diff.Discrepancy) error { n++; return nil }))
		if err != nil {
			b.Fatal(err)
		}
		if sum.Discrepancies() != n {
			b.Fatalf("summary %+v, sink got %d", sum, n)
		}
		rows += sum.SourceRows + sum.TargetRows
		_ = src.Close()
		_ = tgt.Close()
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(rows), "cpu-ns/row")
}
