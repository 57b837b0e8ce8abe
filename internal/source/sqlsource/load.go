package sqlsource

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// LoadColumn is one column of a table LoadTable creates.
type LoadColumn struct {
	Name string
	// Type is the engine type the values are meant as; it chooses the SQL type
	// (see LoadTable). Empty means string.
	Type diff.Type
}

// LoadOptions configure LoadTable.
type LoadOptions struct {
	// Columns are the reader's columns to load, with their types (default: every
	// column of the reader, as strings).
	Columns []LoadColumn
	// Index lists the columns of a plain (not unique) index, created after loading:
	// the key columns. It is not a primary key because the data may hold duplicate
	// and NULL keys. On PostgreSQL, text columns are indexed COLLATE "C" (byte order,
	// the order of ordered scans).
	Index []string
	// PrimaryKey makes the Index columns the table's PRIMARY KEY instead of a plain
	// index (for data without duplicate, NULL or empty keys, such as a production
	// table): the database then knows each key occurs once, which lets checksum
	// bisection skip counting distinct keys. A duplicate or NULL key fails the load.
	// Text key columns are declared COLLATE "C" on PostgreSQL (the key's index is then
	// in byte order) and utf8mb4_bin on MySQL (keys differing in case are distinct);
	// on MySQL a key too long for a full index is an error.
	PrimaryKey bool
	// TextFallback creates a typed column as text when one of its values cannot be
	// stored in its SQL type exactly (a value the engine cannot parse as that type,
	// such as "12,5x" for a decimal, or one out of the database's range), so that
	// such a value is loaded as it was read. Without it such a value is an error.
	TextFallback bool
	// Replace drops the table first if it exists.
	Replace bool
}

// LoadResult tells what LoadTable did.
type LoadResult struct {
	Rows int64
	// Columns are the table's columns: Type is the engine type the SQL type reads as
	// (string for a column that fell back to text), NativeType the SQL type.
	Columns []Column
}

// LoadTable creates cfg.Table and fills it with the rows of the reader open returns.
// open is called twice: a first pass chooses the SQL types (MySQL DECIMAL(p,s) and
// VARCHAR(n) need the data's precision and lengths; TextFallback needs to know which
// columns hold unparsable values), the second loads. Each reader is closed.
//
// SQL types by engine type (PostgreSQL / MySQL): string text / VARCHAR(n) or TEXT;
// integer bigint / BIGINT (numeric / DECIMAL(65,0) past int64); decimal numeric /
// DECIMAL(p,s) with the data's largest precision and scale; timestamp timestamptz /
// DATETIME(6) holding the wall-clock time in cfg.TimeZone (UTC by default: read the
// table back with the same TimeZone); date date / DATE; boolean boolean / BOOLEAN; json
// jsonb / JSON.
//
// Values are written as the engine parses them: a timestamp's instant (any zone or
// format the engine accepts), a date, a boolean, an integer canonically; a decimal
// as written when it is plain ([-]digits[.digits]: PostgreSQL keeps its scale,
// "10.50" stays "10.50"), canonically otherwise; strings and JSON as they are.
//
// PostgreSQL is loaded with COPY FROM STDIN (text format, streamed); MySQL with
// multi-row INSERTs of up to 1000 rows. Memory does not grow with the data.
func LoadTable(ctx context.Context, cfg Config, open func() (diff.Reader, error), opts LoadOptions) (*LoadResult, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	if r.Query != "" || r.Table == "" {
		return nil, errors.New("sqlsource: LoadTable needs Table (and no Query)")
	}
	if err := r.checkDataset(); err != nil {
		return nil, err
	}
	if opts.PrimaryKey && len(opts.Index) == 0 {
		return nil, errors.New("sqlsource: LoadOptions.PrimaryKey needs the key columns in Index")
	}
	plan, err := scanForLoad(r, open, opts)
	if err != nil {
		return nil, err
	}
	switch r.Driver {
	case Postgres:
		err = loadPostgres(ctx, r, open, plan, opts)
	default:
		err = loadMySQL(ctx, r, open, plan, opts)
	}
	if err != nil {
		return nil, err
	}
	res := &LoadResult{Rows: plan.rows}
	for _, c := range plan.cols {
		res.Columns = append(res.Columns, Column{Name: c.name, Type: c.typ, NativeType: c.sqlType, Nullable: true})
	}
	return res, nil
}

