package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

func newGenCommand() *cobra.Command {
	cfg := gen.DefaultConfig("")
	var format string
	var inject []string
	var noSensitive bool
	var maskKeyFile string
	var loadURI, loadSource, loadTarget string
	var loadOpts gen.LoadOptions
	cmd := &cobra.Command{
		Use:   "gen --dir DIR",
		Short: "Generate a source/target pair with a known set of discrepancies",
		Long: `Generate writes source and target datasets (a payments ledger) with injected
discrepancies, expected.json (the exact outcomes a comparison must return) and
manifest.json (the comparison they assume) into DIR.

Without --rate or --inject, a small mix of every kind is injected. --rate R spreads
rows×R discrepancies over every kind; --inject KIND=N sets one kind's count (kinds:
` + strings.Join(gen.Kinds(), ", ") + `).`,
		Example: `  clearhouse gen --dir /tmp/pair --rows 100000 --seed 7
  clearhouse gen --dir /tmp/big --rows 10000000 --rate 0.001 --sorted
  clearhouse gen --dir /tmp/pq --format parquet --composite --inject unicodeKeys=20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Dir == "" {
				return fmt.Errorf("--dir is required")
			}
			cfg.Format = source.Format(format)
			if noSensitive {
				cfg.Sensitive = nil
			}
			key, err := maskKey(maskKeyFile)
			if err != nil {
				return err
			}
			cfg.MaskKey = key
			if len(inject) > 0 {
				if cfg.Rate > 0 {
					return fmt.Errorf("--inject and --rate cannot be combined")
				}
				cfg.Inject = gen.Injections{}
				for _, kv := range inject {
					if err := setInjection(&cfg.Inject, kv); err != nil {
						return err
					}
				}
			}
			if loadURI != "" {
				in := cfg.Inject
				if cfg.Rate > 0 {
					in = gen.AtRate(cfg.Rows, cfg.Rate)
				}
				if err := loadOpts.Check(in); err != nil {
					return fmt.Errorf("--load-typed/--load-primary-key: %w", err)
				}
			}
			start := time.Now()
			m, exp, err := gen.RunExpected(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d rows) and %s (%d rows) in %s: %d discrepancies expected (expected.json)\n",
				m.Source.File, m.Source.Rows, m.Target.File, m.Target.Rows, time.Since(start).Round(time.Millisecond), len(exp.Discrepancies))
			if key == nil && len(cfg.Sensitive) > 0 {
				// The seed's key, no secret: written so that diff can mask as expected.json.
				path := filepath.Join(cfg.Dir, genMaskKeyFile)
				if err := os.WriteFile(path, append(slices.Clone(m.Config.MaskKey), '\n'), 0o600); err != nil {
					return fmt.Errorf("write the mask key: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "sensitive values in expected.json are masked with the key in %s: pass --mask-key-file %s to diff\n", path, path)
			}
			if loadURI == "" {
				return nil
			}
			for _, t := range []struct{ side, table string }{{"source", loadSource}, {"target", loadTarget}} {
				start := time.Now()
				c := sqlsource.Config{URI: loadURI, Table: t.table}
				if pw, ok := os.LookupEnv("CLEARHOUSE_LOAD_PASSWORD"); ok {
					c.Password = pw
				}
				res, err := gen.LoadTableWith(cmd.Context(), cfg.Dir, t.side, c, loadOpts)
				if err != nil {
					return fmt.Errorf("load %s into %s: %w", t.side, t.table, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "loaded %s into table %s (%d rows) in %s\n", t.side, t.table, res.Rows, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "", "directory to write into (created if needed)")
	f.IntVar(&cfg.Rows, "rows", cfg.Rows, "number of base keys")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed: the same seed writes the same bytes")
	f.StringVar(&format, "format", "csv", "file format: csv, jsonl or parquet")
	f.BoolVar(&cfg.Gzip, "gzip", false, "gzip CSV and JSON Lines files")
	f.BoolVar(&cfg.Sorted, "sorted", false, "write both files sorted by key (byte order); shuffled otherwise")
	f.BoolVar(&cfg.Composite, "composite", false, "use the composite key (region, id)")
	f.Float64Var(&cfg.Rate, "rate", 0, "inject rows×rate discrepancies spread over every kind")
	f.StringArrayVar(&inject, "inject", nil, "KIND=N: inject N cases of KIND (repeatable)")
	f.StringVar(&loadURI, "load", "", "also load both files into tables of this database (postgres://… or mysql://…; password from CLEARHOUSE_LOAD_PASSWORD)")
	f.StringVar(&loadSource, "load-source-table", "source", "table the source is loaded into (replaced)")
	f.StringVar(&loadTarget, "load-target-table", "target", "table the target is loaded into (replaced)")
	f.BoolVar(&loadOpts.Typed, "load-typed", false, "with --load: every column of its declared SQL type (refuses a pair with unparsable values)")
	f.BoolVar(&loadOpts.PrimaryKey, "load-primary-key", false, "with --load: the key as PRIMARY KEY (refuses a pair with duplicate, NULL or empty keys)")
	f.BoolVar(&noSensitive, "no-sensitive", false, "do not mark the account column sensitive in expected.json")
	f.StringVar(&maskKeyFile, "mask-key-file", "", "file holding the key expected.json masks sensitive values with (default $"+envMaskKey+
		", else a key derived from the seed, written to DIR/"+genMaskKeyFile+")")
	return cmd
}

// genMaskKeyFile is where gen writes the seed's mask key.
const genMaskKeyFile = "mask.key"

func setInjection(in *gen.Injections, kv string) error {
	kind, n, ok := strings.Cut(kv, "=")
	count, err := strconv.Atoi(n)
	if !ok || err != nil {
		return fmt.Errorf("--inject %q: want KIND=N", kv)
	}
	if err := in.Set(kind, count); err != nil {
		return fmt.Errorf("--inject %q: %w", kv, err)
	}
	return nil
}
