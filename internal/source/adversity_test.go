package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An empty file, or one holding only a BOM, has no header: a clear error naming the file.
func TestAdversityEmptyFileHasNoHeader(t *testing.T) {
	for _, data := range []string{"", "\xEF\xBB\xBF", "\n"} {
		p := filepath.Join(t.TempDir(), "e.csv")
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(t.Context(), p, Options{})
		if err == nil {
			_ = r.Close()
			t.Fatalf("%q: no error", data)
		}
		if !strings.Contains(err.Error(), "e.csv") {
			t.Errorf("%q: error does not name the file: %v", data, err)
		}
		t.Logf("%q: %v", data, err)
	}
}
