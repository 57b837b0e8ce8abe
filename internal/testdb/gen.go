package testdb

import (
	"context"

	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// Side names one file of a generated pair.
type Side string

const (
	Source Side = "source"
	Target Side = "target"
)

// ReadManifest reads the manifest.json that internal/gen wrote into dir.
func ReadManifest(dir string) (*gen.Manifest, error) { return gen.ReadManifest(dir) }

// LoadGenerated loads one side of a pair written by internal/gen in dir into table of
// db (see gen.LoadTable).
func LoadGenerated(ctx context.Context, db *Database, dir string, side Side, table string) (*sqlsource.LoadResult, error) {
	cfg := db.Config()
	cfg.Table = table
	return gen.LoadTable(ctx, dir, string(side), cfg)
}