// loadCol is one column's statistics (first pass) and SQL type.
type loadCol struct {
	name     string
	idx      int       // index in the reader's columns
	declared diff.Type // as asked
	typ      diff.Type // as created (string when it fell back)
	index    bool      // part of the index
	fits     bool
	bad      string // the first value that does not fit, for the error
	badPos   string
	maxRunes int
	maxBytes int
	intDig   int // decimals: largest number of integer digits
	scale    int // decimals: largest number of fraction digits
	bigInt   bool
	sqlType  string
}

type loadPlan struct {
	cols []*loadCol
	rows int64
}

func readerColumns(rd diff.Reader, opts LoadOptions) ([]*loadCol, error) {
	names := rd.Columns()
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	want := opts.Columns
	if len(want) == 0 {
		for _, n := range names {
			want = append(want, LoadColumn{Name: n})
		}
	}
	var cols []*loadCol
	for _, w := range want {
		i, ok := idx[w.Name]
		if !ok {
			return nil, fmt.Errorf("sqlsource: column %q is not in %s (columns: %s)", w.Name, rd.Position(), strings.Join(names, ", "))
		}
		t := w.Type
		if t == "" {
			t = diff.TypeString
		}
		if !knownType(t) {
			return nil, fmt.Errorf("sqlsource: column %q: unknown type %q", w.Name, w.Type)
		}
		c := &loadCol{name: w.Name, idx: i, declared: t, fits: true}
		for _, k := range opts.Index {
			if k == w.Name {
				c.index = true
			}
		}
		cols = append(cols, c)
	}
	for _, k := range opts.Index {
		found := false
		for _, c := range cols {
			found = found || c.name == k
		}
		if !found {
			return nil, fmt.Errorf("sqlsource: index column %q is not loaded", k)
		}
	}
	return cols, nil
}

func knownType(t diff.Type) bool {
	switch t {
	case diff.TypeString, diff.TypeInteger, diff.TypeDecimal, diff.TypeTimestamp, diff.TypeDate, diff.TypeBoolean, diff.TypeJSON:
		return true
	}
	return false
}

// plainDecimal reports whether s is [-]digits[.digits], returning the number of
// integer digits (without leading zeros) and fraction digits.
func plainDecimal(s string) (intDigits, scale int, ok bool) {
	s = strings.TrimPrefix(s, "-")
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" || (dot && fp == "") {
		return 0, 0, false
	}
	for _, x := range []string{ip, fp} {
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return 0, 0, false
			}
		}
	}
	ip = strings.TrimLeft(ip, "0")
	return len(ip), len(fp), true
}

// scanForLoad is the first pass.
func scanForLoad(r *resolved, open func() (diff.Reader, error), opts LoadOptions) (*loadPlan, error) {
	rd, err := open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = rd.Close() }()
	cols, err := readerColumns(rd, opts)
	if err != nil {
		return nil, err
	}
	p := &loadPlan{cols: cols}
	for {
		cells, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sqlsource: reading %s: %w", rd.Position(), err)
		}
		p.rows++
		for _, c := range cols {
			if c.idx >= len(cells) {
				return nil, fmt.Errorf("sqlsource: %s: row has %d values", rd.Position(), len(cells))
			}
			cell := cells[c.idx]
			if cell.Null {
				continue
			}
			c.maxRunes = max(c.maxRunes, utf8.RuneCountInString(cell.Text))
			c.maxBytes = max(c.maxBytes, len(cell.Text))
			if !c.fits || c.declared == diff.TypeString {
				continue
			}
			if why := c.observe(r.Driver, cell.Text); why != "" {
				c.fits, c.bad, c.badPos = false, why, rd.Position()
			}
		}
	}
	for _, c := range cols {
		c.typ = c.declared
		if !c.fits {
			if !opts.TextFallback {
				return nil, fmt.Errorf("sqlsource: column %q at %s: %s (set TextFallback to load such a column as text)", c.name, c.badPos, c.bad)
			}
			c.typ = diff.TypeString
		}
		c.sqlType = c.chooseSQLType(r.Driver)
	}
	return p, nil
}

