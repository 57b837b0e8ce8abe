package testdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresBinDir finds the PostgreSQL server binaries: $TESTDB_PG_BINDIR, the newest
// Debian /usr/lib/postgresql/<version>/bin, or initdb on the PATH.
func postgresBinDir() (string, error) {
	if d := os.Getenv("TESTDB_PG_BINDIR"); d != "" {
		for _, b := range []string{"postgres", "initdb"} {
			if _, err := os.Stat(filepath.Join(d, b)); err != nil {
				return "", fmt.Errorf("%w: PostgreSQL (no %s in TESTDB_PG_BINDIR=%s); %s", ErrNotInstalled, b, d, InstallHint)
			}
		}
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))), 64)
		return vi > vj
	})
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", fmt.Errorf("%w: PostgreSQL (no /usr/lib/postgresql/*/bin/postgres); %s", ErrNotInstalled, InstallHint)
}

// postgresCredential is the postgres user when running as root (PostgreSQL refuses
// to run as root), nil otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user (the Debian package creates it): %v; %s", err, InstallHint)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// StartPostgres initializes a cluster in a new temporary directory and starts it on
// 127.0.0.1 on a free port (and a Unix socket in the directory). The superuser is
// postgres, with a random password over TCP (scram-sha-256) and trust on the socket.
func StartPostgres(ctx context.Context) (*Server, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	dir, err := newServerDir(Postgres)
	if err != nil {
		return nil, fmt.Errorf("testdb: %w", err)
	}
	s := &Server{Kind: Postgres, Dir: dir, Host: "127.0.0.1", Socket: dir, User: "postgres",
		Password: randomPassword(), logPath: filepath.Join(dir, "server.log")}
	if err := s.initPostgres(ctx, bin, cred); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("testdb: postgres: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = s.startPostgres(ctx, bin, cred); lastErr == nil {
			return s, nil
		}
		if !strings.Contains(s.LogTail(), "already in use") {
			break
		}
		s.cmd = nil // the port was taken meanwhile: try another
	}
	_ = s.Stop()
	return nil, fmt.Errorf("testdb: postgres: %w", lastErr)
}

func (s *Server) initPostgres(ctx context.Context, bin string, cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(s.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
		_ = os.Chown(filepath.Join(s.Dir, "owner.pid"), int(cred.Uid), int(cred.Gid))
	}
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	pwfile := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	args := []string{"-D", filepath.Join(s.Dir, "data"), "-U", "postgres", "--pwfile=" + pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"}
	// A linguistic default collation, as in production; byte order must be asked for.
	icu := append(append([]string{}, args...), "--locale-provider=icu", "--icu-locale=und")
	if err := s.initdb(ctx, bin, cred, icu); err != nil {
		_ = os.RemoveAll(filepath.Join(s.Dir, "data"))
		if err2 := s.initdb(ctx, bin, cred, args); err2 != nil {
			return err2
		}
	}
	ver, err := os.ReadFile(filepath.Join(s.Dir, "data", "PG_VERSION"))
	if err == nil {
		s.Version = strings.TrimSpace(string(ver))
	}
	return os.Remove(pwfile)
}

func (s *Server) initdb(ctx context.Context, bin string, cred *syscall.Credential, args []string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	return runLogged(ctx, s.logPath, cmd)
}

func (s *Server) startPostgres(ctx context.Context, bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	var uid, gid int
	if cred != nil {
		uid, gid = int(cred.Uid), int(cred.Gid)
	}
	certFile, keyFile, err := s.writeTLS(cred != nil, uid, gid)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", filepath.Join(s.Dir, "data"),
		"-c", "ssl=on",
		"-c", "ssl_cert_file="+certFile,
		"-c", "ssl_key_file="+keyFile,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.Dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=100",
		"-c", "shared_buffers=128MB",
		"-c", "max_wal_size=1GB",
		// Logical decoding, so that tests can create the replication slots and
		// publications a Debezium capture leaves behind.
		"-c", "wal_level=logical",
		"-c", "max_replication_slots=20",
		"-c", "max_wal_senders=20",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
		"-c", "client_encoding=UTF8",
		"-c", "timezone=UTC",
	)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := s.start(cmd); err != nil {
		return err
	}
	err = s.waitReady(ctx, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, s.URI("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if err != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		return err
	}
	return s.execPostgres(ctx, "postgres", []string{"SELECT 1"})
}

func (s *Server) execPostgres(ctx context.Context, database string, stmts []string) error {
	conn, err := pgx.Connect(ctx, s.URI(database))
	if err != nil {
		return fmt.Errorf("postgres %s: %w", database, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("postgres %s: %s: %w", database, firstLine(stmt), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
