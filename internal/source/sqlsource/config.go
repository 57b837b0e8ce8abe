package sqlsource

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
)

// Driver names a database protocol.
type Driver string

const (
	// Postgres is PostgreSQL (and wire-compatible servers), through pgx.
	Postgres Driver = "postgres"
	// MySQL is MySQL or MariaDB, through go-sql-driver/mysql.
	MySQL Driver = "mysql"
)

// TLSMode says whether and how the connection is encrypted, with libpq's names.
type TLSMode string

const (
	// TLSDefault is TLSPrefer.
	TLSDefault TLSMode = ""
	// TLSDisable never encrypts.
	TLSDisable TLSMode = "disable"
	// TLSPrefer encrypts when the server offers it, without verifying the server.
	TLSPrefer TLSMode = "prefer"
	// TLSRequire always encrypts, without verifying the server's certificate.
	TLSRequire TLSMode = "require"
	// TLSVerifyCA always encrypts and verifies the certificate chain (not the host name).
	TLSVerifyCA TLSMode = "verify-ca"
	// TLSVerifyFull always encrypts and verifies the chain and the host name.
	TLSVerifyFull TLSMode = "verify-full"
)

// DefaultConnectTimeout bounds connecting when Config.ConnectTimeout is 0.
const DefaultConnectTimeout = 10 * time.Second

// Config says where a SQL dataset is and how to read it.
//
// The connection comes from URI, from the fields, or from both: a field that is set
// overrides that part of the URI (so a URI without credentials can be completed with a
// password from a Kubernetes Secret). The password never appears in an error, a
// position or a log line.
type Config struct {
	// URI is postgres://user:pass@host:port/db?sslmode=require (also postgresql://) or
	// mysql://user:pass@host:port/db?tls=require (also mariadb://). Query parameters:
	// sslmode (or tls for MySQL) with the TLSMode names (MySQL also takes its driver's
	// true/false/skip-verify/preferred), sslrootcert, connect_timeout (seconds);
	// PostgreSQL URIs may carry other libpq parameters (application_name, ...).
	URI string
	// Driver is told by the URI's scheme when empty.
	Driver Driver
	// Host is a host name or an IP address; a path (starting with '/') is a Unix
	// socket: PostgreSQL's socket directory, MySQL's socket file.
	Host string
	// Port defaults to 5432 (PostgreSQL) or 3306 (MySQL).
	Port     int
	Database string
	// User defaults as the drivers do: PostgreSQL $PGUSER or the OS user; MySQL none.
	User     string
	Password string
	// TLS defaults to prefer.
	TLS TLSMode
	// RootCA is a PEM file with the CA certificates that verify-ca and verify-full
	// trust (default: the system's).
	RootCA string
	// RootCAs are CA certificates that verify-ca and verify-full trust, given in memory
	// (a DataSource's caSecretRef); they take precedence over RootCA.
	RootCAs *x509.CertPool
	// ConnectTimeout bounds establishing the connection (default 10s). Reading is
	// bounded by the context given to Open.
	ConnectTimeout time.Duration

	// Table is the table (or view) to read: "entries" or "ledger.entries"; a part may
	// be quoted with "double quotes" or `backticks` to keep dots or case. PostgreSQL
	// folds unquoted parts to lower case, as it does in SQL. Exactly one of Table and
	// Query is set.
	Table string
	// Query is a SELECT whose rows are read (it is wrapped: SELECT cols FROM (Query)
	// AS q WHERE Filter ORDER BY keys). A trailing semicolon is dropped.
	Query string
	// Filter is a SQL boolean expression; only rows for which it is true are read.
	// It is SQL in the server's dialect, trusted like Query.
	Filter string
	// Columns lists the columns to read, by their exact names, in this order
	// (default: every column of the table or query, in its order). Key columns not
	// listed are added at the end.
	Columns []string
	// Keys are the key columns (exact names), used for ordering.
	Keys []string
	// KeyTypes are the engine types declared for Keys (aligned with Keys; default
	// each column's discovered type). They decide how an ordered scan sorts: as the
	// engine compares values of that type. See the package documentation.
	KeyTypes []diff.Type
	// Ordered pushes ORDER BY Keys down to the database, and Open returns a
	// diff.OrderedReader promising that order.
	Ordered bool
	// TimeZone is the IANA zone of the values of columns without a zone (MySQL
	// DATETIME, PostgreSQL timestamp without time zone): they are read as wall-clock
	// times in that zone and rendered in UTC. Default UTC.
	TimeZone string
	// TinyIntAsInteger reads MySQL TINYINT(1) as an integer (0, 1, ...) instead of as
	// a boolean (false, true).
	TinyIntAsInteger bool
	// Name replaces the dataset's name in positions and errors (default
	// "postgres table ledger.entries", "mysql query").
	Name string
}

