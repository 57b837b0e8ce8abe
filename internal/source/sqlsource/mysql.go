package sqlsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

func mysqlTLS(r *resolved) (*tls.Config, string, error) {
	switch r.TLS {
	case TLSDisable:
		return nil, "false", nil
	case TLSPrefer:
		return nil, "preferred", nil
	}
	roots := r.RootCAs
	if roots == nil && r.RootCA != "" {
		pem, err := os.ReadFile(r.RootCA)
		if err != nil {
			return nil, "", fmt.Errorf("sqlsource: root CA: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("sqlsource: root CA %s holds no PEM certificate", r.RootCA)
		}
	}
	return clientTLS(r.TLS, r.Host, roots), "", nil
}

// clientTLS is the TLS configuration of mode require, verify-ca or verify-full, with
// libpq's meanings, trusting roots (nil: the system's).
func clientTLS(mode TLSMode, host string, roots *x509.CertPool) *tls.Config {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch mode {
	case TLSRequire:
		tc.InsecureSkipVerify = true
	case TLSVerifyFull:
		tc.RootCAs = roots
		tc.ServerName = host
	case TLSVerifyCA:
		// Verify the chain, not the name (libpq's verify-ca).
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = verifyChain(roots)
	}
	return tc
}

// verifyChain verifies the server's certificate chain against roots (nil: the
// system's), not its name.
func verifyChain(roots *x509.CertPool) func(raw [][]byte, _ [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("the server sent no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, b := range raw {
			c, err := x509.ParseCertificate(b)
			if err != nil {
				return err
			}
			certs[i] = c
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := certs[0].Verify(opts)
		return err
	}
}

func mysqlConfig(r *resolved) (*mysql.Config, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.DBName = r.User, r.Password, r.Database
	if strings.HasPrefix(r.Host, "/") {
		mc.Net, mc.Addr = "unix", r.Host
	} else {
		mc.Net, mc.Addr = "tcp", net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	}
	mc.Timeout = r.ConnectTimeout
	mc.Logger = &mysql.NopLogger{}
	mc.InterpolateParams = true
	mc.Params = map[string]string{
		// TIMESTAMP columns are sent in UTC; DATETIME as stored.
		"time_zone": "'+00:00'",
		// A slow reader (rate-limited run) must not be cut off while the server
		// waits to send.
		"net_write_timeout": "86400",
	}
	tc, name, err := mysqlTLS(r)
	if err != nil {
		return nil, err
	}
	mc.TLS, mc.TLSConfig = tc, name
	return mc, nil
}

// mysqlOpen returns a pool of at most one connection and that connection.
func mysqlOpen(ctx context.Context, r *resolved, readOnly bool) (*sql.DB, *sql.Conn, error) {
	mc, err := mysqlConfig(r)
	if err != nil {
		return nil, nil, err
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, nil, r.wrap(err, "connection settings")
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	cctx, cancel := context.WithTimeout(ctx, r.ConnectTimeout)
	defer cancel()
	conn, err := db.Conn(cctx)
	if err == nil {
		err = conn.PingContext(cctx)
	}
	if err == nil && readOnly {
		_, err = conn.ExecContext(cctx, "SET SESSION TRANSACTION READ ONLY")
	}
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		_ = db.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, nil, r.wrap(err, "connecting")
	}
	return db, conn, nil
}

var reJSONCheck = regexp.MustCompile("^json_valid\\(`((?:[^`]|``)+)`\\)$")

func mysqlColumn(name, dataType, columnType string, nullable bool, r *resolved) colInfo {
	dt := strings.ToLower(dataType)
	ct := strings.ToLower(columnType)
	c := colInfo{Column: Column{Name: name, NativeType: ct, Nullable: nullable, Type: "string"}, base: dt, order: oCastText}
	if c.NativeType == "" {
		c.NativeType = dt
	}
	dt = strings.TrimPrefix(dt, "unsigned ")
	switch dt {
	case "tinyint":
		if strings.HasPrefix(ct, "tinyint(1)") && !r.TinyIntAsInteger {
			c.Type, c.order, c.render = "boolean", oBoolean, rTinyBool
		} else {
			c.Type, c.order = "integer", oInteger
		}
	case "smallint", "mediumint", "int", "integer", "bigint", "year":
		c.Type, c.order = "integer", oInteger
	case "decimal", "numeric":
		c.Type, c.order = "decimal", oDecimal
	case "float":
		c.Type, c.order, c.render, c.cast = "decimal", oFloat, rFloat32, "DOUBLE"
	case "double", "real", "double precision":
		c.Type, c.order, c.render = "decimal", oFloat, rFloat64
	case "bit":
		if ct == "bit(1)" {
			c.Type, c.order, c.render = "boolean", oBoolean, rBitBool
		} else {
			c.Type, c.order, c.render = "integer", oInteger, rBitInt
		}
	case "date":
		c.Type, c.order = "date", oDate
	case "datetime":
		c.Type, c.order, c.render = "timestamp", oTimestamp, rTimestampL
	case "timestamp":
		c.Type, c.order, c.render, c.utc = "timestamp", oTimestamp, rTimestampL, true
	case "json":
		c.Type, c.order = "json", oNone
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		c.order, c.render = oBinary, rHex
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		c.order = oText
	}
	return c
}

// mysqlColumns discovers the columns of the table (information_schema.COLUMNS, and
// MariaDB's JSON columns, which are LONGTEXT with a json_valid check) or of the query
// (its result set's field descriptions, which do not tell TINYINT(1) or BIT(1) from
// other integers: a query's such columns are integers).
func mysqlColumns(ctx context.Context, conn *sql.Conn, r *resolved) ([]colInfo, error) {
	if r.Query != "" {
		rows, err := conn.QueryContext(ctx, "SELECT * FROM "+r.from()+" LIMIT 0")
		if err != nil {
			return nil, r.wrap(err, "describing the query")
		}
		defer func() { _ = rows.Close() }()
		types, err := rows.ColumnTypes()
		if err != nil {
			return nil, r.wrap(err, "describing the query")
		}
		cols := make([]colInfo, len(types))
		for i, t := range types {
			dt := strings.ToLower(t.DatabaseTypeName())
			ct := strings.TrimPrefix(dt, "unsigned ")
			if p, s, ok := t.DecimalSize(); ok && ct == "decimal" {
				ct = fmt.Sprintf("decimal(%d,%d)", p, s)
			}
			if strings.HasPrefix(dt, "unsigned ") {
				ct += " unsigned"
			}
			if ct == "tinyint" || ct == "bit" {
				ct += "(n)" // the length is not in the result's metadata
			}
			cols[i] = mysqlColumn(t.Name(), dt, ct, true, r)
		}
		return cols, rows.Err()
	}
	var schema any
	table := r.tableParts[len(r.tableParts)-1]
	if len(r.tableParts) == 2 {
		schema = r.tableParts[0]
	}
	rows, err := conn.QueryContext(ctx, `
SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE = 'YES', TABLE_SCHEMA
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?
ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, r.wrap(err, "discovering columns")
	}
	var cols []colInfo
	var schemaName string
	for rows.Next() {
		var name, dt, ct string
		var nullable bool
		if err := rows.Scan(&name, &dt, &ct, &nullable, &schemaName); err != nil {
			_ = rows.Close()
			return nil, r.wrap(err, "discovering columns")
		}
		cols = append(cols, mysqlColumn(name, dt, ct, nullable, r))
	}
	if err := rows.Err(); err != nil {
		return nil, r.wrap(err, "discovering columns")
	}
	_ = rows.Close()
	if len(cols) == 0 {
		if schema == nil && r.Database == "" {
			return nil, r.wrap(errors.New("no database selected: name it in the URI or as database.table"), "")
		}
		return nil, r.wrap(errors.New("no such table or view (or not visible to this user)"), "")
	}
	// MariaDB: JSON is LONGTEXT CHECK (json_valid(`col`)). MySQL has no TABLE_NAME
	// in CHECK_CONSTRAINTS (and a real JSON type): the query fails and is ignored.
	checks, err := conn.QueryContext(ctx, `
SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, schemaName, table)
	if err == nil {
		for checks.Next() {
			var clause string
			if checks.Scan(&clause) != nil {
				break
			}
			if m := reJSONCheck.FindStringSubmatch(strings.TrimSpace(clause)); m != nil {
				name := strings.ReplaceAll(m[1], "``", "`")
				for i := range cols {
					if cols[i].Name == name && cols[i].order == oText {
						cols[i].Type, cols[i].order = "json", oNone
						cols[i].NativeType = "json"
					}
				}
			}
		}
		_ = checks.Close()
	}
	return cols, nil
}

func discoverMySQL(ctx context.Context, r *resolved) ([]colInfo, error) {
	db, conn, err := mysqlOpen(ctx, r, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(); _ = db.Close() }()
	return mysqlColumns(ctx, conn, r)
}

// myRows streams one query's rows (the driver reads them off the socket as Next is
// called; the server sends as the socket allows).
type myRows struct {
	db     *sql.DB
	conn   *sql.Conn
	rows   *sql.Rows
	cancel context.CancelFunc // the query's own context: cancelling it drops the connection
	stop   func() bool        // stops the KILL QUERY that the query's context ending sends
	raw    []sql.RawBytes
	dest   []any
	vals   [][]byte
}

func (m *myRows) next() ([][]byte, bool, error) {
	if !m.rows.Next() {
		err := m.rows.Err()
		if err == nil {
			m.stop() // the statement is over: nothing to kill
		}
		return nil, false, err
	}
	if err := m.rows.Scan(m.dest...); err != nil {
		return nil, false, err
	}
	for i, b := range m.raw {
		m.vals[i] = b // nil for NULL, non-nil (maybe empty) otherwise
	}
	return m.vals, true, nil
}

func (m *myRows) abort() {
	// The driver drains unread rows on Close unless its connection is gone:
	// cancelling the query's context makes it close the socket first.
	m.cancel()
	_ = m.rows.Close()
	_ = m.conn.Close()
	_ = m.db.Close()
}

func (m *myRows) close() error {
	m.stop()
	err := m.rows.Close()
	if e := m.conn.Close(); err == nil {
		err = e
	}
	if e := m.db.Close(); err == nil {
		err = e
	}
	m.cancel()
	return err
}

func openMySQL(ctx context.Context, rd *Reader) error {
	r := rd.r
	db, conn, err := mysqlOpen(ctx, r, true)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		_ = conn.Close()
		_ = db.Close()
		return err
	}
	all, err := mysqlColumns(ctx, conn, r)
	if err != nil {
		return fail(err)
	}
	cols, stmt, orderBy, err := r.plan(all)
	if err != nil {
		return fail(r.wrap(err, ""))
	}
	var connID int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
		return fail(r.wrap(err, "connecting"))
	}
	qctx, cancel := context.WithCancel(ctx)
	// The driver only drops the connection when the context ends; the server would
	// go on with the statement (a long sort, a SLEEP) until it next writes. Kill it.
	stop := context.AfterFunc(qctx, func() { killQuery(r, connID) })
	rows, err := conn.QueryContext(qctx, stmt)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return fail(r.wrap(err, "starting the scan"))
	}
	names, err := rows.Columns()
	if err == nil && len(names) != len(cols) {
		err = fmt.Errorf("the scan returns %d columns, expected %d", len(names), len(cols))
	}
	if err != nil {
		cancel()
		_ = rows.Close()
		return fail(r.wrap(err, "starting the scan"))
	}
	m := &myRows{db: db, conn: conn, rows: rows, cancel: cancel, stop: stop,
		raw: make([]sql.RawBytes, len(cols)), dest: make([]any, len(cols)), vals: make([][]byte, len(cols))}
	for i := range m.raw {
		m.dest[i] = &m.raw[i]
	}
	rd.cols, rd.orderBy = cols, orderBy
	rd.src = m
	return nil
}

