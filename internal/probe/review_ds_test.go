package probe_test

import (
	"context"
	"testing"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// A PostgreSQL table never analyzed (reltuples -1) holding 3 rows: the planner's guess
// for it assumes 10 pages (thousands of rows). A probe must not show that as an
// estimate that looks real.
func TestReviewPostgresNeverAnalyzedEstimate(t *testing.T) {
	db := testdb.NewPostgres(t)
	db.Exec(t,
		`CREATE TABLE small (id bigint PRIMARY KEY, v int)`,
		`INSERT INTO small VALUES (1, 1), (2, 2), (3, 3)`)
	res := mustProbe(t, sqlDataSource(db, "small", "", "id"), creds(db.Server.User, db.Server.Password))
	if res.EstimatedRows != nil && *res.EstimatedRows > 100 {
		t.Errorf("estimated rows of a never-analyzed 3-row table = %d, want nil (unknown) or a count near 3", *res.EstimatedRows)
	}
}

// Views and partitioned tables are probed: columns and an estimate.
func TestReviewPostgresViewAndPartitioned(t *testing.T) {
	db := testdb.NewPostgres(t)
	db.Exec(t,
		`CREATE TABLE base (id bigint PRIMARY KEY, v int)`,
		`INSERT INTO base SELECT g, g FROM generate_series(1, 500) g`,
		`ANALYZE base`,
		`CREATE VIEW vw AS SELECT id, v FROM base`,
		`CREATE TABLE parted (id bigint, day date NOT NULL) PARTITION BY RANGE (day)`,
		`CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')`,
		`CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')`,
		`INSERT INTO parted SELECT g, DATE '2020-01-01' + g FROM generate_series(1, 600) g`,
		`ANALYZE parted_a`, `ANALYZE parted_b`)
	c := creds(db.Server.User, db.Server.Password)
	for _, table := range []string{"vw", "parted"} {
		res := mustProbe(t, sqlDataSource(db, table, "", "id"), c)
		if len(res.Columns) != 2 || res.Columns[0].Name != "id" {
			t.Errorf("%s: columns %+v", table, res.Columns)
		}
		if res.EstimatedRows == nil || *res.EstimatedRows < 100 {
			t.Errorf("%s: estimated rows %v", table, res.EstimatedRows)
		}
	}
}

// A query-based MariaDB source whose query is slow (SLEEP per group, a derived table
// that cannot be merged): the probe describes it without running it.
func TestReviewMariaDBSlowQueryNotRun(t *testing.T) {
	db := testdb.NewMariaDB(t)
	db.Exec(t, "CREATE TABLE t (id BIGINT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2), (3)")
	ds := sqlDataSource(db, "", "SELECT id, SLEEP(2) AS s FROM t GROUP BY id", "id")
	start := time.Now()
	res, err := probe.Run(context.Background(), ds, creds(db.Server.User, db.Server.Password))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("probe took %v: it ran the 6-second query", d)
	}
	if len(res.Columns) != 2 {
		t.Errorf("columns %+v", res.Columns)
	}
}

// The same for PostgreSQL.
func TestReviewPostgresSlowQueryNotRun(t *testing.T) {
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE t (id bigint PRIMARY KEY)", "INSERT INTO t VALUES (1), (2), (3)")
	ds := sqlDataSource(db, "", "SELECT id, pg_sleep(2) AS s FROM t GROUP BY id", "id")
	start := time.Now()
	if _, err := probe.Run(context.Background(), ds, creds(db.Server.User, db.Server.Password)); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("probe took %v: it ran the 6-second query", d)
	}
}

// A MariaDB table in another database named in the spec (db.table).
func TestReviewMariaDBOtherDatabase(t *testing.T) {
	db := testdb.NewMariaDB(t)
	other := db.Server.NewDatabase(t)
	other.Exec(t, "CREATE TABLE elsewhere (id BIGINT PRIMARY KEY, v INT)", "INSERT INTO elsewhere VALUES (1, 1), (2, 2)", "ANALYZE TABLE elsewhere")
	db.Exec(t, "CREATE TABLE elsewhere (other_id BIGINT PRIMARY KEY)")
	res := mustProbe(t, sqlDataSource(db, other.Name+".elsewhere", "", "id"), creds(db.Server.User, db.Server.Password))
	if len(res.Columns) != 2 || res.Columns[0].Name != "id" || res.Columns[1].Name != "v" {
		t.Errorf("columns %+v", res.Columns)
	}
	wantRows(t, res, 2)
}

var _ = chv1.ColumnString
