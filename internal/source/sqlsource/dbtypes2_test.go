package sqlsource_test

import (
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// A domain over a domain over numeric/timestamptz is still a decimal/timestamp.
func TestNestedDomain(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t, `CREATE DOMAIN amt AS numeric(12,2)`, `CREATE DOMAIN posamt AS amt CHECK (VALUE >= 0)`,
		`CREATE DOMAIN ts1 AS timestamptz`, `CREATE DOMAIN ts2 AS ts1`,
		`CREATE TABLE d (id int, a posamt, t ts2)`, `INSERT INTO d VALUES (1, 10.5, '2026-03-01 10:00:00+01')`)
	cfg := pg.Config()
	cfg.Table, cfg.Keys = "d", []string{"id"}
	cols, err := sqlsource.Discover(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		t.Logf("%+v", c)
	}
	if cols[1].Type != diff.TypeDecimal || cols[2].Type != diff.TypeTimestamp {
		t.Errorf("nested domains: a %s, t %s; want decimal, timestamp", cols[1].Type, cols[2].Type)
	}
	_, rows := readAll(t, cfg)
	if rows[0][2] != "2026-03-01T09:00:00Z" {
		t.Errorf("timestamptz through a nested domain read as %q", rows[0][2])
	}
	// ordered by a nested-domain numeric key declared decimal
	cfg.Keys, cfg.KeyTypes, cfg.Ordered = []string{"a"}, []diff.Type{diff.TypeDecimal}, true
	if _, err := sqlsource.Open(testCtx(t), cfg); err != nil {
		t.Errorf("ordered by decimal key: %v", err)
	}
}

// PostgreSQL's one-byte "char" type as an ordered string key.
func TestPGCharTypeKey(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t, `CREATE TABLE c (k "char", v int)`, `INSERT INTO c VALUES ('a', 1), ('B', 2)`)
	cfg := pg.Config()
	cfg.Table, cfg.Keys, cfg.Ordered = "c", []string{"k"}, true
	rd, err := sqlsource.Open(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("ordered \"char\" key: %v", err)
	}
	_ = rd.Close()
}