// killQuery stops the statement running on connection id, from a new connection.
func killQuery(r *resolved, id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rr := *r
	rr.Database = "" // it may be gone by now
	db, conn, err := mysqlOpen(ctx, &rr, false)
	if err != nil {
		return
	}
	defer func() { _ = conn.Close(); _ = db.Close() }()
	_, _ = conn.ExecContext(ctx, "KILL QUERY "+strconv.FormatInt(id, 10))
}

func estimateMySQL(ctx context.Context, r *resolved) (int64, error) {
	db, conn, err := mysqlOpen(ctx, r, true)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close(); _ = db.Close() }()
	if r.Query == "" && strings.TrimSpace(r.Filter) == "" {
		var schema any
		if len(r.tableParts) == 2 {
			schema = r.tableParts[0]
		}
		var n sql.NullInt64
		err := conn.QueryRowContext(ctx, `
SELECT TABLE_ROWS FROM information_schema.TABLES
WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`, schema, r.tableParts[len(r.tableParts)-1]).Scan(&n)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return 0, r.wrap(errors.New("no such table or view"), "estimating rows")
		case err != nil:
			return 0, r.wrap(err, "estimating rows")
		case n.Valid:
			return n.Int64, nil
		}
		// A view: ask the optimizer.
	}
	all, err := mysqlColumns(ctx, conn, r)
	if err != nil {
		return 0, err
	}
	_, stmt, _, err := r.plan(all)
	if err != nil {
		return 0, r.wrap(err, "")
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+stmt)
	if err != nil {
		return 0, r.wrap(err, "estimating rows")
	}
	defer func() { _ = rows.Close() }()
	names, err := rows.Columns()
	if err != nil {
		return 0, r.wrap(err, "estimating rows")
	}
	rowsIdx, filteredIdx := -1, -1
	for i, n := range names {
		switch strings.ToLower(n) {
		case "rows":
			rowsIdx = i
		case "filtered":
			filteredIdx = i
		}
	}
	var est int64 = -1
	lines := 0
	for rows.Next() {
		lines++
		raw := make([]sql.NullString, len(names))
		dest := make([]any, len(names))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return 0, r.wrap(err, "estimating rows")
		}
		if rowsIdx < 0 || !raw[rowsIdx].Valid {
			continue
		}
		n, err := strconv.ParseFloat(raw[rowsIdx].String, 64)
		if err != nil {
			continue
		}
		if filteredIdx >= 0 && raw[filteredIdx].Valid {
			if f, err := strconv.ParseFloat(raw[filteredIdx].String, 64); err == nil {
				n = n * f / 100
			}
		}
		est = int64(n)
	}
	if err := rows.Err(); err != nil {
		return 0, r.wrap(err, "estimating rows")
	}
	if lines != 1 {
		return -1, nil // several tables: no single estimate
	}
	return est, nil
}

// mysqlTimeLayout is how DATETIME values are written to MySQL.
const mysqlTimeLayout = "2006-01-02 15:04:05.999999"
