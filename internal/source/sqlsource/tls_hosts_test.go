package sqlsource_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestPrivateCAOtherHosts: a PostgreSQL host list (host: "a,b") tries each host in turn,
// and verify-full checks each host's certificate against that host's name, with the CA
// in memory as with a CA file. The first host here refuses connections; the second is
// the test server by a name its certificate has.
func TestPrivateCAOtherHosts(t *testing.T) {
	t.Parallel()
	db := testdb.Get(t, testdb.Postgres).NewDatabase(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))", "INSERT INTO entries VALUES (1, 2.50)")
	pool, caFile := serverCA(t, db.Server.CAPEM)
	for name, roots := range map[string]struct {
		pool *x509.CertPool
		file string
	}{"CA file": {nil, caFile}, "CA in memory": {pool, ""}} {
		for _, mode := range []sqlsource.TLSMode{sqlsource.TLSVerifyFull, sqlsource.TLSVerifyCA} {
			t.Run(name+", "+string(mode), func(t *testing.T) {
				c := db.Config()
				c.Host = "127.0.0.2,localhost"
				c.Table, c.Keys, c.TLS, c.RootCAs, c.RootCA = "entries", []string{"id"}, mode, roots.pool, roots.file
				if _, rows := readAll(t, c); len(rows) != 1 || rows[0][0] != "1" {
					t.Errorf("rows %v", rows)
				}
			})
		}
	}
}

// TestPrivateCASNI: with the CA in memory, verify-ca still sends the host's name as SNI
// as it does with a CA file (a proxy routing PostgreSQL by SNI, such as Traefik's
// HostSNI, needs it), and verify-full still checks the host's name.
func TestPrivateCASNI(t *testing.T) {
	db := testdb.Get(t, testdb.Postgres)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(db.CAPEM) {
		t.Fatal("the test server has no CA")
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, db.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []sqlsource.TLSMode{sqlsource.TLSVerifyCA, sqlsource.TLSVerifyFull} {
		for name, c := range map[string]sqlsource.Config{
			"CA file":      {Driver: sqlsource.Postgres, Host: "db.example", TLS: mode, RootCA: caFile},
			"CA in memory": {Driver: sqlsource.Postgres, Host: "db.example", TLS: mode, RootCAs: pool},
		} {
			cc, _, err := sqlsource.PostgresConnConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			if cc.TLSConfig == nil || cc.TLSConfig.ServerName != "db.example" {
				t.Errorf("%s, %s: TLS server name %q, want db.example", mode, name, cc.TLSConfig.ServerName)
			}
		}
	}
}

// TestPrivateCASocket: over a Unix socket TLS does not apply (as libpq and pgx have it
// with a CA file); a CA in memory must not make the client ask the server for TLS.
func TestPrivateCASocket(t *testing.T) {
	t.Parallel()
	db := testdb.Get(t, testdb.Postgres).NewDatabase(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY)", "INSERT INTO entries VALUES (1)")
	pool, caFile := serverCA(t, db.Server.CAPEM)
	for name, c := range map[string]sqlsource.Config{"CA file": {RootCA: caFile}, "CA in memory": {RootCAs: pool}} {
		t.Run(name, func(t *testing.T) {
			cfg := db.Config()
			cfg.Host, cfg.TLS, cfg.RootCA, cfg.RootCAs = db.Server.Socket, sqlsource.TLSVerifyFull, c.RootCA, c.RootCAs
			cfg.Table, cfg.Keys = "entries", []string{"id"}
			if _, rows := readAll(t, cfg); len(rows) != 1 {
				t.Errorf("rows %v", rows)
			}
		})
	}
}
