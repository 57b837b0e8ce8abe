package sqlsource_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// bigReadStarted fills a table of 300,000 rows and returns an ordered reader of it that
// has returned 10 rows: its scan is under way.
func bigReadStarted(ctx context.Context, t *testing.T, db *testdb.Database) diff.Reader {
	t.Helper()
	series := "SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g"
	if isMySQL(db) {
		series = "SELECT seq, REPEAT('x', 200) FROM seq_1_to_300000"
	}
	db.Exec(t, "CREATE TABLE big (id int, pad varchar(200))", "INSERT INTO big "+series)
	cfg := db.Config()
	cfg.Table, cfg.Keys, cfg.Ordered = "big", []string{"id"}, true
	rd, err := sqlsource.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}
	return rd
}

// killBigRead runs KILL <what> (CONNECTION or QUERY) on the MariaDB session reading
// "big" in c's database (only there: other tests read a "big" on the same server).
func killBigRead(ctx context.Context, t *testing.T, c sqlsource.Config, what string) {
	t.Helper()
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = c.User, c.Password, "tcp", fmt.Sprintf("%s:%d", c.Host, c.Port)
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	sdb := sql.OpenDB(conn)
	defer func() { _ = sdb.Close() }()
	var id int64
	if err := sdb.QueryRowContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT `id`, `pad` FROM `big`%'", c.Database).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := sdb.ExecContext(ctx, fmt.Sprintf("KILL %s %d", what, id)); err != nil {
		t.Fatal(err)
	}
}

// The server ending the session mid-scan must be an error, never a clean io.EOF.
func TestServerGoneMidRead(t *testing.T) {
	t.Parallel()
	for _, db := range both(t) {
		kind := db.Server.Kind
		ctx := testCtx(t)
		rd := bigReadStarted(ctx, t, db)
		// Kill the reading session from outside (in this test's database only: other
		// tests read a table "big" on the same server at the same time).
		c := db.Config()
		if isMySQL(db) {
			killBigRead(ctx, t, c, "CONNECTION")
		} else {
			conn, err := pgx.Connect(ctx, db.URI())
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT "id", "pad" FROM "big"%' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&n); err != nil || n != 1 {
				t.Fatal(n, err)
			}
			_ = conn.Close(ctx)
		}
		rows := 10
		var err error
		for {
			_, err = rd.Next()
			if err != nil {
				break
			}
			rows++
		}
		_ = rd.Close()
		t.Logf("%s: %d rows then %v", kind, rows, err)
		if errors.Is(err, io.EOF) && rows < 300000 {
			t.Errorf("%s: session killed: %d rows then a clean EOF", kind, rows)
		}
	}
}

// Keys declared as strings: the database order must be the byte order of the rendered text.
func TestStringKeyOrderOfRenderedTypes(t *testing.T) {
	t.Parallel()
	my := testdb.NewMariaDB(t)
	my.Exec(t, "CREATE TABLE b (k bit(8), v int)", "INSERT INTO b VALUES (b'1001', 1), (b'1010', 2), (b'101', 3)")
	ctx := testCtx(t)
	for _, tc := range []struct{ table string }{{"b"}} {
		cfg := my.Config()
		cfg.Table, cfg.Keys, cfg.Ordered, cfg.KeyTypes = tc.table, []string{"k"}, true, []diff.Type{diff.TypeString}
		rd, err := sqlsource.Open(ctx, cfg)
		if err != nil {
			t.Logf("%s: refused: %v", tc.table, err)
			continue
		}
		var prev string
		for {
			cells, err := rd.Next()
			if err != nil {
				break
			}
			k := strings.Clone(cells[0].Text)
			if prev != "" && k < prev {
				t.Errorf("%s: key %q after %q: not byte order", tc.table, k, prev)
			}
			prev = k
		}
		_ = rd.Close()
	}
}

// A wall-clock timestamp key in a zone with DST: the rendered UTC keys must be ascending.
func TestWallClockGapOrder(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t, "CREATE TABLE w (k timestamp, v int)",
		"INSERT INTO w VALUES ('2026-03-08 02:30:00', 1), ('2026-03-08 03:15:00', 2)")
	cfg := pg.Config()
	cfg.Table, cfg.Keys, cfg.Ordered, cfg.TimeZone = "w", []string{"k"}, true, "America/New_York"
	_, rows := readAll(t, cfg)
	t.Logf("%q", rows)
	if rows[0][0] > rows[1][0] {
		t.Errorf("ordered reader returns %q before %q", rows[0][0], rows[1][0])
	}
	_ = time.UTC
	_ = context.Background
}

// KILL QUERY (not the connection) mid-scan must be an error too.
func TestKillQueryMidRead(t *testing.T) {
	t.Parallel()
	db := testdb.NewMariaDB(t)
	ctx := testCtx(t)
	rd := bigReadStarted(ctx, t, db)
	killBigRead(ctx, t, db.Config(), "QUERY")
	rows := 10
	var err error
	for {
		_, err = rd.Next()
		if err != nil {
			break
		}
		rows++
	}
	_ = rd.Close()
	t.Logf("%d rows then %v", rows, err)
	if errors.Is(err, io.EOF) && rows < 300000 {
		t.Errorf("query killed: %d rows then a clean EOF", rows)
	}
}
