package sqlsource_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/testcert"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestPrivateCA: verify-full and verify-ca against a server whose certificate a private
// CA signed (the test servers' own), with the CA given in memory (RootCAs, as a
// DataSource's caSecretRef gives it) and as a file (RootCA, as the command line's
// sslrootcert does). Without the CA, or with another one, the connection is refused on
// the certificate; require encrypts without verifying.
func TestPrivateCA(t *testing.T) {
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			db := testdb.Get(t, kind).NewDatabase(t)
			db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))", "INSERT INTO entries VALUES (1, 2.50)")
			pool, caFile := serverCA(t, db.Server.CAPEM)
			other := testcert.New(t).Pool
			cfg := func(mode sqlsource.TLSMode, roots *x509.CertPool, file string) sqlsource.Config {
				c := db.Config()
				c.Table, c.Keys, c.TLS, c.RootCAs, c.RootCA = "entries", []string{"id"}, mode, roots, file
				return c
			}
			for name, c := range map[string]sqlsource.Config{
				"verify-full, CA in memory":         cfg(sqlsource.TLSVerifyFull, pool, ""),
				"verify-ca, CA in memory":           cfg(sqlsource.TLSVerifyCA, pool, ""),
				"verify-full, CA file":              cfg(sqlsource.TLSVerifyFull, nil, caFile),
				"require, no CA":                    cfg(sqlsource.TLSRequire, nil, ""),
				"verify-full, in memory beats file": cfg(sqlsource.TLSVerifyFull, pool, "/nonexistent/ca.crt"),
			} {
				t.Run(name, func(t *testing.T) {
					if _, rows := readAll(t, c); len(rows) != 1 || rows[0][0] != "1" {
						t.Errorf("rows %v", rows)
					}
				})
			}
			for name, c := range map[string]sqlsource.Config{
				"verify-full, system roots": cfg(sqlsource.TLSVerifyFull, nil, ""),
				"verify-full, another CA":   cfg(sqlsource.TLSVerifyFull, other, ""),
				"verify-ca, another CA":     cfg(sqlsource.TLSVerifyCA, other, ""),
			} {
				_, err := sqlsource.Open(testCtx(t), c)
				if err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Errorf("%s: error %v, want a certificate error", name, err)
				}
			}
		})
	}
}

// serverCA returns a test server's CA as a pool and as a file.
func serverCA(t *testing.T, pem []byte) (*x509.CertPool, string) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the test server has no CA")
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return pool, caFile
}
