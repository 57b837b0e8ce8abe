package sqlsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// pgSession are the session settings every connection starts with: they fix the text
// form of the values this package parses.
var pgSession = map[string]string{
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"TimeZone":           "UTC",
	"extra_float_digits": "1", // shortest exact text of floats
	"bytea_output":       "hex",
}

func pgConnConfig(r *resolved, readOnly bool) (*pgx.ConnConfig, error) {
	u := url.URL{Scheme: "postgres", Path: "/" + r.Database}
	switch {
	case r.Password != "":
		u.User = url.UserPassword(r.User, r.Password)
	case r.User != "":
		u.User = url.User(r.User)
	}
	q := url.Values{}
	for k, v := range r.params {
		q.Set(k, v)
	}
	if strings.HasPrefix(r.Host, "/") {
		q.Set("host", r.Host)
		q.Set("port", strconv.Itoa(r.Port))
	} else {
		u.Host = net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	}
	q.Set("sslmode", string(r.TLS))
	if r.RootCA != "" && r.RootCAs == nil {
		q.Set("sslrootcert", r.RootCA)
	}
	q.Set("connect_timeout", strconv.Itoa(int(math.Ceil(r.ConnectTimeout.Seconds()))))
	if q.Get("application_name") == "" {
		q.Set("application_name", "clearhouse")
	}
	u.RawQuery = q.Encode()
	cc, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, redact.Error(fmt.Errorf("sqlsource: postgres connection settings for %s: %w", r.where(), err), r.Password)
	}
	if r.RootCAs != nil && (r.TLS == TLSVerifyCA || r.TLS == TLSVerifyFull) {
		// Certificates given in memory: pgx reads sslrootcert from a file only. Its
		// configurations are kept (one per host of a host list, each with that host's
		// name to verify and to send as SNI); only what they trust changes.
		trustRoots(cc.TLSConfig, r.TLS, r.RootCAs)
		for _, fb := range cc.Fallbacks {
			trustRoots(fb.TLSConfig, r.TLS, r.RootCAs)
		}
	}
	for k, v := range pgSession {
		cc.RuntimeParams[k] = v
	}
	if readOnly {
		cc.RuntimeParams["default_transaction_read_only"] = "on"
	}
	// When the context ends mid-query, ask the server to cancel the statement (so a
	// long sort or scan stops there too), and give up on the socket a second later.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: time.Second}
	}
	return cc, nil
}

// trustRoots makes tc, a TLS configuration of mode verify-ca or verify-full that pgx
// made for one host, trust roots instead of the system's CAs. Everything else of tc
// stays: the host name verify-full checks, the SNI, client certificates.
func trustRoots(tc *tls.Config, mode TLSMode, roots *x509.CertPool) {
	if tc == nil {
		return
	}
	switch mode {
	case TLSVerifyFull:
		tc.RootCAs = roots
	case TLSVerifyCA:
		tc.RootCAs = roots
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = verifyChain(roots)
	}
}

// PostgresConnConfig returns the pgx configuration a PostgreSQL source connects with
// (read-write) and where it connects ("host:port" or the socket path), for callers
// that run statements of their own, such as the capture cleanup: one place for the URI,
// defaults, TLS and session settings. Errors never contain the password.
func PostgresConnConfig(cfg Config) (*pgx.ConnConfig, string, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, "", err
	}
	if r.Driver != Postgres {
		return nil, "", fmt.Errorf("sqlsource: %s is not a PostgreSQL source", r.Driver)
	}
	cc, err := pgConnConfig(r, false)
	if err != nil {
		return nil, "", err
	}
	return cc, r.where(), nil
}

func pgConnect(ctx context.Context, r *resolved, readOnly bool) (*pgx.Conn, error) {
	cc, err := pgConnConfig(r, readOnly)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.ConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cc)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, r.wrap(err, "connecting")
	}
	return conn, nil
}

func pgColumn(name, native, base string, nullable bool) colInfo {
	c := colInfo{Column: Column{Name: name, NativeType: native, Nullable: nullable, Type: "string"}, base: base, order: oCastText}
	switch base {
	case "int2", "int4", "int8", "oid":
		c.Type, c.order = "integer", oInteger
	case "numeric":
		c.Type, c.order = "decimal", oDecimal
	case "float4":
		c.Type, c.order, c.render = "decimal", oFloat, rFloat32
	case "float8":
		c.Type, c.order, c.render = "decimal", oFloat, rFloat64
	case "bool":
		c.Type, c.order, c.render = "boolean", oBoolean, rPGBool
	case "date":
		c.Type, c.order = "date", oDate
	case "timestamptz":
		c.Type, c.order, c.render = "timestamp", oTimestamp, rTimestampZ
	case "timestamp":
		c.Type, c.order, c.render = "timestamp", oTimestamp, rTimestampL
	case "json", "jsonb":
		c.Type, c.order = "json", oNone
	case "bytea":
		c.order, c.render = oBinary, rPGHex
	case "money":
		c.Type, c.order, c.cast = "decimal", oDecimal, "numeric"
	case "text", "varchar", "bpchar", "name":
		c.order = oText
	case "char":
		// The one-byte internal type: no collation of its own.
		c.order = oCastText
	}
	return c
}

