package sqlsource_test

import (
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"

	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// Floats: the same float32/float64 values in PostgreSQL and MariaDB must read the same.
func TestFloatPrecision(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	pg.Exec(t, `CREATE TABLE f (id int, f4 real, f8 double precision)`,
		`INSERT INTO f VALUES (1, 123456.78, 0.30000000000000004), (2, 1234567.8, 1.0000000000000002), (3, 0.1, 123456789.12345679)`)
	my.Exec(t, "CREATE TABLE f (id int, f4 float, f8 double)",
		"INSERT INTO f VALUES (1, 123456.78, 0.30000000000000004), (2, 1234567.8, 1.0000000000000002), (3, 0.1, 123456789.12345679)")
	read := func(db *testdb.Database) [][]string {
		cfg := db.Config()
		cfg.Table, cfg.Keys, cfg.Ordered = "f", []string{"id"}, true
		_, rows := readAll(t, cfg)
		return rows
	}
	pr, mr := read(pg), read(my)
	for i := range pr {
		for j := range pr[i] {
			if pr[i][j] != mr[i][j] {
				t.Errorf("row %d col %d: postgres %q, mariadb %q", i+1, j, pr[i][j], mr[i][j])
			}
		}
	}
	t.Logf("pg %q\nmy %q", pr, mr)
}

// PostgreSQL money is read as its exact numeric value, not in the locale's format.
func TestPGMoney(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t, `CREATE TABLE m (id int, amt money)`, `INSERT INTO m VALUES (1, 1234.56), (2, -0.5)`)
	cfg := pg.Config()
	cfg.Table, cfg.Keys = "m", []string{"id"}
	cols, rows := readAll(t, cfg)
	t.Logf("%v %q", cols, rows)
	if rows[0][1] != "1234.56" || rows[1][1] != "-0.50" {
		t.Errorf("money 1234.56 and -0.5 read as %q and %q (not decimals the engine parses)", rows[0][1], rows[1][1])
	}
}

// A MySQL table name lookup must find only that table (Linux: names are case-sensitive).
func TestMySQLTableCase(t *testing.T) {
	t.Parallel()
	my := testdb.NewMariaDB(t)
	my.Exec(t, "CREATE TABLE Acct (id int, a int)", "CREATE TABLE acct (id int, b int)",
		"INSERT INTO Acct VALUES (1, 10)", "INSERT INTO acct VALUES (2, 20)")
	cfg := my.Config()
	cfg.Table, cfg.Keys = "acct", []string{"id"}
	cols, rows := readAll(t, cfg)
	t.Logf("%v %q", cols, rows)
	if len(cols) != 2 || cols[0] != "id" || cols[1] != "b" {
		t.Errorf("columns of acct: %v, want [id b]", cols)
	}
}

// Engine level: a MariaDB FLOAT holding 123456.78 must not match 123457 elsewhere,
// and a ZEROFILL integer must match the same number.
func TestFloatFalseMatch(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	pg.Exec(t, `CREATE TABLE f (id int, x double precision, z int)`, `INSERT INTO f VALUES (1, 123457, 42)`)
	my.Exec(t, "CREATE TABLE f (id int, x float, z int(6) zerofill)", "INSERT INTO f VALUES (1, 123456.78, 42)")
	ctx := testCtx(t)
	open := func(db *testdb.Database) diff.Reader {
		cfg := db.Config()
		cfg.Table, cfg.Keys = "f", []string{"id"}
		rd, err := sqlsource.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rd.Close() })
		return rd
	}
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}},
		Compare: []diff.Column{{Name: "x", Type: diff.TypeDecimal}, {Name: "z", Type: diff.TypeInteger}}}
	sink := &diff.Collect{}
	sum, err := diff.Run(ctx, spec, open(pg), open(my), sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v %+v", sum, sink.Discrepancies)
	if len(sink.Discrepancies) != 1 {
		t.Errorf("want one mismatch on x (123457 vs 123456.78), got %+v", sink.Discrepancies)
	}
}
