package gen_test

import (
	"context"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// TestLoadRefusesWhatTablesCannotStore: typed columns refuse a pair with unparsable
// values, a primary key one with duplicate, NULL or empty keys, before connecting.
func TestLoadRefusesWhatTablesCannotStore(t *testing.T) {
	dir := t.TempDir()
	if _, err := gen.Run(gen.DefaultConfig(dir)); err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: an attempt to connect would fail differently.
	cfg := sqlsource.Config{URI: "postgres://u@127.0.0.1:1/db", Table: "t"}
	for _, c := range []struct {
		opts gen.LoadOptions
		want []string
	}{
		{gen.LoadOptions{Typed: true}, []string{"unparsable (typed columns)"}},
		{gen.LoadOptions{PrimaryKey: true}, []string{"duplicateSource (primary key)", "duplicateTarget", "duplicateBoth", "nullKey", "emptyKey"}},
	} {
		_, err := gen.LoadTableWith(context.Background(), dir, "source", cfg, c.opts)
		if err == nil {
			t.Fatalf("%+v: no error", c.opts)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not name %s", c.opts, err, w)
			}
		}
		if strings.Contains(err.Error(), "connect") {
			t.Errorf("%+v: tried to connect: %v", c.opts, err)
		}
	}
}
