package gen

import (
	"math"
	"os"
	"strings"
	"testing"
)

// A NaN rate is not a rate in [0, 1]: Generate refuses it up front, naming Rate,
// instead of writing the default mix and failing late on manifest.json
// ("json: unsupported value: NaN") with a half-written directory.
func TestRateNaNRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(dir)
	cfg.Rate = math.NaN()
	err := Generate(cfg)
	if err == nil || !strings.Contains(err.Error(), "Rate must be in [0, 1]") {
		t.Fatalf("Generate with Rate NaN: %v; want the Rate error", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("wrote %d files, want none", len(entries))
	}
}
