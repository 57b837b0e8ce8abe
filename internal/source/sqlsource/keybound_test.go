package sqlsource

import (
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// A checksum key bound that does not fit its column fails the run, and the error does
// not print the bound: it is a key value read from the data, and the key column may be
// sensitive (the error goes to stderr with exit code 2, where nothing masks it).
func TestKeyBoundErrorDoesNotPrintValue(t *testing.T) {
	for _, drv := range []Driver{Postgres, MySQL} {
		for _, typ := range []diff.Type{diff.TypeInteger, diff.TypeDate, diff.TypeTimestamp} {
			s := &csSide{
				r:        &resolved{Config: Config{Driver: drv}},
				keys:     []colInfo{{Column: Column{Name: "acct", Type: typ, NativeType: "x"}}},
				keyTypes: []diff.Type{typ},
			}
			var args []string
			_, err := s.literal(0, "SECRET-4711", &args)
			if err == nil {
				t.Fatalf("%s %s: no error", drv, typ)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("%s %s: the key value in clear: %v", drv, typ, err)
			}
		}
	}
}