// resolved is a Config with the URI applied, defaults filled and everything checked.
type resolved struct {
	Config
	tableParts []string          // Table split and unquoted (PostgreSQL: unquoted parts folded)
	loc        *time.Location    // TimeZone
	params     map[string]string // other URI query parameters (PostgreSQL)
	// extraWhere is ANDed to the scan's WHERE (checksum segments: a key range); on
	// PostgreSQL it may refer to args as $1, $2, ... (MySQL: literals only).
	extraWhere string
	args       []string
}

// where names the server for errors: "db.example:5432" or the socket path.
func (r *resolved) where() string {
	if strings.HasPrefix(r.Host, "/") {
		return r.Host
	}
	return net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
}

// name names the dataset: "postgres table ledger.entries".
func (r *resolved) name() string {
	if r.Name != "" {
		return r.Name
	}
	if r.Query != "" {
		return string(r.Driver) + " query"
	}
	return string(r.Driver) + " table " + r.Table
}

// wrap adds the dataset and the server to an error and removes the password from it.
func (r *resolved) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	if what != "" {
		what += ": "
	}
	return redact.Error(fmt.Errorf("%s on %s: %s%w", r.name(), r.where(), what, err), r.Password)
}

// resolve applies the URI and defaults and validates the config. Errors never
// contain the password (nor the URI's user info).
func resolve(cfg Config) (*resolved, error) {
	r := &resolved{Config: cfg}
	if cfg.URI != "" {
		if err := r.applyURI(cfg); err != nil {
			return nil, redact.Error(err, cfg.Password)
		}
	}
	switch r.Driver {
	case Postgres, MySQL:
	case "":
		return nil, errors.New("sqlsource: no driver: set Driver or a postgres:// or mysql:// URI")
	default:
		return nil, fmt.Errorf("sqlsource: unknown driver %q (postgres or mysql)", r.Driver)
	}
	if r.Host == "" {
		r.Host = "localhost"
	}
	if r.Port == 0 {
		r.Port = 5432
		if r.Driver == MySQL {
			r.Port = 3306
		}
	}
	if r.Port < 0 || r.Port > 65535 {
		return nil, fmt.Errorf("sqlsource: port %d out of range", r.Port)
	}
	switch r.TLS {
	case TLSDefault:
		r.TLS = TLSPrefer
	case TLSDisable, TLSPrefer, TLSRequire, TLSVerifyCA, TLSVerifyFull:
	default:
		return nil, fmt.Errorf("sqlsource: unknown TLS mode %q (disable, prefer, require, verify-ca, verify-full)", r.TLS)
	}
	if r.ConnectTimeout <= 0 {
		r.ConnectTimeout = DefaultConnectTimeout
	}
	r.loc = time.UTC
	if r.TimeZone != "" {
		loc, err := time.LoadLocation(r.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("sqlsource: time zone %q: %v", r.TimeZone, err)
		}
		r.loc = loc
	}
	return r, nil
}

// checkDataset validates the dataset part (table or query, keys).
func (r *resolved) checkDataset() error {
	r.Query = strings.TrimSpace(r.Query)
	for strings.HasSuffix(r.Query, ";") {
		r.Query = strings.TrimSpace(strings.TrimSuffix(r.Query, ";"))
	}
	switch {
	case r.Table == "" && r.Query == "":
		return errors.New("sqlsource: set Table or Query")
	case r.Table != "" && r.Query != "":
		return errors.New("sqlsource: set Table or Query, not both")
	}
	if r.Table != "" {
		parts, err := splitQualified(r.Table, r.Driver == Postgres)
		if err != nil {
			return fmt.Errorf("sqlsource: table %q: %w", r.Table, err)
		}
		if len(parts) > 3 || (len(parts) == 3 && r.Driver != Postgres) {
			return fmt.Errorf("sqlsource: table %q: want table or schema.table", r.Table)
		}
		r.tableParts = parts
	}
	if len(r.KeyTypes) > 0 && len(r.KeyTypes) != len(r.Keys) {
		return fmt.Errorf("sqlsource: %d key types for %d keys", len(r.KeyTypes), len(r.Keys))
	}
	if r.Ordered && len(r.Keys) == 0 {
		return errors.New("sqlsource: Ordered needs Keys")
	}
	seen := map[string]bool{}
	for _, k := range r.Keys {
		if k == "" {
			return errors.New("sqlsource: empty key column name")
		}
		if seen[k] {
			return fmt.Errorf("sqlsource: key column %q twice", k)
		}
		seen[k] = true
	}
	seen = map[string]bool{}
	for _, c := range r.Columns {
		if c == "" {
			return errors.New("sqlsource: empty column name")
		}
		if seen[c] {
			return fmt.Errorf("sqlsource: column %q twice", c)
		}
		seen[c] = true
	}
	return nil
}

