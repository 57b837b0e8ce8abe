package probe_test

import (
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// A PostgreSQL table never analyzed (reltuples -1) holding 3 rows: the planner's guess
// for it assumes 10 pages (thousands of rows). A probe must not show that as an
// estimate that looks real.
func TestPostgresNeverAnalyzedEstimate(t *testing.T) {
	db := testdb.NewPostgres(t)
	db.Exec(t,
		`CREATE TABLE small (id bigint PRIMARY KEY, v int)`,
		`INSERT INTO small VALUES (1, 1), (2, 2), (3, 3)`)
	res := mustProbe(t, sqlDataSource(db, "small", "", "id"), creds(db.Server.User, db.Server.Password))
	if res.EstimatedRows != nil && *res.EstimatedRows > 100 {
		t.Errorf("estimated rows of a never-analyzed 3-row table = %d, want nil (unknown) or a count near 3", *res.EstimatedRows)
	}
}
