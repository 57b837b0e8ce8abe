package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --output csv with --max-discrepancies: the CSV holds only the first discrepancies, so
// the run must say it was cut short (on stderr: stdout stays plain CSV).
func TestAdversityCSVOutputSaysTruncated(t *testing.T) {
	dir := t.TempDir()
	sp, tp := filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
	if err := os.WriteFile(sp, []byte("id,a\n1,x\n2,x\n3,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tp, []byte("id,a\n1,y\n2,y\n3,y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []string{"merge", "hash"} {
		var out, errOut bytes.Buffer
		err := runDiff(context.Background(), &out, &errOut, diffRun{
			flags:  diffFlags{keys: []string{"id"}, maxDiscrep: 1, strategy: strategy},
			srcURI: "file://" + sp, tgtURI: "file://" + tp, output: "csv", maskKey: []byte("clearhouse test mask key, 32 bytes")})
		var ec exitCodeError
		if !errors.As(err, &ec) || ec.code != 1 {
			t.Fatalf("%s: want exit 1, got %v", strategy, err)
		}
		if n := strings.Count(out.String(), "\n"); n != 2 {
			t.Fatalf("%s: want a header and one row, got\n%s", strategy, out.String())
		}
		if !strings.Contains(errOut.String(), "stopped early at --max-discrepancies") {
			t.Errorf("%s: nothing says the run was cut short; stderr %q", strategy, errOut.String())
		}
	}
}
