package gen

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// ReadManifest reads the manifest.json that Generate wrote into dir.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	return &m, nil
}

// LoadOptions choose how LoadTableWith creates the tables.
type LoadOptions struct {
	// Typed creates every column with its declared SQL type and fails on a value the
	// type cannot store, instead of making such a column text (for pairs generated
	// without unparsable injections: the tables then look like production tables).
	Typed bool
	// PrimaryKey makes the key columns the PRIMARY KEY instead of a plain index, for
	// pairs generated without duplicate, NULL or empty keys (sqlsource.LoadOptions).
	PrimaryKey bool
}

// LoadTable loads one side ("source" or "target") of the pair Generate wrote in dir
// into the table cfg names (replaced if it exists), with sqlsource.LoadTable: each
// column typed as the manifest's spec declares it (decimal, date, timestamp; keys and
// the rest text), except that a column holding a value its type cannot store (the
// injected unparsable values such as "12,5x") is text, so every row arrives as written;
// and a plain index on the key columns (the data has duplicate and NULL keys: no
// primary key). The expected set then applies to the tables as to the files, except the
// positions of invalid rows, which name the scan row instead of a file line.
func LoadTable(ctx context.Context, dir, side string, cfg sqlsource.Config) (*sqlsource.LoadResult, error) {
	return LoadTableWith(ctx, dir, side, cfg, LoadOptions{})
}

// LoadTableWith is LoadTable with options. It refuses, before loading anything, a
// pair whose injections cannot be stored that way: unparsable values when Typed,
// duplicate, NULL or empty keys when PrimaryKey.
func LoadTableWith(ctx context.Context, dir, side string, cfg sqlsource.Config, opts LoadOptions) (*sqlsource.LoadResult, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := opts.Check(m.Config.Inject); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var file string
	switch side {
	case "source":
		file = m.Source.File
	case "target":
		file = m.Target.File
	default:
		return nil, fmt.Errorf("side %q: want source or target", side)
	}
	types := map[string]diff.Type{}
	for _, c := range m.Spec.Compare {
		types[c.Name] = diff.Type(c.Type)
	}
	var cols []sqlsource.LoadColumn
	for _, name := range m.Columns {
		cols = append(cols, sqlsource.LoadColumn{Name: name, Type: types[name]})
	}
	open := func() (diff.Reader, error) {
		return source.Open(ctx, filepath.Join(dir, file), source.Options{})
	}
	return sqlsource.LoadTable(ctx, cfg, open, sqlsource.LoadOptions{
		Columns: cols, Index: m.Keys, PrimaryKey: opts.PrimaryKey, TextFallback: !opts.Typed, Replace: true,
	})
}

// Check names the injections the options cannot store (nil when there are none), so
// that a caller can refuse a config before generating.
func (o LoadOptions) Check(in Injections) error {
	var bad []string
	for _, f := range in.all() {
		if *f.n == 0 {
			continue
		}
		switch f.name {
		case "unparsable":
			if o.Typed {
				bad = append(bad, f.name+" (typed columns)")
			}
		case "duplicateSource", "duplicateTarget", "duplicateBoth", "nullKey", "emptyKey":
			if o.PrimaryKey {
				bad = append(bad, f.name+" (primary key)")
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("injections the tables cannot store: %s; generate the pair without them (--inject the other kinds only)", strings.Join(bad, ", "))
	}
	return nil
}
