package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// sqlSide is what a database side needs beyond its URI.
type sqlSide struct {
	table, query, filter, timeZone string
}

// isSQL reports whether uri names a database rather than a file.
func isSQL(uri string) bool {
	for _, p := range []string{"postgres://", "postgresql://", "mysql://", "mariadb://"} {
		if strings.HasPrefix(uri, p) {
			return true
		}
	}
	return false
}

// openSide opens one side: a file (source.Open) or a database table or query
// (sqlsource.Open). keys are the side's key column names and their declared types;
// ordered asks a database to sort by them (so merge can be used) and promises a file
// is sorted. The password of a database may come from the environment variable
// passwordEnv instead of the URI, to keep it out of shell history and ps.
func openSide(ctx context.Context, side, uri string, fileOpts source.Options, sq sqlSide, keys []string, keyTypes []diff.Type, ordered bool, passwordEnv string) (diff.Reader, error) {
	if !isSQL(uri) {
		if sq != (sqlSide{}) {
			return nil, fmt.Errorf("--%s-table, --%s-query, --%s-filter and --%s-time-zone are for database URIs", side, side, side, side)
		}
		if ordered {
			fileOpts.OrderedBy = keys
		}
		r, err := source.Open(ctx, uri, fileOpts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side, err)
		}
		return r, nil
	}
	if err := checkSQLSide(side, sq); err != nil {
		return nil, err
	}
	cfg := sqlConfig(uri, sq, passwordEnv)
	cfg.Keys, cfg.KeyTypes, cfg.Ordered = keys, keyTypes, ordered
	r, err := sqlsource.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", side, err)
	}
	return r, nil
}

// sqlConfig is a database side's dataset and connection; the password may come from
// the environment variable passwordEnv.
func sqlConfig(uri string, sq sqlSide, passwordEnv string) sqlsource.Config {
	cfg := sqlsource.Config{URI: uri, Table: sq.table, Query: sq.query, Filter: sq.filter, TimeZone: sq.timeZone}
	if pw, ok := os.LookupEnv(passwordEnv); ok {
		cfg.Password = pw
	}
	return cfg
}

// checkSQLSide checks that a database side names exactly one dataset.
func checkSQLSide(side string, sq sqlSide) error {
	if (sq.table == "") == (sq.query == "") {
		return fmt.Errorf("%s: a database %s needs exactly one of --%s-table or --%s-query", side, side, side, side)
	}
	return nil
}

// sqlColumns discovers the columns of a database side.
func sqlColumns(ctx context.Context, side string, cfg sqlsource.Config) ([]string, error) {
	cols, err := sqlsource.Discover(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", side, err)
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names, nil
}
