package probe_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
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

// countingWriter counts the bytes of a response body.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.ResponseWriter.Write(b)
}

// A Parquet file over https: the probe used to download all of it (a reader spools the
// whole file) every probe interval, and a file that takes longer than the probe's 30
// seconds never became Ready. It reads the footer with range requests, and reports the
// types and the row count as for a local file; a server that serves no ranges still
// gets the file read whole.
func TestHTTPParquetProbeReadsTheFooter(t *testing.T) {
	type row struct {
		ID   int64  `parquet:"id"`
		Note string `parquet:"note"`
	}
	rows := make([]row, 200000)
	for i := range rows {
		rows[i] = row{ID: int64(i), Note: fmt.Sprintf("note %d %x", i, i*7919)}
	}
	pq := filepath.Join(t.TempDir(), "ledger.parquet")
	if err := parquet.WriteFile(pq, rows); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(pq)
	if err != nil {
		t.Fatal(err)
	}
	const user, pass = "bank", "Parquet-s3cret-Pa55"
	var sent atomic.Int64
	var noRanges atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		cw := countingWriter{w, &sent}
		if noRanges.Load() {
			_, _ = cw.Write(body)
			return
		}
		http.ServeContent(cw, r, "ledger.parquet", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	ds := fileDataSource(srv.URL+"/ledger.parquet", "")
	ds.Spec.File.SecretRef = &chv1.CredentialsSecretRef{Name: "bank"}
	want := []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "int(64,true)"},
		{Name: "note", Type: chv1.ColumnString, NativeType: "string"},
	}

	res := mustProbe(t, ds, creds(user, pass))
	wantColumns(t, res.Columns, want)
	wantRows(t, res, int64(len(rows)))
	if n := sent.Load(); n > int64(len(body))/10 {
		t.Errorf("the probe read %d bytes of a %d-byte file: want the footer only", n, len(body))
	}

	noRanges.Store(true)
	sent.Store(0)
	res = mustProbe(t, ds, creds(user, pass))
	if len(res.Columns) != 2 || res.Columns[0].Name != "id" || res.Columns[1].Name != "note" {
		t.Errorf("without ranges: columns %+v", res.Columns)
	}
	failure(t, ds, creds(user, "Wr0ng-parquet-Pa55"), probe.StageConnect, probe.ReasonAuthenticationFailed, "401 Unauthorized", "Wr0ng-parquet-Pa55")
	srv.Close()
	failure(t, ds, creds(user, pass), probe.StageConnect, probe.ReasonUnreachable, "GET http://127.0.0.1", pass)
}

// A declared column missing when the schema was accepted, added later with a type its
// declaration cannot be read from: it used to be reported twice, added and retyped.
// Each column is reported once: as retyped (the declaration it breaks names its type).
func TestDriftReportsADeclaredColumnAddedWithAnotherTypeOnce(t *testing.T) {
	spec := &chv1.DataSourceSpec{Type: chv1.DataSourcePostgreSQL, KeyColumns: []string{"id"},
		Columns: []chv1.ColumnSpec{{Name: "flag", Type: chv1.ColumnInteger}}}
	baseline := []chv1.DiscoveredColumn{col("id", chv1.ColumnInteger, "bigint")}
	discovered := []chv1.DiscoveredColumn{col("id", chv1.ColumnInteger, "bigint"), col("flag", chv1.ColumnBoolean, "boolean"),
		col("note", chv1.ColumnString, "text")}
	d := probe.Compare(discovered, spec, baseline)
	const want = "added columns: note (text); retyped columns: flag (declared Integer -> boolean)"
	if got := d.Message(); got != want {
		t.Errorf("drift %q, want %q", got, want)
	}
}

// A web server that answers 503 (or 502, 500, 429) did not serve the file: the file was
// not reached. It used to be classified as reached with a schema that could not be
// learned (Reachable=True, DiscoveryFailed), and no event told of the outage.
func TestHTTPServerErrorIsUnreachable(t *testing.T) {
	code := atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	t.Cleanup(srv.Close)
	for _, c := range []int{http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusInternalServerError, http.StatusTooManyRequests} {
		code.Store(int32(c))
		for _, name := range []string{"/ledger.csv", "/ledger.parquet"} {
			failure(t, fileDataSource(srv.URL+name, ""), nil, probe.StageConnect, probe.ReasonUnreachable, fmt.Sprintf(": %d ", c), "")
		}
	}
}

// A file the reader refuses names the DataSource once: the reader's message already
// names it, and the probe used to name it again ("datasource ns/src: ns/src: empty
// file, no header row").
func TestFileErrorNamesTheDataSourceOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.csv")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := probe.Run(context.Background(), fileDataSource("file://"+p, ""), nil)
	if err == nil || strings.Count(err.Error(), "ns/src") != 1 {
		t.Errorf("error %v, want one that names ns/src once", err)
	}
}

// A PostgreSQL view a role may read some columns of: its estimate (the planner's, a
// view has no statistics) used to EXPLAIN a SELECT of every column and fail the probe
// with "permission denied for view". It explains the readable ones.
func TestColumnPrivilegesOnAViewStillEstimate(t *testing.T) {
	role := fmt.Sprintf("viewread_%d", time.Now().UnixNano()%1000000)
	db := testdb.NewPostgres(t)
	db.Exec(t,
		`CREATE TABLE base (id bigint PRIMARY KEY, secret text, day date NOT NULL)`,
		`INSERT INTO base SELECT g, 'x', DATE '2020-01-01' + g FROM generate_series(1, 300) g`,
		`ANALYZE base`,
		`CREATE VIEW entries AS SELECT * FROM base`,
		`CREATE ROLE `+role+` LOGIN PASSWORD 'pw-viewread'`,
		`REVOKE ALL ON entries FROM PUBLIC`,
		`GRANT SELECT (id, day) ON entries TO `+role)
	res := mustProbe(t, sqlDataSource(db, "entries", "", "id"), creds(role, "pw-viewread"))
	if len(res.Columns) != 2 || res.EstimatedRows == nil || *res.EstimatedRows < 100 {
		t.Errorf("columns %+v, estimated rows %v: want id and day, about 300 rows", res.Columns, res.EstimatedRows)
	}
}
