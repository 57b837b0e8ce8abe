// Package testdb starts real database servers for tests: PostgreSQL and MariaDB from
// the Debian packages (hack/install-test-deps.sh installs them; `make test` runs it),
// each in a fresh temporary directory, on 127.0.0.1 on a free port and on a Unix
// socket in that directory, tuned for speed (no fsync) and UTF-8 throughout.
//
// A test binary shares one server of each kind, started on first use and stopped when
// the tests are done:
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
//
//	func TestX(t *testing.T) {
//		db := testdb.NewPostgres(t) // a fresh database, dropped when the test ends
//		cfg := db.Config()          // sqlsource.Config for it
//		...
//	}
//
// The servers' default collations are linguistic (PostgreSQL: ICU "und";
// MariaDB: utf8mb4_unicode_ci), as in most production databases, so a test that
// relies on byte order must ask for it.
//
// When the server binaries are missing, the tests that need them fail (never skip)
// with a message saying to run `make test` or hack/install-test-deps.sh.
//
// PostgreSQL refuses to run as root: as root the servers run as the "postgres" user
// the Debian package creates (MariaDB runs as root with --user=root). Each server gets
// SIGKILL when the test binary dies (Pdeathsig), and a later Start removes the
// directories of servers whose test binary is gone.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testcert"
)

// Kind names a database server.
type Kind string

const (
	Postgres Kind = "postgres"
	MariaDB  Kind = "mariadb"
)

// InstallHint is appended to the error when a server's binaries are missing.
const InstallHint = "run `make test` (or, as root, hack/install-test-deps.sh) to install PostgreSQL and MariaDB from Debian's packages"

// ErrNotInstalled is wrapped by the error of a Start whose binaries are missing.
var ErrNotInstalled = errors.New("database server not installed")

// Server is a running database server.
type Server struct {
	Kind    Kind
	Version string
	// Dir is the server's temporary directory (data, socket, log); Stop removes it.
	Dir string
	// Host and Port are the TCP address (Host is 127.0.0.1).
	Host string
	Port int
	// Socket is PostgreSQL's socket directory or MariaDB's socket file.
	Socket string
	// User and Password are a superuser's, for TCP connections.
	User     string
	Password string
	// CAPEM is the certificate of the private CA that signed the server's TLS
	// certificate (for 127.0.0.1 and localhost): the server also accepts TLS, for tests
	// of verify-ca and verify-full. URI and Config do not use it.
	CAPEM []byte

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logPath string
	stop    sync.Once
	stopErr error
	dbSeq   atomic.Int64
}

// URI is the server's URI for database (postgres://... or mysql://...), with the
// password.
func (s *Server) URI(database string) string {
	scheme, tls := "postgres", "sslmode=disable"
	if s.Kind == MariaDB {
		scheme, tls = "mysql", "tls=disable"
	}
	return fmt.Sprintf("%s://%s:%s@%s/%s?%s", scheme, s.User, s.Password, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), database, tls)
}

// Config is a sqlsource.Config connecting to database over TCP (dataset fields empty).
func (s *Server) Config(database string) sqlsource.Config {
	d := sqlsource.Postgres
	if s.Kind == MariaDB {
		d = sqlsource.MySQL
	}
	return sqlsource.Config{
		Driver: d, Host: s.Host, Port: s.Port, Database: database,
		User: s.User, Password: s.Password, TLS: sqlsource.TLSDisable,
	}
}

// Stop kills the server and removes its directory. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stop.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			sig := syscall.SIGKILL
			if s.Kind == Postgres {
				sig = syscall.SIGQUIT // immediate shutdown: its children and shared memory go too
			}
			_ = s.cmd.Process.Signal(sig)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
		if s.Dir != "" {
			s.stopErr = os.RemoveAll(s.Dir)
		}
	})
	return s.stopErr
}