// observe records one non-NULL value of a typed column, or says why it cannot be
// stored exactly.
func (c *loadCol) observe(d Driver, text string) string {
	col := diff.Column{Name: c.name, Type: c.declared}
	canon, err := col.Normalize(text)
	if err != nil {
		var ve *diff.ValueError
		if errors.As(err, &ve) {
			return ve.Value + " " + ve.Problem
		}
		return err.Error()
	}
	switch c.declared {
	case diff.TypeInteger:
		if _, err := strconv.ParseInt(canon, 10, 64); err != nil {
			c.bigInt = true
			if len(strings.TrimPrefix(canon, "-")) > 65 && d == MySQL {
				return strconv.Quote(text) + " has more than 65 digits"
			}
		}
	case diff.TypeDecimal:
		ip, sc, ok := plainDecimal(strings.TrimSpace(text))
		if !ok {
			ip, sc, _ = plainDecimal(canon)
		}
		c.intDig, c.scale = max(c.intDig, ip), max(c.scale, sc)
		if d == MySQL && (c.scale > 30 || c.intDig+c.scale > 65) {
			return strconv.Quote(text) + " needs more than DECIMAL(65,30)"
		}
	case diff.TypeTimestamp:
		t, err := time.Parse(time.RFC3339Nano, canon)
		if err != nil {
			return strconv.Quote(text) + " " + err.Error()
		}
		if t.Nanosecond()%1000 != 0 {
			return strconv.Quote(text) + " has more than microsecond precision"
		}
		if d == MySQL && t.Year() < 1000 {
			return strconv.Quote(text) + " is before the year 1000 (DATETIME)"
		}
	case diff.TypeDate:
		if d == MySQL && canon < "1000" {
			return strconv.Quote(text) + " is before the year 1000 (DATE)"
		}
	}
	return ""
}

func (c *loadCol) chooseSQLType(d Driver) string {
	if d == Postgres {
		switch c.typ {
		case diff.TypeInteger:
			if c.bigInt {
				return "numeric"
			}
			return "bigint"
		case diff.TypeDecimal:
			return "numeric"
		case diff.TypeTimestamp:
			return "timestamptz"
		case diff.TypeDate:
			return "date"
		case diff.TypeBoolean:
			return "boolean"
		case diff.TypeJSON:
			return "jsonb"
		}
		return "text"
	}
	switch c.typ {
	case diff.TypeInteger:
		if c.bigInt {
			return "DECIMAL(65,0)"
		}
		return "BIGINT"
	case diff.TypeDecimal:
		p := max(c.intDig+c.scale, 1)
		return fmt.Sprintf("DECIMAL(%d,%d)", p, c.scale)
	case diff.TypeTimestamp:
		return "DATETIME(6)"
	case diff.TypeDate:
		return "DATE"
	case diff.TypeBoolean:
		return "BOOLEAN"
	case diff.TypeJSON:
		return "JSON"
	}
	switch {
	case c.maxRunes <= 255 || (c.index && c.maxRunes <= 16383):
		return fmt.Sprintf("VARCHAR(%d)", max(c.maxRunes, 1))
	case c.maxBytes <= 65535:
		return "TEXT"
	}
	return "LONGTEXT"
}

