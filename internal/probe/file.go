package probe

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// probeFile opens the file as the engine would, which reads the CSV header, the
// Parquet footer or the first JSON object, and closes it: nothing more is read (a
// Parquet file over http(s), which a reader downloads whole, has its footer read with
// range requests when the server serves them). CSV and JSON Lines carry no types, so
// their columns are strings; a Parquet file's schema gives types, nullability and an
// exact row count.
func probeFile(ctx context.Context, src *connect.Source) (Result, error) {
	f := src.DataSource.Spec.File
	if strings.HasPrefix(f.URL, "s3://") {
		return Result{}, notSupported(src.Name, "s3:// files")
	}
	uri, opts, err := src.FileOptions(connect.OpenOptions{})
	if err != nil {
		return Result{}, &Error{DataSource: src.Name, Stage: StageConnect, Reason: ReasonInvalidSpec, Err: err}
	}
	// The key check is the caller's (a missing key is drift, not an unreadable file).
	opts.OrderedBy = nil
	if remoteParquet(f) {
		cols, rows, handled, err := probeHTTPParquet(ctx, opts.HTTPClient, uri, src.Name)
		switch {
		case err != nil:
			return Result{}, classifyFile(src.Name, err)
		case handled:
			return Result{Columns: cols, EstimatedRows: &rows, Detail: fmt.Sprintf("%d columns", len(cols))}, nil
		}
	}
	rd, err := source.Open(ctx, uri, opts)
	if err != nil {
		// Error names the DataSource when the reader's message does not.
		return Result{}, classifyFile(src.Name, err)
	}
	names := rd.Columns()
	_ = rd.Close()

	res := Result{Columns: make([]chv1.DiscoveredColumn, len(names))}
	native := map[chv1.FileFormat]string{chv1.FileCSV: "csv field", chv1.FileJSONLines: "json field", chv1.FileParquet: "parquet field"}[FileFormat(f)]
	for i, n := range names {
		res.Columns[i] = chv1.DiscoveredColumn{Name: n, Type: chv1.ColumnString, NativeType: native, Nullable: true}
	}
	res.Detail = fmt.Sprintf("%d columns", len(names))
	if FileFormat(f) == chv1.FileParquet && strings.HasPrefix(f.URL, "file:///") {
		if cols, rows, err := parquetSchema(f.URL); err == nil {
			res.Columns, res.EstimatedRows = cols, &rows
		}
	}
	return res, nil
}

// remoteParquet says whether f is a Parquet file served over http(s), not compressed.
func remoteParquet(f *chv1.FileSource) bool {
	u, err := url.Parse(f.URL)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") &&
		FileFormat(f) == chv1.FileParquet && !strings.HasSuffix(strings.ToLower(u.Path), ".gz")
}

// FileFormat is the declared format or the one the extension tells.
func FileFormat(f *chv1.FileSource) chv1.FileFormat {
	if f.Format != "" {
		return f.Format
	}
	p := strings.ToLower(strings.TrimSuffix(f.URL, ".gz"))
	if u, err := url.Parse(f.URL); err == nil {
		p = strings.ToLower(strings.TrimSuffix(u.Path, ".gz"))
	}
	switch filepath.Ext(p) {
	case ".parquet":
		return chv1.FileParquet
	case ".jsonl", ".ndjson":
		return chv1.FileJSONLines
	}
	return chv1.FileCSV
}

// parquetSchema reads the footer of a local Parquet file for the top-level fields'
// types and the row count (exact: it is in the footer).
func parquetSchema(fileURL string) ([]chv1.DiscoveredColumn, int64, error) {
	u, err := url.Parse(fileURL)
	if err != nil {
		return nil, 0, err
	}
	fh, err := os.Open(filepath.FromSlash(u.Path))
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = fh.Close() }()
	st, err := fh.Stat()
	if err != nil {
		return nil, 0, err
	}
	return parquetSchemaAt(fh, st.Size())
}

// parquetSchemaAt reads the footer of the Parquet file in r (size bytes).
func parquetSchemaAt(r io.ReaderAt, size int64) ([]chv1.DiscoveredColumn, int64, error) {
	pf, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, 0, err
	}
	var cols []chv1.DiscoveredColumn
	for _, fld := range pf.Schema().Fields() {
		c := chv1.DiscoveredColumn{Name: fld.Name(), Type: chv1.ColumnString, NativeType: "group", Nullable: fld.Optional()}
		if fld.Leaf() {
			c.Type, c.NativeType = parquetType(fld.Type())
		}
		cols = append(cols, c)
	}
	return cols, pf.NumRows(), nil
}

// parquetType maps a Parquet leaf type to a column type as the engine reads it.
func parquetType(t parquet.Type) (chv1.ColumnType, string) {
	native := strings.ToLower(t.String())
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch lt.Value.(type) {
		case *format.DecimalType:
			return chv1.ColumnDecimal, native
		case *format.DateType:
			return chv1.ColumnDate, native
		case *format.TimestampType:
			return chv1.ColumnTimestamp, native
		case *format.IntType:
			return chv1.ColumnInteger, native
		case *format.JsonType:
			return chv1.ColumnJSON, native
		default:
			return chv1.ColumnString, native
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		return chv1.ColumnBoolean, native
	case parquet.Int32, parquet.Int64:
		return chv1.ColumnInteger, native
	case parquet.Float, parquet.Double:
		return chv1.ColumnDecimal, native
	}
	return chv1.ColumnString, native
}
