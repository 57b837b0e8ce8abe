package sqlsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// rowSource is one running query: rows of raw text values (nil for NULL).
type rowSource interface {
	// next returns the next row's values, valid until the next call; ok false at the
	// end (err nil) or on an error.
	next() (vals [][]byte, ok bool, err error)
	// abort stops the query early (the rows are not drained) and frees everything.
	abort()
	// close frees everything after the end.
	close() error
}

// Reader reads the rows of a table or query. It is a diff.Reader; Open returns it
// wrapped as a diff.OrderedReader when Config.Ordered is set.
type Reader struct {
	r       *resolved
	cols    []colInfo
	names   []string
	src     rowSource
	cancel  context.CancelFunc
	cells   []diff.Cell
	buf     []byte
	n       int64
	pos     string
	posN    int64
	err     error // sticky: io.EOF or a fatal error
	ctx     context.Context
	closed  bool
	orderBy []string
}

// Columns returns the names of the columns read, in order.
func (rd *Reader) Columns() []string { return rd.names }

// Schema returns the columns read, with their types.
func (rd *Reader) Schema() []Column {
	out := make([]Column, len(rd.cols))
	for i, c := range rd.cols {
		out[i] = c.Column
	}
	return out
}

// Position names the last row returned: "postgres table ledger.entries row 1234"
// (1-based, in the order the rows were read).
func (rd *Reader) Position() string {
	if rd.n == 0 {
		return rd.r.name()
	}
	if rd.posN != rd.n {
		rd.pos = rd.r.name() + " row " + strconv.FormatInt(rd.n, 10)
		rd.posN = rd.n
	}
	return rd.pos
}

// Next returns the next row, io.EOF at the end. The cells are valid until the next
// call. An error (the query failed, the connection broke, the context ended) is
// returned again by every later call.
func (rd *Reader) Next() ([]diff.Cell, error) {
	if rd.err != nil {
		return nil, rd.err
	}
	if rd.n&63 == 0 {
		// The drivers notice a cancelled context when they next read the socket;
		// rows already buffered would still come.
		if err := rd.ctx.Err(); err != nil {
			rd.err = rd.fail(err)
			return nil, rd.err
		}
	}
	vals, ok, err := rd.src.next()
	if !ok {
		switch {
		case err != nil:
			rd.err = rd.fail(err)
		default:
			rd.err = io.EOF
		}
		return nil, rd.err
	}
	if len(vals) != len(rd.cols) {
		rd.err = rd.r.wrap(fmt.Errorf("row has %d values, expected %d", len(vals), len(rd.cols)), "row %d", rd.n+1)
		return nil, rd.err
	}
	rd.n++
	// Render every value into one buffer, then point the cells into it. A buffer that
	// grows moves: the offsets are taken first, the strings made once it is final.
	buf := rd.buf[:0]
	var offs [64]int32
	ends := offs[:0]
	if len(vals) > len(offs) {
		ends = make([]int32, 0, len(vals))
	}
	for i, v := range vals {
		if v != nil {
			buf = appendCell(buf, v, rd.cols[i].render, rd.colLoc(i))
		}
		ends = append(ends, int32(len(buf)))
	}
	rd.buf = buf
	start := int32(0)
	for i, v := range vals {
		end := ends[i]
		if v == nil {
			rd.cells[i] = diff.Cell{Null: true}
		} else {
			rd.cells[i] = diff.Cell{Text: bstr(buf[start:end])}
		}
		start = end
	}
	return rd.cells, nil
}

func (rd *Reader) colLoc(i int) *time.Location {
	if rd.cols[i].utc {
		return time.UTC
	}
	return rd.r.loc
}

// fail turns an error of the running query into the reader's error.
func (rd *Reader) fail(err error) error {
	if cerr := rd.ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%v)", cerr, err)
	}
	return rd.r.wrap(err, "after row %d", rd.n)
}

// Close stops the query (without reading the rows left) and closes the connection.
func (rd *Reader) Close() error {
	if rd.closed {
		return nil
	}
	rd.closed = true
	if rd.err == io.EOF {
		err := rd.src.close()
		rd.cancel()
		return rd.r.wrap(err, "closing")
	}
	rd.src.abort()
	rd.cancel()
	return nil
}

type orderedReader struct{ *Reader }

// OrderedBy returns the key columns the rows are sorted by.
func (o orderedReader) OrderedBy() []string { return o.orderBy }

