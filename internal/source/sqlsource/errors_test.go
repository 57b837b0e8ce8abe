package sqlsource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// A wrong password is an error naming the dataset and the server, never the password;
// so is every other connection error.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	const secret = "S3cr3t-Wr0ng-pa55w0rd"
	ctx := testCtx(t)
	for _, db := range both(t) {
		kind := db.Server.Kind
		check := func(what string, cfg sqlsource.Config, secrets ...string) {
			t.Helper()
			_, err := sqlsource.Open(ctx, cfg)
			if err == nil {
				t.Fatalf("%s %s: no error", kind, what)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v", err), s) {
					t.Errorf("%s %s: the error shows the password: %v", kind, what, err)
				}
			}
			if !strings.Contains(err.Error(), "table t on ") {
				t.Errorf("%s %s: the error does not name the table and server: %v", kind, what, err)
			}
			for _, f := range []func(context.Context, sqlsource.Config) error{
				func(ctx context.Context, c sqlsource.Config) error { _, err := sqlsource.Discover(ctx, c); return err },
				func(ctx context.Context, c sqlsource.Config) error {
					_, err := sqlsource.EstimateRows(ctx, c)
					return err
				},
			} {
				if err := f(ctx, cfg); err == nil || strings.Contains(err.Error(), secrets[0]) {
					t.Errorf("%s %s: %v", kind, what, err)
				}
			}
			t.Logf("%s %s: %v", kind, what, err)
		}
		cfg := db.Config()
		cfg.Table, cfg.Password = "t", secret
		check("fields", cfg, secret)
		// In a URI (the URI's password is used when the field is empty).
		u := strings.Replace(db.URI(), db.Server.Password, secret, 1)
		check("uri", sqlsource.Config{URI: u, Table: "t"}, secret)
		// A user whose name is the password: the server's message names the user.
		cfg = db.Config()
		cfg.Table, cfg.User, cfg.Password = "t", secret, secret
		check("user=password", cfg, secret)
		// A URI that does not parse.
		check2 := func(uri string) {
			_, err := sqlsource.Open(ctx, sqlsource.Config{URI: uri, Table: "t"})
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("URI %s: %v", strings.ReplaceAll(uri, secret, "***"), err)
			}
		}
		scheme := strings.SplitN(db.URI(), ":", 2)[0]
		check2(scheme + "://u:" + secret + "@host:99999999/db")
		check2(scheme + "://u:" + secret + "@ho st/db")
		check2(scheme + "://u:" + secret + "@host/db?sslmode=bogus")
		check2("oracle://u:" + secret + "@host/db")
		// A good connection: positions carry no credentials either.
		db.Exec(t, "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)")
		cfg = sqlsource.Config{URI: db.URI(), Table: "t"}
		rd, err := sqlsource.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
		if p := rd.Position(); strings.Contains(p, db.Server.Password) || p != string(map[testdb.Kind]string{testdb.Postgres: "postgres", testdb.MariaDB: "mysql"}[kind])+" table t row 1" {
			t.Errorf("position %q", p)
		}
		_ = rd.Close()
	}
}

