package sqlsource_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// sqlString quotes s as a standard SQL literal (MariaDB needs backslashes doubled).
func sqlString(s string, mysql bool) string {
	s = strings.ReplaceAll(s, "'", "''")
	if mysql {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return "'" + s + "'"
}

func both(t *testing.T) []*testdb.Database {
	return []*testdb.Database{testdb.NewPostgres(t), testdb.NewMariaDB(t)}
}

func isMySQL(db *testdb.Database) bool { return db.Server.Kind == testdb.MariaDB }

// column returns the values of one column of rows.
func column(rows [][]string, i int) []string {
	out := make([]string, len(rows))
	for j, r := range rows {
		out[j] = r[i]
	}
	return out
}

var unicodeKeys = []string{"a", "B", "é", "z", "東", "🙂", "Z", "a ", "a\t", "e\u0301", "ß", "ab", "A", "ä", "Ω", "\u00a0x", "~", "ﬀ"}

// Ordered scans sort strings in byte order in both databases (whose default
// collations are linguistic), and the engine's merge accepts them.
func TestOrderedUnicodeKeys(t *testing.T) {
	t.Parallel()
	dbs := both(t)
	want := slices.Clone(unicodeKeys)
	slices.Sort(want) // byte order of UTF-8 = code point order
	for _, db := range dbs {
		var values []string
		for i, k := range unicodeKeys {
			values = append(values, fmt.Sprintf("(%s, %d)", sqlString(k, isMySQL(db)), i))
		}
		values = append(values, "(NULL, 100)", "('', 101)")
		db.Exec(t, "CREATE TABLE k (k varchar(20), v int)", "INSERT INTO k VALUES "+strings.Join(values, ", "))
		cfg := db.Config()
		cfg.Table, cfg.Keys, cfg.Ordered = "k", []string{"k"}, true
		_, rows := readAll(t, cfg)
		var got []string
		for _, k := range column(rows, 0) {
			if k != "NULL" && k != "" {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: ordered\n%q\nwant\n%q", db.Server.Kind, got, want)
		}
		// The database's own ORDER BY would not do: the test is not vacuous.
		cfg.Table, cfg.Ordered, cfg.Query = "", false, "SELECT k FROM k WHERE k <> '' ORDER BY k"
		_, rows = readAll(t, cfg)
		if native := column(rows, 0); slices.Equal(slices.DeleteFunc(native, func(s string) bool { return s == "NULL" }), want) {
			t.Errorf("%s: the default collation sorts in byte order too", db.Server.Kind)
		}
	}
	// Merge across databases: every key matched, no order error.
	ctx := testCtx(t)
	open := func(db *testdb.Database) diff.Reader {
		cfg := db.Config()
		cfg.Table, cfg.Keys, cfg.Ordered = "k", []string{"k"}, true
		rd, err := sqlsource.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rd.Close() })
		return rd
	}
	spec := diff.Spec{Keys: []diff.Column{{Name: "k"}}, Compare: []diff.Column{{Name: "v", Type: diff.TypeInteger}}}
	for _, pair := range [][2]*testdb.Database{{dbs[0], dbs[1]}, {dbs[1], dbs[0]}} {
		sink := &diff.Collect{}
		sum, err := diff.Run(ctx, spec, open(pair[0]), open(pair[1]), sink)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Strategy != diff.StrategyMerge || sum.Matched != int64(len(unicodeKeys)) || sum.InvalidRows != 4 || sum.Discrepancies() != 4 {
			t.Errorf("summary %+v %v", sum, sink.Discrepancies)
		}
	}
}

