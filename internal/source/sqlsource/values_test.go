package sqlsource_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// readAll reads every row as texts ("NULL" for NULL, which no test value is).
func readAll(t *testing.T, cfg sqlsource.Config) ([]string, [][]string) {
	t.Helper()
	rd, err := sqlsource.Open(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := rd.Close(); err != nil {
			t.Error(err)
		}
	}()
	var rows [][]string
	for {
		cells, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cells))
		for i, c := range cells {
			if c.Null {
				row[i] = "NULL"
			} else {
				row[i] = strings.Clone(c.Text)
			}
		}
		rows = append(rows, row)
	}
	return rd.Columns(), rows
}

// byName maps each column of the single row to its text.
func byName(t *testing.T, cols []string, rows [][]string, row int) map[string]string {
	t.Helper()
	if len(rows) <= row {
		t.Fatalf("%d rows, want more than %d", len(rows), row)
	}
	m := map[string]string{}
	for i, c := range cols {
		m[c] = rows[row][i]
	}
	return m
}

func checkValues(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestPostgresValues(t *testing.T) {
	t.Parallel()
	db := testdb.NewPostgres(t)
	db.Exec(t, `CREATE DOMAIN money2 AS numeric(12,2)`,
		`CREATE TYPE mood AS ENUM ('sad', 'ok')`,
		`CREATE TABLE v (
			id int, i2 smallint, i8 bigint, n numeric(12,2), n2 numeric, dm money2, f4 real, f8 double precision,
			b boolean, d date, ts timestamp(6), tz timestamptz, j json, jb jsonb, bin bytea, t text, vc varchar(10),
			c char(3), u uuid, e mood, tm time, arr int[])`,
		`INSERT INTO v VALUES (1, -32768, 9223372036854775807, 10.5, 123456789012345678901234567890.123456789012, 7, 1.5, 0.1,
			true, '2026-03-01', '2026-03-01 09:00:00.123456', '2026-03-01 10:00:00.5+01', '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": 2}',
			'\x00ff10', 'héllo 🙂', '', 'ab', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'ok', '13:14:15', '{1,2}')`,
		`INSERT INTO v (id, t, vc) VALUES (2, NULL, '')`,
		`INSERT INTO v (id, f8, f4, n, b, tz, d) VALUES (3, -0.0, 1e-7, -0.00, false, '0044-03-15 12:00:00+00', 'infinity')`,
		`INSERT INTO v (id, f8, n2, tz) VALUES (4, 1e21, 'NaN', 'infinity')`,
	)
	cfg := db.Config()
	cfg.Table, cfg.Keys, cfg.Ordered = "v", []string{"id"}, true
	cols, rows := readAll(t, cfg)
	checkValues(t, byName(t, cols, rows, 0), map[string]string{
		"id": "1", "i2": "-32768", "i8": "9223372036854775807",
		"n": "10.50", "n2": "123456789012345678901234567890.123456789012", "dm": "7.00",
		"f4": "1.5", "f8": "0.1", "b": "true", "d": "2026-03-01",
		"ts": "2026-03-01T09:00:00.123456Z", "tz": "2026-03-01T09:00:00.5Z",
		"j": `{"b": 1, "a": [1, 2]}`, "jb": `{"a": 2, "b": 1}`,
		"bin": "00ff10", "t": "héllo 🙂", "vc": "", "c": "ab ",
		"u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "e": "ok", "tm": "13:14:15", "arr": "{1,2}",
	})
	// NULL is not the empty string.
	checkValues(t, byName(t, cols, rows, 1), map[string]string{"t": "NULL", "vc": "", "n": "NULL", "b": "NULL"})
	checkValues(t, byName(t, cols, rows, 2), map[string]string{
		"f8": "0", "f4": "0.0000001", "n": "0.00", "b": "false", "tz": "0044-03-15T12:00:00Z", "d": "infinity"})
	// Values the engine cannot parse stay as the server wrote them (the engine reports them).
	checkValues(t, byName(t, cols, rows, 3), map[string]string{"f8": "1000000000000000000000", "n2": "NaN", "tz": "infinity"})

	// A timestamp without time zone is a wall-clock time in Config.TimeZone.
	cfg.TimeZone = "Europe/Zurich"
	cols, rows = readAll(t, cfg)
	checkValues(t, byName(t, cols, rows, 0), map[string]string{"ts": "2026-03-01T08:00:00.123456Z", "tz": "2026-03-01T09:00:00.5Z"})

	got, err := sqlsource.Discover(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range got {
		types[c.Name] = string(c.Type) + " " + c.NativeType
	}
	checkValues(t, types, map[string]string{
		"id": "integer integer", "i8": "integer bigint", "n": "decimal numeric(12,2)", "n2": "decimal numeric",
		"dm": "decimal money2", "f4": "decimal real", "f8": "decimal double precision", "b": "boolean boolean",
		"d": "date date", "ts": "timestamp timestamp(6) without time zone", "tz": "timestamp timestamp with time zone",
		"j": "json json", "jb": "json jsonb", "bin": "string bytea", "t": "string text", "vc": "string character varying(10)",
		"c": "string character(3)", "u": "string uuid", "e": "string mood", "tm": "string time without time zone",
		"arr": "string integer[]",
	})
}

func TestMariaDBValues(t *testing.T) {
	t.Parallel()
	db := testdb.NewMariaDB(t)
	db.Exec(t, "CREATE TABLE v (id int, i2 smallint, i8 bigint, ub bigint unsigned, n decimal(12,2), n2 decimal(65,30),"+
		" f4 float, f8 double, b boolean, bit1 bit(1), bit8 bit(12), ti tinyint, d date, ts datetime(6), tz timestamp(6) NULL,"+
		" j json, jt longtext, bin varbinary(10), bl blob, t text, vc varchar(10), c char(3), e enum('sad','ok'), y year, tm time)",
		"INSERT INTO v VALUES (1, -32768, 9223372036854775807, 18446744073709551615, 10.5, 12345678901234567890.123456789012, 1.5, 0.1,"+
			" true, b'1', b'111111111111', -7, '2026-03-01', '2026-03-01 09:00:00.123456', '2026-03-01 09:00:00.5',"+
			` '{"b": 1, "a": [1, 2]}', '{"x": 1}', x'00ff10', x'', 'héllo 🙂', '', 'ab', 'ok', 2026, '13:14:15')`,
		"INSERT INTO v (id, t, vc, bin) VALUES (2, NULL, '', NULL)",
		"INSERT INTO v (id, f8, f4, n, b, bit1, d, ts) VALUES (3, -0.0, 1e-7, -0.00, false, b'0', '0000-00-00', '0000-00-00 00:00:00')",
		"INSERT INTO v (id, f8, b) VALUES (4, 1e21, 2)",
	)
	cfg := db.Config()
	cfg.Table, cfg.Keys, cfg.Ordered = "v", []string{"id"}, true
	cols, rows := readAll(t, cfg)
	checkValues(t, byName(t, cols, rows, 0), map[string]string{
		"id": "1", "i2": "-32768", "i8": "9223372036854775807", "ub": "18446744073709551615",
		"n": "10.50", "n2": "12345678901234567890.123456789012000000000000000000",
		"f4": "1.5", "f8": "0.1", "b": "true", "bit1": "true", "bit8": "4095", "ti": "-7",
		"d": "2026-03-01", "ts": "2026-03-01T09:00:00.123456Z", "tz": "2026-03-01T09:00:00.5Z",
		"j": `{"b": 1, "a": [1, 2]}`, "jt": `{"x": 1}`, "bin": "00ff10", "bl": "", "t": "héllo 🙂", "vc": "", "c": "ab",
		"e": "ok", "y": "2026", "tm": "13:14:15",
	})
	checkValues(t, byName(t, cols, rows, 1), map[string]string{"t": "NULL", "vc": "", "bin": "NULL", "n": "NULL"})
	checkValues(t, byName(t, cols, rows, 2), map[string]string{
		"f8": "0", "f4": "0.0000001", "n": "0.00", "b": "false", "bit1": "false", "d": "0000-00-00", "ts": "0000-00-00 00:00:00.000000"})
	// A TINYINT(1) that is not 0 or 1 stays a number (the engine says it is not a boolean).
	checkValues(t, byName(t, cols, rows, 3), map[string]string{"f8": "1000000000000000000000", "b": "2"})

	// DATETIME is a wall-clock time in Config.TimeZone; TIMESTAMP is an instant.
	cfg.TimeZone = "America/New_York"
	cols, rows = readAll(t, cfg)
	checkValues(t, byName(t, cols, rows, 0), map[string]string{"ts": "2026-03-01T14:00:00.123456Z", "tz": "2026-03-01T09:00:00.5Z"})

	// TinyIntAsInteger reads TINYINT(1) as the number it holds.
	cfg.TinyIntAsInteger = true
	cols, rows = readAll(t, cfg)
	checkValues(t, byName(t, cols, rows, 0), map[string]string{"b": "1"})
	cfg.TinyIntAsInteger = false

	got, err := sqlsource.Discover(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range got {
		types[c.Name] = string(c.Type) + " " + c.NativeType
	}
	checkValues(t, types, map[string]string{
		"id": "integer int(11)", "ub": "integer bigint(20) unsigned", "n": "decimal decimal(12,2)", "n2": "decimal decimal(65,30)",
		"f4": "decimal float", "f8": "decimal double", "b": "boolean tinyint(1)", "bit1": "boolean bit(1)", "bit8": "integer bit(12)",
		"ti": "integer tinyint(4)", "d": "date date", "ts": "timestamp datetime(6)", "tz": "timestamp timestamp(6)",
		"j": "json json", "jt": "string longtext", "bin": "string varbinary(10)", "bl": "string blob", "t": "string text",
		"vc": "string varchar(10)", "c": "string char(3)", "e": "string enum('sad','ok')", "y": "integer year(4)",
		"tm": "string time",
	})
}

// sameTable creates the same logical table in PostgreSQL and MariaDB.
func sameTables(t *testing.T) (pg, my *testdb.Database) {
	pg, my = testdb.NewPostgres(t), testdb.NewMariaDB(t)
	rows := []string{
		`(1, 12.3, 42, '2026-03-01 09:00:00.25+00', '2026-03-01 09:00:00.25', '2026-03-01', true, 0.5, 'zürich 東京', 'ab', '{"a": 1}')`,
		`(2, -0.5, -1, '1999-12-31 23:59:59+00', '1999-12-31 23:59:59', '1999-12-31', false, -2.25, '', '', '[]')`,
		`(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`(4, 100, 9007199254740993, '2026-07-01 00:00:00.000001+00', '2026-07-01 00:00:00.000001', '2026-07-01', true, 1e-3, ' x ', 'ff', 'null')`,
	}
	pg.Exec(t, `CREATE TABLE s (id int, amount numeric(12,2), n bigint, at timestamptz, local timestamp, d date, ok boolean,
		f double precision, t text, raw bytea, j jsonb)`,
		`INSERT INTO s VALUES `+strings.NewReplacer("'ab'", `'\xab'`, "'ff'", `'\xff'`).Replace(strings.Join(rows, ", ")))
	my.Exec(t, "CREATE TABLE s (id int, amount decimal(12,2), n bigint, at timestamp(6) NULL, local datetime(6), d date, ok boolean,"+
		" f double, t text, raw varbinary(4), j json)",
		"INSERT INTO s VALUES "+strings.NewReplacer("+00'", "'", "'ab'", "x'ab'", "'ff'", "x'ff'").Replace(strings.Join(rows, ", ")))
	return pg, my
}

// The same logical values read from PostgreSQL and MariaDB give the same texts.
func TestSameValuesAcrossDatabases(t *testing.T) {
	t.Parallel()
	pg, my := sameTables(t)
	for _, tz := range []string{"", "Asia/Kolkata"} {
		read := func(db *testdb.Database) ([]string, [][]string) {
			cfg := db.Config()
			cfg.Table, cfg.Keys, cfg.Ordered, cfg.TimeZone = "s", []string{"id"}, true, tz
			return readAll(t, cfg)
		}
		pc, pr := read(pg)
		mc, mr := read(my)
		if !reflect.DeepEqual(pc, mc) {
			t.Fatalf("columns %v vs %v", pc, mc)
		}
		for i := range pr {
			for j := range pc {
				if pc[j] == "j" {
					continue // JSON text is each server's own (the engine canonicalizes it)
				}
				if pr[i][j] != mr[i][j] {
					t.Errorf("tz %q row %d column %s: postgres %q, mariadb %q", tz, i+1, pc[j], pr[i][j], mr[i][j])
				}
			}
		}
		if tz == "" && pr[0][3] != "2026-03-01T09:00:00.25Z" {
			t.Errorf("timestamp %q", pr[0][3])
		}
		if tz != "" && pr[0][4] != "2026-03-01T03:30:00.25Z" {
			t.Errorf("local timestamp in %s: %q", tz, pr[0][4])
		}
	}
	// And the engine finds them equal, JSON included, under the discovered types.
	ctx := testCtx(t)
	open := func(db *testdb.Database) (*sqlsource.Reader, []sqlsource.Column) {
		cfg := db.Config()
		cfg.Table, cfg.Keys = "s", []string{"id"}
		rd, err := sqlsource.OpenReader(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rd.Close() })
		return rd, rd.Schema()
	}
	sr, schema := open(pg)
	tr, tschema := open(my)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}}}
	for i, c := range schema {
		if c.Name == "id" {
			continue
		}
		if tschema[i].Type != c.Type {
			t.Errorf("column %s: %s (%s) vs %s (%s)", c.Name, c.Type, c.NativeType, tschema[i].Type, tschema[i].NativeType)
		}
		spec.Compare = append(spec.Compare, diff.Column{Name: c.Name, Type: c.Type})
	}
	sink := &diff.Collect{}
	sum, err := diff.Run(ctx, spec, sr, tr, sink)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Matched != 4 || len(sink.Discrepancies) != 0 {
		t.Errorf("summary %+v, discrepancies %v", sum, sink.Discrepancies)
	}
}

// Discovery: exact decimals of any precision are decimals, timestamps with and
// without zone are timestamps; a query's columns come from its result.
func TestDiscover(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	pg.Exec(t, `CREATE SCHEMA ledger`, `CREATE TABLE ledger."Entries" (id bigint NOT NULL, amount NUMERIC(12,2), at timestamptz, note text)`)
	my.Exec(t, "CREATE TABLE Entries (id bigint NOT NULL, amount DECIMAL(14,4), at DATETIME, note varchar(20))")
	ctx := testCtx(t)
	for _, c := range []struct {
		db    *testdb.Database
		table string
		want  []sqlsource.Column
	}{
		{pg, `ledger."Entries"`, []sqlsource.Column{
			{Name: "id", Type: "integer", NativeType: "bigint"},
			{Name: "amount", Type: "decimal", NativeType: "numeric(12,2)", Nullable: true},
			{Name: "at", Type: "timestamp", NativeType: "timestamp with time zone", Nullable: true},
			{Name: "note", Type: "string", NativeType: "text", Nullable: true}}},
		{my, "Entries", []sqlsource.Column{
			{Name: "id", Type: "integer", NativeType: "bigint(20)"},
			{Name: "amount", Type: "decimal", NativeType: "decimal(14,4)", Nullable: true},
			{Name: "at", Type: "timestamp", NativeType: "datetime", Nullable: true},
			{Name: "note", Type: "string", NativeType: "varchar(20)", Nullable: true}}},
	} {
		cfg := c.db.Config()
		cfg.Table = c.table
		got, err := sqlsource.Discover(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v\nwant %+v", c.table, got, c.want)
		}
		// A subset, in the order asked.
		cfg.Columns = []string{"note", "id"}
		got, err = sqlsource.Discover(ctx, cfg)
		if err != nil || len(got) != 2 || got[0].Name != "note" || got[1].Name != "id" {
			t.Errorf("%s columns note,id: %+v %v", c.table, got, err)
		}
		cfg.Columns = []string{"nope"}
		if _, err := sqlsource.Discover(ctx, cfg); err == nil || !strings.Contains(err.Error(), `"nope" is not a column`) {
			t.Errorf("unknown column: %v", err)
		}
		// A query: types from the result set.
		cfg.Columns, cfg.Table = nil, ""
		cfg.Query = "SELECT id, amount * 2 AS twice, at, CAST(note AS CHAR(5)) AS short FROM " + c.table + ";"
		if c.db == pg {
			cfg.Query = strings.Replace(cfg.Query, "CHAR(5)", "varchar(5)", 1)
		}
		got, err = sqlsource.Discover(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, g := range got {
			types = append(types, g.Name+":"+string(g.Type))
		}
		if strings.Join(types, " ") != "id:integer twice:decimal at:timestamp short:string" {
			t.Errorf("query columns %v (%+v)", types, got)
		}
	}
	// A missing table names the table and the server, not the password.
	cfg := pg.Config()
	cfg.Table = "ledger.nope"
	_, err := sqlsource.Discover(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "postgres table ledger.nope on 127.0.0.1:") || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("missing table: %v", err)
	}
	cfg = my.Config()
	cfg.Table = "nope"
	_, err = sqlsource.Discover(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "mysql table nope on 127.0.0.1:") || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("missing table: %v", err)
	}
}