// Cancelling the context stops a long scan soon, on the client and on the server.
func TestCancel(t *testing.T) {
	t.Parallel()
	for _, db := range both(t) {
		kind := db.Server.Kind
		if isMySQL(db) {
			db.Exec(t, "CREATE TABLE big (id int, pad varchar(100))",
				"INSERT INTO big SELECT seq, REPEAT('x', 100) FROM seq_1_to_300000")
		} else {
			db.Exec(t, "CREATE TABLE big (id int, pad varchar(100))",
				"INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 300000) g")
		}
		// A streaming scan, cancelled after some rows.
		ctx, cancel := context.WithCancel(context.Background())
		cfg := db.Config()
		cfg.Table, cfg.Keys, cfg.Ordered = "big", []string{"id"}, true
		rd, err := sqlsource.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			if _, err := rd.Next(); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		start := time.Now()
		n := 0
		for {
			_, err = rd.Next()
			if err != nil {
				break
			}
			n++
		}
		if !errors.Is(err, context.Canceled) || n > 1000 || time.Since(start) > 5*time.Second {
			t.Errorf("%s: after cancel: %d more rows, then %v after %v", kind, n, err, time.Since(start))
		}
		if _, err2 := rd.Next(); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%s: the error is not sticky: %v", kind, err2)
		}
		if err := rd.Close(); err != nil {
			t.Errorf("%s: close: %v", kind, err)
		}

		// Close before the end returns at once, without reading the rest.
		rd, err = sqlsource.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if err := rd.Close(); err != nil || time.Since(start) > 3*time.Second {
			t.Errorf("%s: early close: %v after %v", kind, err, time.Since(start))
		}

		// A statement that blocks (a sleep standing in for a long sort): the deadline
		// stops it, and the server stops it too.
		sleep := "SELECT pg_sleep(30) AS s"
		if isMySQL(db) {
			sleep = "SELECT SLEEP(30) AS s"
		}
		ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
		cfg = db.Config()
		cfg.Query = sleep
		start = time.Now()
		rd, err = sqlsource.Open(ctx, cfg)
		if err == nil {
			_, err = rd.Next()
			_ = rd.Close()
		}
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Errorf("%s: blocking query: %v after %v", kind, err, time.Since(start))
		}
		activity := "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"
		if isMySQL(db) {
			activity = "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND INFO LIKE '%SLEEP(30)%' AND ID <> CONNECTION_ID()"
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := db.Config()
			c.Query = activity
			_, rows := readAll(t, c)
			if rows[0][0] == "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: the sleeping statement still runs on the server", kind)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func TestEstimateRows(t *testing.T) {
	t.Parallel()
	for _, db := range both(t) {
		kind := db.Server.Kind
		if isMySQL(db) {
			db.Exec(t, "CREATE TABLE e (id int PRIMARY KEY, v int)",
				"INSERT INTO e SELECT seq, seq % 10 FROM seq_1_to_20000",
				"ANALYZE TABLE e", "CREATE VIEW ev AS SELECT * FROM e")
		} else {
			db.Exec(t, "CREATE TABLE e (id int PRIMARY KEY, v int)",
				"INSERT INTO e SELECT g, g % 10 FROM generate_series(1, 20000) g", "ANALYZE e", "CREATE VIEW ev AS SELECT * FROM e")
		}
		ctx := testCtx(t)
		for _, c := range []struct {
			table, query, filter string
			lo, hi               int64
		}{
			{"e", "", "", 10000, 40000},
			{"ev", "", "", 1, 40000},
			{"e", "", "id <= 100", 1, 5000},
			{"", "SELECT id FROM e WHERE v = 3", "", 1, 20000},
		} {
			cfg := db.Config()
			cfg.Table, cfg.Query, cfg.Filter = c.table, c.query, c.filter
			n, err := sqlsource.EstimateRows(ctx, cfg)
			if err != nil {
				t.Fatalf("%s %+v: %v", kind, c, err)
			}
			if n < c.lo || n > c.hi {
				t.Errorf("%s %+v: estimate %d", kind, c, n)
			}
		}
		cfg := db.Config()
		cfg.Table = "nope"
		if _, err := sqlsource.EstimateRows(ctx, cfg); err == nil {
			t.Errorf("%s: estimate of a missing table", kind)
		}
	}
}

// LoadTable refuses a value its column's type cannot store, unless TextFallback;
// special characters survive loading.
func TestLoadTable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "in.csv")
	content := "id,amount,at,note\n" +
		"1,10.50,2026-03-01T10:00:00+01:00,\"tab\there, \"\"quote\"\", back\\slash\nnew line\"\n" +
		"2,007.5,2026-03-01 09:00:00.123456,\n" +
		"3,12.5x,2026-03-01T09:00:00Z,\"\"\n"
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() (diff.Reader, error) { return source.Open(context.Background(), file, source.Options{}) }
	cols := []sqlsource.LoadColumn{{Name: "id", Type: diff.TypeInteger}, {Name: "amount", Type: diff.TypeDecimal},
		{Name: "at", Type: diff.TypeTimestamp}, {Name: "note"}}
	ctx := testCtx(t)
	for _, db := range both(t) {
		kind := db.Server.Kind
		cfg := db.Config()
		cfg.Table = "l"
		_, err := sqlsource.LoadTable(ctx, cfg, open, sqlsource.LoadOptions{Columns: cols, Index: []string{"id"}})
		if err == nil || !strings.Contains(err.Error(), `column "amount" at in.csv line 4: "12,5x"`) && !strings.Contains(err.Error(), `"12.5x" is not a valid decimal`) {
			t.Errorf("%s: unparsable value: %v", kind, err)
		}
		res, err := sqlsource.LoadTable(ctx, cfg, open, sqlsource.LoadOptions{Columns: cols, Index: []string{"id"}, TextFallback: true, Replace: true})
		if err != nil {
			t.Fatal(err)
		}
		types := ""
		for _, c := range res.Columns {
			types += c.Name + ":" + string(c.Type) + " "
		}
		if res.Rows != 3 || types != "id:integer amount:string at:timestamp note:string " {
			t.Errorf("%s: loaded %d rows, columns %s", kind, res.Rows, types)
		}
		cfg.Keys, cfg.Ordered = []string{"id"}, true
		_, rows := readAll(t, cfg)
		want := [][]string{
			{"1", "10.50", "2026-03-01T09:00:00Z", "tab\there, \"quote\", back\\slash\nnew line"},
			{"2", "007.5", "2026-03-01T09:00:00.123456Z", "NULL"},
			{"3", "12.5x", "2026-03-01T09:00:00Z", ""},
		}
		if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Errorf("%s: read back %q\nwant %q", kind, rows, want)
		}
		// Replace: a second load replaces the table.
		if _, err := sqlsource.LoadTable(ctx, cfg, open, sqlsource.LoadOptions{Replace: true}); err != nil {
			t.Fatal(err)
		}
		if _, rows := readAll(t, cfg); len(rows) != 3 {
			t.Errorf("%s: %d rows after replace", kind, len(rows))
		}
	}
}