// LogTail returns the end of the server's log, for error messages.
func (s *Server) LogTail() string {
	return logTail(s.logPath)
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	const max = 3000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// Start starts a server of the given kind.
func Start(ctx context.Context, kind Kind) (*Server, error) {
	switch kind {
	case Postgres:
		return StartPostgres(ctx)
	case MariaDB:
		return StartMariaDB(ctx)
	}
	return nil, fmt.Errorf("testdb: unknown kind %q", kind)
}

// start runs the server command, its output to the log, and watches it exit.
func (s *Server) start(cmd *exec.Cmd) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	cmd.Stdout, cmd.Stderr = logf, logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true // a Ctrl-C to the test does not hit the server first
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// waitReady calls ping until it succeeds, the server exits, or ctx or a minute ends.
func (s *Server) waitReady(ctx context.Context, ping func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("server exited (%v) before accepting connections; log:\n%s", s.waitErr, s.LogTail())
		default:
		}
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		last = ping(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %v (last error: %v); log:\n%s", ctx.Err(), last, s.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "ch-" + hex.EncodeToString(b)
}

// baseDir is where the servers' directories go: under os.TempDir() when every
// directory on the way can be traversed by other users (the postgres user), else /tmp.
func baseDir() (string, error) {
	base := os.TempDir()
	if !traversable(base) {
		base = "/tmp"
	}
	dir := filepath.Join(base, "clearhouse-testdb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	_ = os.Chmod(dir, 0o755)
	return dir, nil
}

func traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// newServerDir makes the server's directory and records the test binary's pid in it,
// after removing the directories of servers whose test binary is gone.
func newServerDir(kind Kind) (string, error) {
	base, err := baseDir()
	if err != nil {
		return "", err
	}
	sweep(base)
	dir, err := os.MkdirTemp(base, string(kind)+"-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// sweep removes server directories whose owner process is gone (a test binary
// killed before it could stop its servers; Pdeathsig has killed the servers).
func sweep(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			st, serr := os.Stat(dir)
			if serr == nil && time.Since(st.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir) // never finished starting
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// runLogged runs a setup command (initdb, mariadb-install-db), its output to the log.
func runLogged(ctx context.Context, logPath string, cmd *exec.Cmd) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	fmt.Fprintf(logf, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %v; log:\n%s", filepath.Base(cmd.Path), err, logTail(logPath))
	}
	return nil
}

// Database is a database created for one test.
type Database struct {
	Server *Server
	Name   string
}

// Config is a sqlsource.Config connecting to the database (dataset fields empty).
func (d *Database) Config() sqlsource.Config { return d.Server.Config(d.Name) }

// URI is the database's URI, with the password.
func (d *Database) URI() string { return d.Server.URI(d.Name) }

// Exec runs statements in the database (each a separate call), failing the test on
// error.
func (d *Database) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.Server.Exec(ctx, d.Name, stmts...); err != nil {
		t.Fatal(err)
	}
}

var reNonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates a fresh, empty database for t, dropped when t ends.
func (s *Server) NewDatabase(t testing.TB) *Database {
	t.Helper()
	name := reNonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", s.dbSeq.Add(1), strings.Trim(name, "_"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.CreateDatabase(ctx, name); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DropDatabase(ctx, name); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return &Database{Server: s, Name: name}
}

// CreateDatabase creates a database (UTF-8).
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	if s.Kind == Postgres {
		return s.Exec(ctx, "postgres", `CREATE DATABASE `+quotePG(name))
	}
	return s.Exec(ctx, "", "CREATE DATABASE `"+strings.ReplaceAll(name, "`", "``")+"` CHARACTER SET utf8mb4")
}

// DropDatabase drops a database, disconnecting its sessions.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if s.Kind == Postgres {
		return s.Exec(ctx, "postgres", `DROP DATABASE IF EXISTS `+quotePG(name)+` WITH (FORCE)`)
	}
	return s.Exec(ctx, "", "DROP DATABASE IF EXISTS `"+strings.ReplaceAll(name, "`", "``")+"`")
}

// Exec runs statements in database as the superuser.
func (s *Server) Exec(ctx context.Context, database string, stmts ...string) error {
	if s.Kind == Postgres {
		return s.execPostgres(ctx, database, stmts)
	}
	return s.execMariaDB(ctx, database, stmts)
}

func quotePG(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// The servers shared by a test binary.
var shared struct {
	mu      sync.Mutex
	inMain  bool
	servers map[Kind]*sharedServer
}

type sharedServer struct {
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the tests and then stops the servers they started, and exits. Call it
// from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain with its own clean-up: it runs the
// tests, stops the servers they started and returns the exit code.
func Run(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the servers started by Get (Main does it).
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for k, s := range shared.servers {
		if s.srv != nil {
			_ = s.srv.Stop()
		}
		delete(shared.servers, k)
	}
}

// Get returns the test binary's server of that kind, starting it on first use. It
// fails the test when the server cannot start (and every later test that asks for
// it, with the same error), and when TestMain does not call Main (the server would
// outlive the tests).
func Get(t testing.TB, kind Kind) *Server {
	t.Helper()
	shared.mu.Lock()
	if !shared.inMain {
		shared.mu.Unlock()
		t.Fatal("testdb: call testdb.Main(m) from TestMain so that the servers are stopped after the tests")
	}
	if shared.servers == nil {
		shared.servers = map[Kind]*sharedServer{}
	}
	ss := shared.servers[kind]
	if ss == nil {
		ss = &sharedServer{}
		shared.servers[kind] = ss
	}
	shared.mu.Unlock()
	ss.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		ss.srv, ss.err = Start(ctx, kind)
	})
	if ss.err != nil {
		t.Fatalf("testdb: %v", ss.err)
	}
	return ss.srv
}

// NewPostgres returns a fresh database on the test binary's PostgreSQL server.
func NewPostgres(t testing.TB) *Database {
	t.Helper()
	return Get(t, Postgres).NewDatabase(t)
}

// NewMariaDB returns a fresh database on the test binary's MariaDB server.
func NewMariaDB(t testing.TB) *Database {
	t.Helper()
	return Get(t, MariaDB).NewDatabase(t)
}

// writeTLS makes a CA and a server certificate, writes the certificate and key into
// the server's directory (the key 0600, owned by uid:gid when owner), and keeps the CA.
func (s *Server) writeTLS(owner bool, uid, gid int) (certPath, keyPath string, err error) {
	c, err := testcert.Generate()
	if err != nil {
		return "", "", fmt.Errorf("testdb: TLS certificate: %w", err)
	}
	certPath, keyPath = filepath.Join(s.Dir, "server.crt"), filepath.Join(s.Dir, "server.key")
	for path, data := range map[string][]byte{certPath: c.ServerCertPEM, keyPath: c.ServerKeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return "", "", err
		}
		if owner {
			if err := os.Chown(path, uid, gid); err != nil {
				return "", "", err
			}
		}
	}
	s.CAPEM = c.CAPEM
	return certPath, keyPath, nil
}
