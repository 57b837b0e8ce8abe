// Package golden compares test output with files under testdata/, or rewrites them when
// the test binary runs with -update.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// Check compares got with testdata/name, or writes it there with -update. pkg names the
// package in the hint (go test ./internal/render -update).
func Check(t *testing.T, pkg, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test %s -update writes it)", err, pkg)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test %s -update rewrites it); got:\n%s", path, pkg, got)
	}
}
