package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// A worker whose container limit cannot hold its hash budget and overhead spills more
// instead of being OOM-killed: the budget is lowered to fit, and says so.
func TestFitBudget(t *testing.T) {
	for _, tc := range []struct {
		budget, limit, want int64
		lowered             bool
	}{
		{0, 1 << 30, 0, false},                            // the default fits a 1 GiB limit
		{0, 256 << 20, 192 << 20, true},                   // not a 256 MiB limit
		{512 << 20, 576 << 20, 512 << 20, false},          // exactly fits
		{512 << 20, 575 << 20, 511 << 20, true},           // one MiB short
		{128 << 20, 32 << 20, diff.MinMemoryBudget, true}, // below the overhead: the smallest budget
	} {
		got, why := fitBudget(tc.budget, tc.limit)
		if got != tc.want || (why != "") != tc.lowered {
			t.Errorf("fitBudget(%d, %d) = %d, %q; want %d (lowered %v)", tc.budget, tc.limit, got, why, tc.want, tc.lowered)
		}
	}
}

func TestContainerMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]int64{"536870912\n": 512 << 20, "max\n": 0, "": 0, "garbage": 0} {
		p := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		got, ok := containerMemoryLimit(p)
		if got != want || ok != (want > 0) {
			t.Errorf("%q: %d, %v; want %d", text, got, ok, want)
		}
	}
	if _, ok := containerMemoryLimit(filepath.Join(dir, "absent")); ok {
		t.Error("a missing file gave a limit")
	}
}