// value is the text written for a non-NULL value.
func (c *loadCol) value(d Driver, text string, loc *time.Location) (string, error) {
	if c.typ == diff.TypeString {
		return text, nil
	}
	if c.typ == diff.TypeJSON {
		return strings.TrimSpace(text), nil
	}
	if c.typ == diff.TypeDecimal {
		if t := strings.TrimSpace(text); func() bool { _, _, ok := plainDecimal(t); return ok }() {
			return t, nil
		}
	}
	canon, err := diff.Column{Name: c.name, Type: c.typ}.Normalize(text)
	if err != nil {
		return "", err
	}
	switch c.typ {
	case diff.TypeTimestamp:
		if d == MySQL {
			t, err := time.Parse(time.RFC3339Nano, canon)
			if err != nil {
				return "", err
			}
			return t.In(loc).Format(mysqlTimeLayout), nil
		}
	case diff.TypeBoolean:
		if d == MySQL {
			if canon == "true" {
				return "1", nil
			}
			return "0", nil
		}
	}
	return canon, nil
}

// eachRow runs fn for every row of a new reader (the second pass).
func eachRow(open func() (diff.Reader, error), fn func(cells []diff.Cell, pos func() string) error) error {
	rd, err := open()
	if err != nil {
		return err
	}
	defer func() { _ = rd.Close() }()
	for {
		cells, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlsource: reading %s: %w", rd.Position(), err)
		}
		if err := fn(cells, rd.Position); err != nil {
			return err
		}
	}
}

func appendCopyText(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; b {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

func columnList(d Driver, cols []*loadCol) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(d, c.name)
	}
	return strings.Join(q, ", ")
}

// columnNames is the quoted, comma-separated list of names.
func columnNames(d Driver, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(d, n)
	}
	return strings.Join(q, ", ")
}

func loadPostgres(ctx context.Context, r *resolved, open func() (diff.Reader, error), p *loadPlan, opts LoadOptions) error {
	conn, err := pgConnect(ctx, r, false)
	if err != nil {
		return err
	}
	defer closePG(conn)
	table := quoteQualified(Postgres, r.tableParts)
	if opts.Replace {
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			return r.wrap(err, "dropping the table")
		}
	}
	defs := make([]string, len(p.cols))
	for i, c := range p.cols {
		defs[i] = quoteIdent(Postgres, c.name) + " " + c.sqlType
		if opts.PrimaryKey && c.index && c.sqlType == "text" {
			defs[i] += ` COLLATE "C"`
		}
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return r.wrap(err, "creating the table")
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		var line []byte
		err := eachRow(open, func(cells []diff.Cell, pos func() string) error {
			line = line[:0]
			for i, c := range p.cols {
				if i > 0 {
					line = append(line, '\t')
				}
				cell := cells[c.idx]
				if cell.Null {
					line = append(line, '\\', 'N')
					continue
				}
				v, err := c.value(Postgres, cell.Text, r.loc)
				if err != nil {
					return fmt.Errorf("sqlsource: %s: %w", pos(), err)
				}
				line = appendCopyText(line, v)
			}
			line = append(line, '\n')
			_, err := bw.Write(line)
			return err
		})
		if err == nil {
			err = bw.Flush()
		}
		_ = pw.CloseWithError(err)
		done <- err
	}()
	_, err = conn.PgConn().CopyFrom(ctx, pr, "COPY "+table+" ("+columnList(Postgres, p.cols)+") FROM STDIN")
	_ = pr.CloseWithError(errors.New("copy ended"))
	werr := <-done
	if werr != nil && !strings.Contains(werr.Error(), "copy ended") {
		return r.wrap(werr, "loading")
	}
	if err != nil {
		return r.wrap(err, "loading")
	}
	if len(opts.Index) > 0 {
		q := make([]string, len(opts.Index))
		for i, k := range opts.Index {
			q[i] = quoteIdent(Postgres, k)
			for _, c := range p.cols {
				if c.name == k && c.sqlType == "text" {
					// Byte order, the order ordered scans and checksum segments use.
					q[i] += ` COLLATE "C"`
				}
			}
		}
		stmt := "CREATE INDEX ON " + table + " (" + strings.Join(q, ", ") + ")"
		if opts.PrimaryKey {
			// The key columns are declared COLLATE "C" (see defs): no per-column collation.
			stmt = "ALTER TABLE " + table + " ADD PRIMARY KEY (" + columnNames(Postgres, opts.Index) + ")"
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return r.wrap(err, "creating the index")
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE "+table); err != nil {
		return r.wrap(err, "analyzing")
	}
	return nil
}

