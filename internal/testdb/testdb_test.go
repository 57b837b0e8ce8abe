package testdb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestServers(t *testing.T) {
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			srv := testdb.Get(t, kind)
			if srv.Port == 0 || srv.Version == "" {
				t.Fatalf("server %+v", srv)
			}
			if _, err := os.Stat(srv.Socket); err != nil {
				t.Fatalf("socket: %v", err)
			}
			if !strings.HasPrefix(srv.Dir, filepath.Join(os.TempDir(), "clearhouse-testdb")) && !strings.HasPrefix(srv.Dir, "/tmp/clearhouse-testdb") {
				t.Errorf("dir %s", srv.Dir)
			}
			a, b := srv.NewDatabase(t), srv.NewDatabase(t)
			if a.Name == b.Name {
				t.Fatalf("same database name %s", a.Name)
			}
			a.Exec(t, "CREATE TABLE x (id integer, name varchar(10))", "INSERT INTO x VALUES (1, 'é')")
			cfg := a.Config()
			cfg.Table = "x"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cols, err := sqlsource.Discover(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(cols) != 2 || cols[0].Name != "id" || cols[0].Type != "integer" || cols[1].Type != "string" {
				t.Fatalf("columns %+v", cols)
			}
			// The database is isolated: b has no table x.
			cfg = b.Config()
			cfg.Table = "x"
			if _, err := sqlsource.Discover(ctx, cfg); err == nil {
				t.Fatal("table x visible in another database")
			}
		})
	}
}

// A second Get returns the same server; Stop removes the directory.
func TestStartStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		first := testdb.Get(t, kind)
		if again := testdb.Get(t, kind); again != first {
			t.Fatal("Get started a second server")
		}
		srv, err := testdb.Start(ctx, kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(srv.Dir); !os.IsNotExist(err) {
			t.Errorf("%s: directory %s left behind (%v)", kind, srv.Dir, err)
		}
		if err := srv.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
	}
}

// Missing binaries are an error that says how to install them (tests never skip).
func TestNotInstalled(t *testing.T) {
	t.Setenv("TESTDB_PG_BINDIR", "/nonexistent")
	t.Setenv("TESTDB_MARIADB_BINDIR", "/nonexistent")
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		_, err := testdb.Start(context.Background(), kind)
		if !errors.Is(err, testdb.ErrNotInstalled) || !strings.Contains(err.Error(), "hack/install-test-deps.sh") || !strings.Contains(err.Error(), "make test") {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

// The Unix socket works too (PostgreSQL trusts it; MariaDB checks the password).
func TestSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		db := testdb.Get(t, kind).NewDatabase(t)
		db.Exec(t, "CREATE TABLE s (id int)")
		cfg := db.Config()
		cfg.Host, cfg.Table = db.Server.Socket, "s"
		if _, err := sqlsource.Discover(ctx, cfg); err != nil {
			t.Errorf("%s over %s: %v", kind, cfg.Host, err)
		}
	}
}

// TestMariaDBConcurrentStarts: two MariaDB servers installed and started at the same
// time (as by concurrent test binaries) each keep their temporary files, socket and
// pid file in their own directory, and both work.
func TestMariaDBConcurrentStarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var srvs [2]*testdb.Server
	var errs [2]error
	var wg sync.WaitGroup
	for i := range srvs {
		wg.Go(func() { srvs[i], errs[i] = testdb.StartMariaDB(ctx) })
	}
	wg.Wait()
	for i, srv := range srvs {
		if srv != nil {
			t.Cleanup(func() { _ = srv.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("server %d: %v", i, errs[i])
		}
	}
	if srvs[0].Dir == srvs[1].Dir || srvs[0].Port == srvs[1].Port || srvs[0].Socket == srvs[1].Socket {
		t.Fatalf("servers share a directory, port or socket: %+v / %+v", srvs[0], srvs[1])
	}
	for i, srv := range srvs {
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net, mc.Addr = srv.User, srv.Password, "tcp", net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port))
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		defer func() { _ = db.Close() }()
		var tmpdir, socket, pidFile string
		if err := db.QueryRowContext(ctx, "SELECT @@tmpdir, @@socket, @@pid_file").Scan(&tmpdir, &socket, &pidFile); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		if want := filepath.Join(srv.Dir, "tmp"); tmpdir != want || socket != srv.Socket || filepath.Dir(pidFile) != srv.Dir {
			t.Errorf("server %d: tmpdir %s (want %s), socket %s (want %s), pid file %s (want in %s)", i, tmpdir, want, socket, srv.Socket, pidFile, srv.Dir)
		}
		// Each works on its own: a table written in one is only there.
		d := srv.NewDatabase(t)
		d.Exec(t, "CREATE TABLE c (id int)", fmt.Sprintf("INSERT INTO c VALUES (%d)", i))
		var got int
		if err := db.QueryRowContext(ctx, "SELECT id FROM "+d.Name+".c").Scan(&got); err != nil || got != i {
			t.Errorf("server %d: read %d (%v), want %d", i, got, err, i)
		}
	}
}