func (r *resolved) applyURI(cfg Config) error {
	safe := redact.URL(cfg.URI)
	u, err := url.Parse(cfg.URI)
	if err != nil {
		return fmt.Errorf("sqlsource: invalid URI %s", safe)
	}
	var d Driver
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		d = Postgres
	case "mysql", "mariadb":
		d = MySQL
	default:
		return fmt.Errorf("sqlsource: URI %s: unknown scheme %q (postgres, postgresql, mysql, mariadb)", safe, u.Scheme)
	}
	if cfg.Driver != "" && cfg.Driver != d {
		return fmt.Errorf("sqlsource: URI %s is %s but Driver is %s", safe, d, cfg.Driver)
	}
	r.Driver = d
	if u.Opaque != "" {
		return fmt.Errorf("sqlsource: invalid URI %s: want %s://user:password@host:port/database", safe, u.Scheme)
	}
	if r.User == "" && u.User != nil {
		r.User = u.User.Username()
	}
	if pw, ok := u.User.Password(); ok && r.Password == "" {
		r.Password = pw
	}
	if r.Host == "" {
		r.Host = u.Hostname()
	}
	if r.Port == 0 && u.Port() != "" {
		p, err := strconv.Atoi(u.Port())
		if err != nil {
			return fmt.Errorf("sqlsource: URI %s: invalid port %q", safe, u.Port())
		}
		r.Port = p
	}
	if r.Database == "" {
		r.Database = strings.TrimPrefix(u.Path, "/")
	}
	for k, vs := range u.Query() {
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		switch k {
		case "sslmode", "tls":
			if cfg.TLS != "" {
				continue
			}
			m, err := parseTLSMode(v)
			if err != nil {
				return fmt.Errorf("sqlsource: URI %s: %s: %w", safe, k, err)
			}
			r.TLS = m
		case "sslrootcert":
			if r.RootCA == "" {
				r.RootCA = v
			}
		case "connect_timeout":
			if cfg.ConnectTimeout != 0 {
				continue
			}
			secs, err := strconv.Atoi(v)
			if err != nil || secs < 0 {
				return fmt.Errorf("sqlsource: URI %s: connect_timeout %q is not a number of seconds", safe, v)
			}
			r.ConnectTimeout = time.Duration(secs) * time.Second
		case "host":
			// libpq's way of naming a socket directory in a URI.
			if cfg.Host == "" {
				r.Host = v
			}
		case "port":
			if cfg.Port == 0 {
				p, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("sqlsource: URI %s: invalid port %q", safe, v)
				}
				r.Port = p
			}
		default:
			if d == MySQL {
				return fmt.Errorf("sqlsource: URI %s: unknown parameter %q (tls, sslmode, sslrootcert, connect_timeout)", safe, k)
			}
			if r.params == nil {
				r.params = map[string]string{}
			}
			r.params[k] = v
		}
	}
	return nil
}

func parseTLSMode(v string) (TLSMode, error) {
	switch strings.ToLower(v) {
	case "disable", "false", "off":
		return TLSDisable, nil
	case "prefer", "preferred", "allow":
		return TLSPrefer, nil
	case "require", "skip-verify", "required":
		return TLSRequire, nil
	case "verify-ca", "verify_ca":
		return TLSVerifyCA, nil
	case "verify-full", "verify_identity", "true":
		return TLSVerifyFull, nil
	}
	return "", fmt.Errorf("unknown TLS mode %q (disable, prefer, require, verify-ca, verify-full)", v)
}

// splitQualified splits a possibly quoted, dot-separated name. Unquoted parts are
// lower-cased when fold is set (PostgreSQL).
func splitQualified(s string, fold bool) ([]string, error) {
	var parts []string
	i := 0
	for {
		if i >= len(s) {
			return nil, errors.New("empty name part")
		}
		var part string
		if q := s[i]; q == '"' || q == '`' {
			var sb strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], q)
				if k < 0 {
					return nil, errors.New("unterminated quote")
				}
				sb.WriteString(s[j : j+k])
				j += k + 1
				if j < len(s) && s[j] == q { // doubled quote
					sb.WriteByte(q)
					j++
					continue
				}
				break
			}
			part, i = sb.String(), j
			if part == "" {
				return nil, errors.New("empty quoted name")
			}
		} else {
			j := i
			for j < len(s) && s[j] != '.' {
				if s[j] == '"' || s[j] == '`' {
					return nil, errors.New("quote inside an unquoted name")
				}
				j++
			}
			part = strings.TrimSpace(s[i:j])
			if part == "" {
				return nil, errors.New("empty name part")
			}
			if fold {
				part = strings.ToLower(part)
			}
			i = j
		}
		parts = append(parts, part)
		if i == len(s) {
			return parts, nil
		}
		if s[i] != '.' {
			return nil, fmt.Errorf("unexpected %q after a quoted name", s[i])
		}
		i++
	}
}
