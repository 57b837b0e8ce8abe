package probe_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

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

// A PostgreSQL role granted SELECT on some columns only: the probe used to report every
// column (a job comparing one it may not read failed every run with "permission
// denied") where MariaDB's information_schema shows only the columns the user may read.
// Both report the readable columns.
func TestColumnPrivilegesLimitTheDiscoveredSchema(t *testing.T) {
	role := fmt.Sprintf("colread_%d", time.Now().UnixNano()%1000000)
	pg := testdb.NewPostgres(t)
	pg.Exec(t,
		`CREATE TABLE entries (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, note text)`,
		`CREATE ROLE `+role+` LOGIN PASSWORD 'pw-colread'`,
		`REVOKE ALL ON entries FROM PUBLIC`,
		`GRANT SELECT (id, note) ON entries TO `+role)
	my := testdb.NewMariaDB(t)
	my.Exec(t,
		`CREATE TABLE entries (id bigint PRIMARY KEY, amount decimal(12,2) NOT NULL, note text)`,
		`CREATE USER '`+role+`'@'%' IDENTIFIED BY 'pw-colread'`,
		`GRANT SELECT (id, note) ON `+my.Name+`.entries TO '`+role+`'@'%'`)
	for _, db := range []*testdb.Database{pg, my} {
		res := mustProbe(t, sqlDataSource(db, "entries", "", "id"), creds(role, "pw-colread"))
		var names []string
		for _, c := range res.Columns {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, []string{"id", "note"}) {
			t.Errorf("%s: columns %q, want the readable ones [id note]", db.Server.Kind, names)
		}
	}
}
