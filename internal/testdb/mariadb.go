package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mariadbBinaries finds mariadbd (or mysqld) and mariadb-install-db (or
// mysql_install_db): in $TESTDB_MARIADB_BINDIR only when it is set, else on the
// PATH, in /usr/sbin and /usr/bin.
func mariadbBinaries() (server, installDB string, err error) {
	override := os.Getenv("TESTDB_MARIADB_BINDIR")
	find := func(names ...string) string {
		dirs := []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}
		if override != "" {
			dirs = []string{override}
		}
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil && override == "" {
				return p
			}
			for _, d := range dirs {
				p := filepath.Join(d, n)
				if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
					return p
				}
			}
		}
		return ""
	}
	server = find("mariadbd", "mysqld")
	installDB = find("mariadb-install-db", "mysql_install_db")
	if server == "" || installDB == "" {
		return "", "", fmt.Errorf("%w: MariaDB (no mariadbd or mariadb-install-db); %s", ErrNotInstalled, InstallHint)
	}
	return server, installDB, nil
}

// StartMariaDB initializes a data directory in a new temporary directory and starts
// mariadbd on 127.0.0.1 on a free port (and a Unix socket in the directory). User
// "clearhouse"@"%" with a random password has every privilege; root has no password
// on the socket.
func StartMariaDB(ctx context.Context) (*Server, error) {
	server, installDB, err := mariadbBinaries()
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	dir, err := newServerDir(MariaDB)
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	s := &Server{Kind: MariaDB, Dir: dir, Host: "127.0.0.1", Socket: filepath.Join(dir, "mysqld.sock"),
		User: "clearhouse", Password: randomPassword(), logPath: filepath.Join(dir, "server.log")}
	data := filepath.Join(dir, "data")
	tmp, err := mariadbTmpDir(dir)
	if err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("testdb: mariadb: %w", err)
	}
	// Options it does not know are passed on to the bootstrap mariadbd: its temporary
	// tables (such as mysql.tmp_user_sys) must not meet another install's in a shared
	// /tmp, nor its socket or pid file (if any) another server's defaults.
	args := []string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp,
		"--socket=" + filepath.Join(dir, "bootstrap.sock"), "--pid-file=" + filepath.Join(dir, "bootstrap.pid"),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.CommandContext(ctx, installDB, args...)
	cmd.Dir = dir
	cmd.Env = mariadbEnv(tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := runLogged(ctx, s.logPath, cmd); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("testdb: mariadb: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = s.startMariaDB(ctx, server, data); lastErr == nil {
			return s, nil
		}
		if !strings.Contains(s.LogTail(), "already in use") {
			break
		}
		s.cmd = nil
	}
	_ = s.Stop()
	return nil, fmt.Errorf("testdb: mariadb: %w", lastErr)
}

// mariadbTmpDir makes the server's own temporary directory, inside its directory.
func mariadbTmpDir(dir string) (string, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return "", err
	}
	return tmp, nil
}

// mariadbEnv is the environment of the install script and the server: TMPDIR too
// points into the server's directory, for anything that does not take --tmpdir.
func mariadbEnv(tmp string) []string {
	return append(os.Environ(), "TMPDIR="+tmp)
}

// startMariaDB starts mariadbd with everything it writes in its own directory (data,
// socket, pid file, log, temporary files), so that servers started at once by
// concurrent test binaries share nothing but the machine.
func (s *Server) startMariaDB(ctx context.Context, server, data string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	tmp, err := mariadbTmpDir(s.Dir)
	if err != nil {
		return err
	}
	certFile, keyFile, err := s.writeTLS(false, 0, 0)
	if err != nil {
		return err
	}
	args := []string{
		"--no-defaults",
		"--datadir=" + data,
		"--ssl-cert=" + certFile,
		"--ssl-key=" + keyFile,
		"--socket=" + s.Socket,
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--pid-file=" + filepath.Join(s.Dir, "mariadbd.pid"),
		"--log-error=" + s.logPath,
		"--tmpdir=" + tmp,
		"--skip-name-resolve",
		"--skip-log-bin",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_ci",
		"--default-time-zone=+00:00",
		"--innodb-flush-log-at-trx-commit=0",
		"--innodb-doublewrite=0",
		"--innodb-buffer-pool-size=128M",
		"--innodb-log-file-size=64M",
		"--innodb-use-native-aio=0",
		"--sync-binlog=0",
		"--performance-schema=0",
		"--max-connections=200",
		"--max-allowed-packet=64M",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.Command(server, args...)
	cmd.Dir = s.Dir
	cmd.Env = mariadbEnv(tmp)
	if err := s.start(cmd); err != nil {
		return err
	}
	root := func(ctx context.Context) (*sql.DB, error) {
		mc := mysql.NewConfig()
		mc.User, mc.Net, mc.Addr = "root", "unix", s.Socket
		mc.Logger = &mysql.NopLogger{}
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, err
		}
		db := sql.OpenDB(conn)
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
		return db, nil
	}
	err = s.waitReady(ctx, func(ctx context.Context) error {
		db, err := root(ctx)
		if err != nil {
			return err
		}
		return db.Close()
	})
	if err != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		return err
	}
	db, err := root(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	for _, stmt := range []string{
		"CREATE USER 'clearhouse'@'%' IDENTIFIED BY '" + s.Password + "'",
		"GRANT ALL PRIVILEGES ON *.* TO 'clearhouse'@'%' WITH GRANT OPTION",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("setting up users: %w", err)
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		return err
	}
	return nil
}

func (s *Server) execMariaDB(ctx context.Context, database string, stmts []string) error {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = "root", "", "unix", s.Socket, database
	mc.Logger = &mysql.NopLogger{}
	mc.MultiStatements = true
	mc.Timeout = 10 * time.Second
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("mariadb %s: %s: %w", database, firstLine(stmt), err)
		}
	}
	return nil
}
