package probe_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// A column that was NOT NULL in the accepted baseline and now accepts NULL (or the
// reverse) is a schema change: the engine keeps NULL distinct from empty, so a
// reconciliation that relied on NOT NULL now meets NULLs. Compare used to ignore it.
func TestNullabilityChangeIsDrift(t *testing.T) {
	spec := &chv1.DataSourceSpec{Type: chv1.DataSourcePostgreSQL, KeyColumns: []string{"id"}}
	baseline := []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint", Nullable: false},
		{Name: "amount", Type: chv1.ColumnDecimal, NativeType: "numeric(12,2)", Nullable: false},
	}
	discovered := []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint", Nullable: false},
		{Name: "amount", Type: chv1.ColumnDecimal, NativeType: "numeric(12,2)", Nullable: true},
	}
	if d := probe.Compare(discovered, spec, baseline); d.Empty() {
		t.Errorf("amount went from NOT NULL to nullable: want drift, got none")
	}
}

// A PostgreSQL role that may not SELECT from the table still sees it in the catalog:
// the probe used to succeed (the controller then reported Ready=True) although every
// run of a job reading it failed with "permission denied".
func TestPostgresNoSelectPrivilegeIsNotReady(t *testing.T) {
	db := testdb.NewPostgres(t)
	role := fmt.Sprintf("noread_%d", time.Now().UnixNano()%1000000)
	db.Exec(t,
		`CREATE TABLE entries (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL)`,
		`INSERT INTO entries SELECT g, g FROM generate_series(1, 10) g`,
		`ANALYZE entries`,
		`CREATE ROLE `+role+` LOGIN PASSWORD 'pw-noread'`,
		`REVOKE ALL ON entries FROM PUBLIC`,
	)
	ds := sqlDataSource(db, "entries", "", "id")
	res, err := probe.Run(context.Background(), ds, creds(role, "pw-noread"))
	if err == nil {
		t.Fatalf("probe succeeded for a role without SELECT on the table (columns %d, rows %v); want an error", len(res.Columns), res.EstimatedRows)
	}
	var pe *probe.Error
	if !errors.As(err, &pe) || pe.Reason != probe.ReasonAuthenticationFailed || !strings.Contains(err.Error(), "permission denied for table") {
		t.Errorf("error %v, want AuthenticationFailed naming the missing permission", err)
	}
	// With SELECT on one column the role can read what it is granted: the probe passes.
	db.Exec(t, `GRANT SELECT (id) ON entries TO `+role)
	if _, err := probe.Run(context.Background(), ds, creds(role, "pw-noread")); err != nil {
		t.Errorf("with SELECT on a column: %v", err)
	}
}