// pgInsufficientPrivilege is SQLSTATE 42501.
const pgInsufficientPrivilege = "42501"

const pgTableColumns = `
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, COALESCE(bt.typname, t.typname)::text,
	has_column_privilege(a.attrelid, a.attnum, 'SELECT')
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN LATERAL (` + pgBaseType + `) bt ON true
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

const pgTypeNames = `
SELECT format_type(u.o::oid, u.m), COALESCE(bt.typname, t.typname)::text
FROM unnest($1::int8[], $2::int4[]) WITH ORDINALITY AS u(o, m, i)
LEFT JOIN pg_type t ON t.oid = u.o::oid
LEFT JOIN LATERAL (` + pgBaseType + `) bt ON true
ORDER BY u.i`

// pgBaseType is the base type of t (LATERAL): a domain's, through domains over
// domains; t's own for other types.
const pgBaseType = `WITH RECURSIVE b(typname, typtype, typbasetype) AS (
	SELECT t.typname, t.typtype, t.typbasetype
	UNION ALL
	SELECT p.typname, p.typtype, p.typbasetype FROM pg_type p JOIN b ON p.oid = b.typbasetype WHERE b.typtype = 'd'
) SELECT typname FROM b WHERE typtype <> 'd' LIMIT 1`

// pgColumns discovers the columns of the table (from the catalog: pg_attribute
// resolves the name with the search_path as the query will, and gives domains' base
// types and exact type modifiers) or of the query (from its result description).
func pgColumns(ctx context.Context, conn *pgx.Conn, r *resolved) ([]colInfo, error) {
	if r.Query == "" {
		rel := quoteQualified(Postgres, r.tableParts)
		rows, err := conn.Query(ctx, pgTableColumns, rel)
		if err != nil {
			return nil, r.wrap(err, "discovering columns")
		}
		var cols []colInfo
		for rows.Next() {
			var name, native, base string
			var nullable, readable bool
			if err := rows.Scan(&name, &native, &nullable, &base, &readable); err != nil {
				rows.Close()
				return nil, r.wrap(err, "discovering columns")
			}
			c := pgColumn(name, native, base, nullable)
			c.unreadable = !readable
			cols = append(cols, c)
		}
		if err := rows.Err(); err != nil {
			return nil, r.wrap(err, "discovering columns")
		}
		if len(cols) == 0 {
			return nil, r.wrap(errors.New("no such table or view (or no columns, or not visible with this search_path)"), "")
		}
		// The catalog shows a table to any role; reading it needs SELECT (on the table
		// or on some of its columns). Without it every run would fail.
		var may bool
		if err := conn.QueryRow(ctx, `SELECT has_any_column_privilege(to_regclass($1), 'SELECT')`, rel).Scan(&may); err != nil {
			return nil, r.wrap(err, "checking the SELECT privilege")
		}
		if !may {
			return nil, r.wrap(&pgconn.PgError{Severity: "ERROR", Code: pgInsufficientPrivilege,
				Message: "permission denied for table " + rel + " (the role has no SELECT on it)"}, "")
		}
		return cols, nil
	}
	sd, err := conn.PgConn().Prepare(ctx, "", "SELECT * FROM "+r.from(), nil)
	if err != nil {
		return nil, r.wrap(err, "describing the query")
	}
	oids := make([]int64, len(sd.Fields))
	mods := make([]int32, len(sd.Fields))
	for i, f := range sd.Fields {
		oids[i], mods[i] = int64(f.DataTypeOID), f.TypeModifier
	}
	rows, err := conn.Query(ctx, pgTypeNames, oids, mods)
	if err != nil {
		return nil, r.wrap(err, "describing the query's types")
	}
	defer rows.Close()
	cols := make([]colInfo, 0, len(sd.Fields))
	for i := 0; rows.Next(); i++ {
		var native, base *string
		if err := rows.Scan(&native, &base); err != nil {
			return nil, r.wrap(err, "describing the query's types")
		}
		n, b := "unknown", "unknown"
		if native != nil {
			n = *native
		}
		if base != nil {
			b = *base
		}
		cols = append(cols, pgColumn(sd.Fields[i].Name, n, b, true))
	}
	if err := rows.Err(); err != nil {
		return nil, r.wrap(err, "describing the query's types")
	}
	if len(cols) != len(sd.Fields) {
		return nil, r.wrap(fmt.Errorf("%d types for %d columns", len(cols), len(sd.Fields)), "describing the query's types")
	}
	return cols, nil
}

func discoverPostgres(ctx context.Context, r *resolved) ([]colInfo, error) {
	conn, err := pgConnect(ctx, r, true)
	if err != nil {
		return nil, err
	}
	defer closePG(conn)
	return pgColumns(ctx, conn, r)
}

func closePG(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// pgRows streams one query's rows in text form over the extended protocol (one
// statement only: a Filter cannot smuggle a second one in).
type pgRows struct {
	conn *pgx.Conn
	rr   *pgconn.ResultReader
}

func (p *pgRows) next() ([][]byte, bool, error) {
	if p.rr.NextRow() {
		return p.rr.Values(), true, nil
	}
	_, err := p.rr.Close()
	return nil, false, err
}

func (p *pgRows) abort() {
	// Cancel the statement (a sort may still be running), then close the socket,
	// which ends the backend; draining the rows left, as ResultReader.Close would,
	// could read a whole table.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = p.conn.PgConn().CancelRequest(ctx)
	cancel()
	_ = p.conn.PgConn().Conn().Close()
	closePG(p.conn)
}

func (p *pgRows) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.conn.Close(ctx)
}

func openPostgres(ctx context.Context, rd *Reader) error {
	r := rd.r
	conn, err := pgConnect(ctx, r, true)
	if err != nil {
		return err
	}
	all, err := pgColumns(ctx, conn, r)
	if err != nil {
		closePG(conn)
		return err
	}
	cols, stmt, orderBy, err := r.plan(all)
	if err != nil {
		closePG(conn)
		return r.wrap(err, "")
	}
	var params [][]byte
	for _, a := range r.args {
		params = append(params, []byte(a))
	}
	rr := conn.PgConn().ExecParams(ctx, stmt, params, nil, nil, []int16{pgx.TextFormatCode})
	fds := rr.FieldDescriptions()
	if fds == nil {
		_, err := rr.Close()
		if err == nil {
			err = errors.New("the statement returned no rows description")
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		closePG(conn)
		return r.wrap(err, "starting the scan")
	}
	if len(fds) != len(cols) {
		_, _ = rr.Close()
		closePG(conn)
		return r.wrap(fmt.Errorf("the scan returns %d columns, expected %d", len(fds), len(cols)), "starting the scan")
	}
	rd.cols, rd.orderBy = cols, orderBy
	rd.src = &pgRows{conn: conn, rr: rr}
	return nil
}

func estimatePostgres(ctx context.Context, r *resolved, statsOnly bool) (int64, error) {
	conn, err := pgConnect(ctx, r, true)
	if err != nil {
		return 0, err
	}
	defer closePG(conn)
	if r.Query == "" && strings.TrimSpace(r.Filter) == "" {
		var n *float64
		var kind *string
		err := conn.QueryRow(ctx, "SELECT reltuples::float8, relkind::text FROM pg_class WHERE oid = to_regclass($1)", quoteQualified(Postgres, r.tableParts)).Scan(&n, &kind)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return 0, r.wrap(err, "estimating rows")
		}
		if err == nil && n != nil && *n >= 0 {
			return int64(*n), nil
		}
		if statsOnly && err == nil && n != nil && kind != nil && (*kind == "r" || *kind == "m") {
			// A table never analyzed (reltuples -1): the planner would assume 10 pages
			// of rows for a small one, thousands of rows that look real. Unknown.
			return -1, nil
		}
		// A view or a partitioned table (its partitions' statistics): ask the planner.
	}
	all, err := pgColumns(ctx, conn, r)
	if err != nil {
		return 0, err
	}
	if len(r.Columns) == 0 {
		// The columns Discover gives: one the role may not read fails the EXPLAIN.
		all = slices.DeleteFunc(all, func(c colInfo) bool { return c.unreadable })
	}
	_, stmt, _, err := r.plan(all)
	if err != nil {
		return 0, r.wrap(err, "")
	}
	var plan []byte
	if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+stmt).Scan(&plan); err != nil {
		return 0, r.wrap(err, "estimating rows")
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &out); err != nil || len(out) == 0 {
		return -1, nil
	}
	return int64(out[0].Plan.Rows), nil
}
