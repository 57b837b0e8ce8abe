// Package probe checks that a DataSource can be read and learns its schema: for
// PostgreSQL and MySQL it connects with the resolved credentials, discovers the table's
// or query's columns from the catalog and estimates its rows from the statistics
// (never a count); for files it opens the file and reads its header (CSV), its schema
// (Parquet) or its first object (JSON Lines); for Kafka it asks the brokers for the
// topic's partitions and end offsets.
//
// It knows nothing of controller-runtime: it takes a connect.Source and returns plain
// values. Errors are *Error, which say which stage failed (so a caller can tell an
// unreachable server from a missing table) with a reason from a closed set, and name
// the DataSource. They never contain a credential.
package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// DefaultTimeout bounds a whole probe when the DataSource sets no connect timeout.
const DefaultTimeout = 30 * time.Second

// Result is what a successful probe learned.
type Result struct {
	// Columns as the source reports them, in the source's order.
	Columns []chv1.DiscoveredColumn
	// EstimatedRows from catalog statistics, Kafka end offsets or file metadata; nil
	// when the source cannot tell without reading everything.
	EstimatedRows *int64
	// Detail is a short human summary ("3 partitions", "CSV header").
	Detail string
}

// Probe checks src and discovers its schema. It is bounded by ctx and by a timeout
// derived from the DataSource's connect timeout.
func Probe(ctx context.Context, src *connect.Source) (Result, error) {
	ds := src.DataSource
	ctx, cancel := context.WithTimeout(ctx, Timeout(ds))
	defer cancel()
	var (
		res Result
		err error
	)
	switch {
	case ds.Spec.PostgreSQL != nil || ds.Spec.MySQL != nil:
		res, err = probeSQL(ctx, src)
	case ds.Spec.File != nil:
		res, err = probeFile(ctx, src)
	case ds.Spec.Kafka != nil:
		res, err = probeKafka(ctx, src)
	default:
		err = &Error{DataSource: src.Name, Reason: ReasonInvalidSpec, Stage: StageConnect,
			Err: fmt.Errorf("no connection block for type %s", ds.Spec.Type)}
	}
	if err != nil {
		return Result{}, scrub(err, src)
	}
	return res, nil
}

// Timeout is the bound of one probe: three times the connect timeout (connecting,
// discovering, estimating), DefaultTimeout when none is set.
func Timeout(ds *chv1.DataSource) time.Duration {
	var sq *chv1.SQLSource
	switch {
	case ds.Spec.PostgreSQL != nil:
		sq = ds.Spec.PostgreSQL
	case ds.Spec.MySQL != nil:
		sq = ds.Spec.MySQL
	}
	if sq != nil && sq.ConnectTimeout != nil && sq.ConnectTimeout.Duration > 0 {
		return 3 * sq.ConnectTimeout.Duration
	}
	return DefaultTimeout
}

// probeSQL discovers every column (not only the keys: a missing key is reported by
// the caller as drift, not as an unreachable source) and estimates the rows.
func probeSQL(ctx context.Context, src *connect.Source) (Result, error) {
	cfg, err := src.SQLConfig(connect.OpenOptions{})
	if err != nil {
		return Result{}, &Error{DataSource: src.Name, Stage: StageConnect, Reason: ReasonInvalidSpec, Err: err}
	}
	cfg.Keys, cfg.Columns = nil, nil
	cols, err := sqlsource.Discover(ctx, cfg)
	if err != nil {
		return Result{}, classifySQL(src.Name, err)
	}
	res := Result{Columns: make([]chv1.DiscoveredColumn, len(cols))}
	for i, c := range cols {
		res.Columns[i] = chv1.DiscoveredColumn{Name: c.Name, Type: ColumnType(c.Type), NativeType: c.NativeType, Nullable: c.Nullable}
	}
	n, err := sqlsource.StatisticsRows(ctx, cfg)
	if err != nil {
		return Result{}, classifySQL(src.Name, err)
	}
	if n >= 0 {
		res.EstimatedRows = &n
	}
	res.Detail = fmt.Sprintf("%d columns", len(cols))
	return res, nil
}

// ColumnType maps an engine type to the API's column type.
func ColumnType(t diff.Type) chv1.ColumnType {
	switch t {
	case diff.TypeInteger:
		return chv1.ColumnInteger
	case diff.TypeDecimal:
		return chv1.ColumnDecimal
	case diff.TypeTimestamp:
		return chv1.ColumnTimestamp
	case diff.TypeDate:
		return chv1.ColumnDate
	case diff.TypeBoolean:
		return chv1.ColumnBoolean
	case diff.TypeJSON:
		return chv1.ColumnJSON
	}
	return chv1.ColumnString
}

// scrub is the last line of defence: whatever an error says, the password of src
// does not reach a status, an event or a log through it.
func scrub(err error, src *connect.Source) error {
	c := src.Credential()
	if c == nil || c.Password == "" || !strings.Contains(err.Error(), c.Password) {
		return err
	}
	var pe *Error
	if errors.As(err, &pe) {
		return &Error{DataSource: pe.DataSource, Stage: pe.Stage, Reason: pe.Reason,
			Err: errors.New(strings.ReplaceAll(pe.Err.Error(), c.Password, "********"))}
	}
	return errors.New(strings.ReplaceAll(err.Error(), c.Password, "********"))
}