// Open starts reading cfg's table or query and returns a diff.Reader (a
// diff.OrderedReader when cfg.Ordered). ctx bounds the whole scan: when it ends,
// the query is cancelled and Next returns an error that matches ctx.Err() with
// errors.Is. Close the reader to free the connection.
func Open(ctx context.Context, cfg Config) (diff.Reader, error) {
	rd, err := OpenReader(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if rd.orderBy != nil {
		return orderedReader{rd}, nil
	}
	return rd, nil
}

// OpenReader is Open returning the *Reader itself (whose Schema tells the column
// types); it promises no order to the engine even when cfg.Ordered is set.
func OpenReader(ctx context.Context, cfg Config) (*Reader, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.checkDataset(); err != nil {
		return nil, err
	}
	return openResolved(ctx, r)
}

// openResolved starts the scan of a resolved and checked config.
func openResolved(ctx context.Context, r *resolved) (*Reader, error) {
	var err error
	qctx, cancel := context.WithCancel(ctx)
	rd := &Reader{r: r, ctx: qctx, cancel: cancel}
	switch r.Driver {
	case Postgres:
		err = openPostgres(qctx, rd)
	case MySQL:
		err = openMySQL(qctx, rd)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	rd.names = make([]string, len(rd.cols))
	for i, c := range rd.cols {
		rd.names[i] = c.Name
	}
	rd.cells = make([]diff.Cell, len(rd.cols))
	return rd, nil
}

// plan decides the columns to read and the statement that reads them, from the
// discovered columns of the table or query.
func (r *resolved) plan(all []colInfo) (cols []colInfo, stmt string, orderBy []string, err error) {
	byName := make(map[string]int, len(all))
	for i, c := range all {
		if _, dup := byName[c.Name]; dup && r.Query != "" {
			return nil, "", nil, fmt.Errorf("the query returns two columns named %q; alias them", c.Name)
		}
		byName[c.Name] = i
	}
	pick := func(name, what string) (colInfo, error) {
		i, ok := byName[name]
		if !ok {
			names := make([]string, len(all))
			for i, c := range all {
				names[i] = c.Name
			}
			return colInfo{}, fmt.Errorf("%s %q is not a column (columns: %s)", what, name, strings.Join(names, ", "))
		}
		return all[i], nil
	}
	if len(r.Columns) == 0 {
		cols = slices.Clone(all)
	} else {
		for _, name := range r.Columns {
			c, err := pick(name, "column")
			if err != nil {
				return nil, "", nil, err
			}
			cols = append(cols, c)
		}
	}
	var order []string
	for i, k := range r.Keys {
		c, err := pick(k, "key column")
		if err != nil {
			return nil, "", nil, err
		}
		if !slices.ContainsFunc(cols, func(x colInfo) bool { return x.Name == k }) {
			cols = append(cols, c)
		}
		if r.Ordered {
			var t diff.Type
			if i < len(r.KeyTypes) {
				t = r.KeyTypes[i]
			}
			e, err := orderExpr(r.Driver, c, t)
			if err != nil {
				return nil, "", nil, err
			}
			order = append(order, e)
		}
	}
	if len(cols) == 0 {
		return nil, "", nil, errors.New("no columns to read")
	}
	var sb strings.Builder
	sb.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(valueExpr(r.Driver, c))
		if c.cast != "" {
			sb.WriteString(" AS " + quoteIdent(r.Driver, c.Name))
		}
	}
	sb.WriteString(" FROM ")
	sb.WriteString(r.from())
	if f := strings.TrimSpace(r.Filter); f != "" {
		sb.WriteString(" WHERE (")
		sb.WriteString(f)
		sb.WriteString("\n)")
		if r.extraWhere != "" {
			sb.WriteString(" AND " + r.extraWhere)
		}
	} else if r.extraWhere != "" {
		sb.WriteString(" WHERE " + r.extraWhere)
	}
	if len(order) > 0 {
		sb.WriteString(" ORDER BY ")
		sb.WriteString(strings.Join(order, ", "))
		orderBy = slices.Clone(r.Keys)
	}
	return cols, sb.String(), orderBy, nil
}

// from is the FROM item: the quoted table, or the query as a derived table.
func (r *resolved) from() string {
	if r.Query != "" {
		return "(" + r.Query + "\n) AS q"
	}
	return quoteQualified(r.Driver, r.tableParts)
}

// bstr returns a string sharing b's memory; b is not modified while the string is in
// use (here: until the next call to Next).
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Discover returns the columns of cfg's table or query (all those the role may read,
// or those of cfg.Columns in that order), without reading rows.
func Discover(ctx context.Context, cfg Config) ([]Column, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	if err := r.checkDataset(); err != nil {
		return nil, err
	}
	var all []colInfo
	switch r.Driver {
	case Postgres:
		all, err = discoverPostgres(ctx, r)
	case MySQL:
		all, err = discoverMySQL(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	if len(r.Columns) == 0 {
		// Every column means every column the role may read, on PostgreSQL as on
		// MySQL (whose information_schema shows no other): one it may not would fail
		// every read of it with "permission denied".
		all = slices.DeleteFunc(all, func(c colInfo) bool { return c.unreadable })
	}
	r.Ordered = false
	cols, _, _, err := r.plan(all)
	if err != nil {
		return nil, r.wrap(err, "")
	}
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = c.Column
	}
	return out, nil
}

// EstimateRows estimates the number of rows cfg would read, from the database's
// statistics: for a whole table, PostgreSQL's pg_class.reltuples or MySQL's
// information_schema.TABLES.TABLE_ROWS; with a filter or for a query, the planner's
// estimate (EXPLAIN). -1 means the database could not tell (a table never analyzed
// on MySQL, a MySQL query over several tables).
func EstimateRows(ctx context.Context, cfg Config) (int64, error) {
	return estimateRows(ctx, cfg, false)
}

// StatisticsRows is EstimateRows for a status shown to people: a PostgreSQL table
// never analyzed (reltuples -1) is -1, not the planner's guess (which assumes ten
// pages of rows for a small table: thousands of rows that look real).
func StatisticsRows(ctx context.Context, cfg Config) (int64, error) {
	return estimateRows(ctx, cfg, true)
}

func estimateRows(ctx context.Context, cfg Config, statsOnly bool) (int64, error) {
	r, err := resolve(cfg)
	if err != nil {
		return 0, err
	}
	if err := r.checkDataset(); err != nil {
		return 0, err
	}
	switch r.Driver {
	case Postgres:
		return estimatePostgres(ctx, r, statsOnly)
	default:
		return estimateMySQL(ctx, r)
	}
}
