package testdb

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// Side names one file of a generated pair.
type Side string

const (
	Source Side = "source"
	Target Side = "target"
)

// ReadManifest reads the manifest.json that internal/gen wrote into dir.
func ReadManifest(dir string) (*gen.Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m gen.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	return &m, nil
}

// LoadGenerated loads one side of a pair written by internal/gen in dir into a new
// table of db (dropped first if it exists), with sqlsource.LoadTable: each column
// typed as the manifest's spec declares it (decimal, date, timestamp; keys and the
// rest strings), except that a column holding a value its type cannot store (the
// generator's injected unparsable values, such as "12,5x") is text, so that every
// row arrives as it was written; and a plain index on the key columns (the data has
// duplicate and NULL keys: no primary key).
//
// The same expected set then applies to the tables as to the files, positions aside:
// an invalid_row's position is the row's number in the scan ("postgres table source
// row 12"), not a line of the file.
func LoadGenerated(ctx context.Context, db *Database, dir string, side Side, table string) (*sqlsource.LoadResult, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	file := m.Source.File
	if side == Target {
		file = m.Target.File
	}
	types := map[string]diff.Type{}
	for _, c := range m.Spec.Compare {
		types[c.Name] = diff.Type(c.Type)
	}
	var cols []sqlsource.LoadColumn
	for _, name := range m.Columns {
		cols = append(cols, sqlsource.LoadColumn{Name: name, Type: types[name]})
	}
	cfg := db.Config()
	cfg.Table = table
	open := func() (diff.Reader, error) {
		return source.Open(ctx, filepath.Join(dir, file), source.Options{})
	}
	return sqlsource.LoadTable(ctx, cfg, open, sqlsource.LoadOptions{
		Columns: cols, Index: m.Keys, TextFallback: true, Replace: true,
	})
}