// Next returns io.EOF at the end and keeps returning it; cells are aligned with
// Columns.
func TestReaderContract(t *testing.T) {
	t.Parallel()
	for _, db := range both(t) {
		db.Exec(t, "CREATE TABLE c (a int, b varchar(5))", "INSERT INTO c VALUES (1, 'x')")
		cfg := db.Config()
		cfg.Table = "c"
		rd, err := sqlsource.Open(testCtx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rd.(diff.OrderedReader); ok {
			t.Errorf("an unordered reader promises an order")
		}
		if rd.Position() != map[testdb.Kind]string{testdb.Postgres: "postgres", testdb.MariaDB: "mysql"}[db.Server.Kind]+" table c" {
			t.Errorf("position before the first row: %q", rd.Position())
		}
		cells, err := rd.Next()
		if err != nil || len(cells) != 2 || cells[0].Text != "1" || cells[1].Text != "x" {
			t.Fatalf("%v %v", cells, err)
		}
		for range 2 {
			if _, err := rd.Next(); err != io.EOF {
				t.Errorf("want io.EOF, got %v", err)
			}
		}
		if err := rd.Close(); err != nil {
			t.Error(err)
		}
		if err := rd.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
		cfg.Keys, cfg.Ordered = []string{"b"}, true
		cfg.Name = "ledger"
		rd, err = sqlsource.Open(testCtx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		o, ok := rd.(diff.OrderedReader)
		if !ok || fmt.Sprint(o.OrderedBy()) != "[b]" {
			t.Errorf("ordered reader: %T", rd)
		}
		if _, err := rd.Next(); err != nil || rd.Position() != "ledger row 1" {
			t.Errorf("position %q (%v)", rd.Position(), err)
		}
		_ = rd.Close()
	}
}

// The test servers accept TLS with a certificate of their own private CA: disable,
// prefer and require connect; verify-ca and verify-full refuse the certificate under
// the system's CAs (TestPrivateCA gives them the CA), from a Config or a URI alike.
func TestTLSModes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	for _, db := range both(t) {
		db.Exec(t, "CREATE TABLE t (id int)")
		for _, mode := range []sqlsource.TLSMode{sqlsource.TLSDisable, sqlsource.TLSPrefer, sqlsource.TLSRequire, sqlsource.TLSVerifyCA, sqlsource.TLSVerifyFull} {
			cfg := db.Config()
			cfg.Table, cfg.TLS = "t", mode
			_, err := sqlsource.Discover(ctx, cfg)
			verified := mode == sqlsource.TLSVerifyCA || mode == sqlsource.TLSVerifyFull
			if !verified && err != nil || verified && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Errorf("%s TLS %s: %v", db.Server.Kind, mode, err)
			}
		}
		u := strings.Replace(db.URI(), "disable", "verify-full", 1)
		if _, err := sqlsource.Discover(ctx, sqlsource.Config{URI: u, Table: "t"}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: URI with verify-full and an unknown CA: %v", db.Server.Kind, err)
		}
	}
}
