//go:build unix

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
	spec := diff.Spec{
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
		Strategy:     diff.StrategyHash,
		MemoryBudget: 256 << 20,
		TempDir:      b.TempDir(),
	}
	cpu := func() int64 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	cpu0 := cpu()
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
	b.ReportMetric(float64(cpu()-cpu0)/float64(rows), "cpu-ns/row")
}