func loadMySQL(ctx context.Context, r *resolved, open func() (diff.Reader, error), p *loadPlan, opts LoadOptions) error {
	db, conn, err := mysqlOpen(ctx, r, false)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(); _ = db.Close() }()
	table := quoteQualified(MySQL, r.tableParts)
	if opts.Replace {
		if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			return r.wrap(err, "dropping the table")
		}
	}
	defs := make([]string, len(p.cols))
	for i, c := range p.cols {
		defs[i] = quoteIdent(MySQL, c.name) + " " + c.sqlType + " NULL"
		if opts.PrimaryKey && c.index && c.typ == diff.TypeString {
			// Keys that differ only in case or accents are distinct keys: compare bytes
			// (the default collation would refuse them as duplicates; trailing spaces
			// still compare equal, PAD SPACE, and such a load fails).
			defs[i] = quoteIdent(MySQL, c.name) + " " + c.sqlType + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL"
		}
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE "+table+" ("+strings.Join(defs, ", ")+") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"); err != nil {
		return r.wrap(err, "creating the table")
	}
	const maxRows, maxBytes = 1000, 1 << 20
	prefix := "INSERT INTO " + table + " (" + columnList(MySQL, p.cols) + ") VALUES "
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(p.cols)), ", ") + ")"
	var args []any
	rows, size := 0, 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		stmt := prefix + strings.TrimSuffix(strings.Repeat(tuple+", ", rows), ", ")
		if _, err := conn.ExecContext(ctx, stmt, args...); err != nil {
			return r.wrap(err, "loading")
		}
		args, rows, size = args[:0], 0, 0
		return nil
	}
	err = eachRow(open, func(cells []diff.Cell, pos func() string) error {
		for _, c := range p.cols {
			cell := cells[c.idx]
			if cell.Null {
				args = append(args, nil)
				continue
			}
			v, err := c.value(MySQL, cell.Text, r.loc)
			if err != nil {
				return fmt.Errorf("sqlsource: %s: %w", pos(), err)
			}
			args = append(args, strings.Clone(v))
			size += len(v) + 4
		}
		rows++
		if rows >= maxRows || size >= maxBytes {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if len(opts.Index) > 0 {
		q := make([]string, len(opts.Index))
		for i, k := range opts.Index {
			q[i] = quoteIdent(MySQL, k)
			for _, c := range p.cols {
				if c.name == k && (strings.HasSuffix(c.sqlType, "TEXT") || (strings.HasPrefix(c.sqlType, "VARCHAR") && c.maxRunes > 191)) {
					q[i] += "(191)"
				}
			}
		}
		stmt := "CREATE INDEX " + quoteIdent(MySQL, "idx_"+strings.Join(opts.Index, "_")) + " ON " + table + " (" + strings.Join(q, ", ") + ")"
		if opts.PrimaryKey {
			if slices.ContainsFunc(q, func(s string) bool { return strings.HasSuffix(s, "(191)") }) {
				return r.wrap(errors.New("a key column is too long for a primary key"), "creating the primary key")
			}
			stmt = "ALTER TABLE " + table + " ADD PRIMARY KEY (" + strings.Join(q, ", ") + ")"
		}
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return r.wrap(err, "creating the index")
		}
	}
	if _, err := conn.ExecContext(ctx, "ANALYZE TABLE "+table); err != nil {
		return r.wrap(err, "analyzing")
	}
	return nil
}
