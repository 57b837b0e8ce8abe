package sqlsource_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// LoadTable with PrimaryKey makes the key the primary key (a text key in byte order on
// PostgreSQL, read back in that order) and fails on a duplicate key.
func TestLoadTablePrimaryKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) func() (diff.Reader, error) {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return func() (diff.Reader, error) { return source.Open(context.Background(), file, source.Options{}) }
	}
	good := write("good.csv", "id,amount\nb,1.5\nB,2\nä,3\na,4\n")
	dup := write("dup.csv", "id,amount\nb,1.5\na,2\nb,3\n")
	cols := []sqlsource.LoadColumn{{Name: "id"}, {Name: "amount", Type: diff.TypeDecimal}}
	ctx := testCtx(t)
	if _, err := sqlsource.LoadTable(ctx, sqlsource.Config{URI: "postgres://u@127.0.0.1:1/db", Table: "x"}, good,
		sqlsource.LoadOptions{Columns: cols, PrimaryKey: true}); err == nil || !strings.Contains(err.Error(), "PrimaryKey needs the key columns in Index") {
		t.Errorf("primary key without Index: %v", err)
	}
	for _, db := range both(t) {
		kind := db.Server.Kind
		cfg := db.Config()
		cfg.Table = "pk"
		opts := sqlsource.LoadOptions{Columns: cols, Index: []string{"id"}, PrimaryKey: true, Replace: true}
		if _, err := sqlsource.LoadTable(ctx, cfg, good, opts); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		cfg.Keys, cfg.Ordered = []string{"id"}, true
		if _, rows := readAll(t, cfg); len(rows) != 4 || rows[0][0] != "B" || rows[1][0] != "a" || rows[2][0] != "b" || rows[3][0] != "ä" {
			t.Errorf("%s: read back %q, want byte order B a b ä", kind, rows)
		}
		_, err := sqlsource.LoadTable(ctx, cfg, dup, opts)
		if err == nil || !strings.Contains(err.Error(), "creating the index") {
			t.Errorf("%s: duplicate key: %v", kind, err)
		}
	}
}