// Integer keys sort by value, or by their text when the spec declares them strings;
// composite keys sort by the tuple.
func TestOrderedTypedKeys(t *testing.T) {
	t.Parallel()
	dbs := both(t)
	for _, db := range dbs {
		db.Exec(t, "CREATE TABLE n (id int, region varchar(10), at timestamp NULL, d date, amount decimal(10,2))",
			"INSERT INTO n VALUES (10, 'b', NULL, '2026-01-10', 1.5), (9, 'a', NULL, '2026-01-09', -2), (-5, 'a', NULL, '2025-12-31', 10),"+
				" (100, 'B', NULL, '2026-04-10', 0.25), (2, 'é', NULL, '2026-01-02', 3), (1, 'a', NULL, '2026-01-01', 2.5)")
	}
	ctx := testCtx(t)
	cases := []struct {
		keys  []string
		types []diff.Type
		want  []string // the key tuples, joined by '/'
	}{
		{[]string{"id"}, nil, []string{"-5", "1", "2", "9", "10", "100"}},
		{[]string{"id"}, []diff.Type{diff.TypeInteger}, []string{"-5", "1", "2", "9", "10", "100"}},
		{[]string{"id"}, []diff.Type{diff.TypeString}, []string{"-5", "1", "10", "100", "2", "9"}},
		{[]string{"region", "id"}, []diff.Type{"", diff.TypeInteger}, []string{"B/100", "a/-5", "a/1", "a/9", "b/10", "é/2"}},
		{[]string{"region", "id"}, []diff.Type{"", diff.TypeString}, []string{"B/100", "a/-5", "a/1", "a/9", "b/10", "é/2"}},
		{[]string{"d"}, nil, []string{"2025-12-31", "2026-01-01", "2026-01-02", "2026-01-09", "2026-01-10", "2026-04-10"}},
		{[]string{"d"}, []diff.Type{diff.TypeString}, []string{"2025-12-31", "2026-01-01", "2026-01-02", "2026-01-09", "2026-01-10", "2026-04-10"}},
		{[]string{"amount"}, nil, []string{"-2.00", "0.25", "1.50", "2.50", "3.00", "10.00"}},
		{[]string{"amount"}, []diff.Type{diff.TypeString}, []string{"-2.00", "0.25", "1.50", "10.00", "2.50", "3.00"}},
	}
	for _, c := range cases {
		var readers []diff.Reader
		for _, db := range dbs {
			cfg := db.Config()
			cfg.Table, cfg.Keys, cfg.KeyTypes, cfg.Ordered = "n", c.keys, c.types, true
			cfg.Columns = c.keys
			_, rows := readAll(t, cfg)
			var got []string
			for _, r := range rows {
				got = append(got, strings.Join(r, "/"))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s keys %v types %v: %q, want %q", db.Server.Kind, c.keys, c.types, got, c.want)
			}
			cfg.Columns = nil
			rd, err := sqlsource.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rd.Close() })
			readers = append(readers, rd)
		}
		// The engine agrees (it verifies the order in a merge).
		spec := diff.Spec{Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}}}
		if c.keys[0] == "amount" {
			spec.Compare = []diff.Column{{Name: "id", Type: diff.TypeInteger}}
		}
		for i, k := range c.keys {
			col := diff.Column{Name: k}
			if c.types != nil {
				col.Type = c.types[i]
			}
			if col.Type == "" && k != "region" {
				col.Type = map[string]diff.Type{"id": diff.TypeInteger, "d": diff.TypeDate, "amount": diff.TypeDecimal}[k]
			}
			spec.Keys = append(spec.Keys, col)
		}
		sum, err := diff.Run(ctx, spec, readers[0], readers[1], &diff.Collect{})
		if err != nil || sum.Strategy != diff.StrategyMerge || sum.Matched != 6 {
			t.Errorf("keys %v types %v: %+v %v", c.keys, c.types, sum, err)
		}
	}
	// Orders the database cannot produce are refused, naming the way out.
	for _, db := range dbs {
		for _, c := range []struct {
			key string
			typ diff.Type
		}{{"at", diff.TypeString}, {"region", diff.TypeInteger}, {"id", diff.TypeDate}, {"region", diff.TypeJSON}} {
			cfg := db.Config()
			cfg.Table, cfg.Keys, cfg.KeyTypes, cfg.Ordered = "n", []string{c.key}, []diff.Type{c.typ}, true
			_, err := sqlsource.Open(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), "cannot be ordered") {
				t.Errorf("%s key %s as %s: %v", db.Server.Kind, c.key, c.typ, err)
			}
		}
	}
}

// Filter and Query select rows; a filter cannot run a second statement; PostgreSQL
// sessions are read-only.
func TestFilterAndQuery(t *testing.T) {
	t.Parallel()
	for _, db := range both(t) {
		db.Exec(t, "CREATE TABLE t (id int, amount decimal(10,2), status varchar(10))",
			"INSERT INTO t VALUES (1, 5, 'booked'), (2, 50, 'booked'), (3, 500, 'pending'), (4, NULL, 'booked'), (5, 20, NULL)")
		kind := db.Server.Kind
		cfg := db.Config()
		cfg.Table, cfg.Keys, cfg.Ordered = "t", []string{"id"}, true
		cfg.Filter = "status = 'booked' AND amount > 10"
		_, rows := readAll(t, cfg)
		if got := column(rows, 0); !slices.Equal(got, []string{"2"}) {
			t.Errorf("%s filter: %v", kind, got)
		}
		// A query, filtered on its own columns, some columns only; the key is added.
		cfg.Table, cfg.Filter = "", "twice > 15"
		cfg.Query = "SELECT id, amount * 2 AS twice, status FROM t WHERE status IS NOT NULL;"
		cfg.Columns = []string{"twice"}
		cols, rows := readAll(t, cfg)
		if !slices.Equal(cols, []string{"twice", "id"}) {
			t.Errorf("%s query columns %v", kind, cols)
		}
		if got := column(rows, 1); !slices.Equal(got, []string{"2", "3"}) {
			t.Errorf("%s query rows %v", kind, rows)
		}
		if got := column(rows, 0); !slices.Equal(got, []string{"100.00", "1000.00"}) {
			t.Errorf("%s query values %v", kind, got)
		}
		// One statement only.
		cfg = db.Config()
		cfg.Table, cfg.Filter = "t", "1=1; DROP TABLE t"
		if rd, err := sqlsource.Open(testCtx(t), cfg); err == nil {
			_ = rd.Close()
			t.Errorf("%s: a filter ran a second statement", kind)
		}
		cfg.Filter = ""
		if _, rows := readAll(t, cfg); len(rows) != 5 {
			t.Errorf("%s: %d rows left", kind, len(rows))
		}
	}
	pg := testdb.NewPostgres(t)
	pg.Exec(t, "CREATE SEQUENCE s")
	cfg := pg.Config()
	cfg.Query = "SELECT nextval('s') AS n"
	rd, err := sqlsource.Open(testCtx(t), cfg)
	if err == nil {
		_, err = rd.Next()
		_ = rd.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a writing query: %v", err)
	}
}
