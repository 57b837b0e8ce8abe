package sqlsource_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource/sqltest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// mixedCase is one generated pair compared between a database and files: the
// tables are loaded from a shuffled CSV copy (so that a merge depends on the ORDER BY,
// not on the order the rows were inserted in), the files are sorted copies of the
// same pair in CSV and Parquet.
type mixedCase struct {
	cfg    func(dir string) gen.Config
	prefix string // of the tables
	// exact says whether values are compared as written; when false, amounts are
	// compared as decimals (MySQL DECIMAL(p,s) pads them to the column's scale).
	exact func(db dbSide) bool
}

// genPair is one generated pair: its directory, manifest and expected set.
type genPair struct {
	dir string
	m   *gen.Manifest
	exp *gen.Expected
}

func (mc mixedCase) generate(t *testing.T, format source.Format, sorted bool) genPair {
	t.Helper()
	dir := t.TempDir()
	// The same config and seed for every copy: the same rows, only their order and
	// the files' format differ, so one expected set (positions aside) holds for all.
	cfg := mc.cfg(dir)
	cfg.Format, cfg.Sorted = format, sorted
	m, exp, err := gen.RunExpected(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return genPair{dir, m, exp}
}

// TestGeneratedPairMixed compares a database with a file: a pair from internal/gen
// (every injection kind; simple and composite string keys, NULL, empty and non-ASCII
// keys among them) is loaded into PostgreSQL and MariaDB, and each database side is
// compared with the other side as a sorted CSV or Parquet file, the database as source
// and as target, by sorted merge (the file promised sorted by byte order, ORDER BY
// pushed down with a byte-order collation) and by hash. The outcome must be exactly
// expected.json: invalid rows on the file side at the file's exact position, on the
// database side at a scan row. The unparsable values make amount, value_date and
// booked_at text columns in the tables; TestGeneratedPairMixedTyped has them typed.
func TestGeneratedPairMixed(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	sides := []dbSide{{"postgres", pg}, {"mariadb", my}}
	for _, composite := range []bool{false, true} {
		t.Run(fmt.Sprintf("composite=%v", composite), func(t *testing.T) {
			mc := mixedCase{
				cfg: func(dir string) gen.Config {
					cfg := gen.DefaultConfig(dir)
					cfg.Rows, cfg.Seed, cfg.Composite = 5000, 42, composite
					return cfg
				},
				prefix: fmt.Sprintf("mixed_c%v_", composite),
				exact:  func(dbSide) bool { return true },
			}
			exp := mc.run(t, sides)
			checkCoverage(t, exp, true)
		})
	}
}

// TestGeneratedPairMixedTyped is TestGeneratedPairMixed for a pair without
// unparsable values, so that the tables have typed columns: amount numeric /
// DECIMAL(p,s) (the file's "10.5" is MySQL's "10.500": equal as decimals), value_date
// date, booked_at timestamptz / DATETIME(6) in UTC (the file's times in other zones
// are the same instants).
func TestGeneratedPairMixedTyped(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	sides := []dbSide{{"postgres", pg}, {"mariadb", my}}
	mc := mixedCase{
		cfg: func(dir string) gen.Config {
			cfg := gen.DefaultConfig(dir)
			cfg.Rows, cfg.Composite = 3000, true // the default seed gives amounts of several scales
			// Only kinds that write values of the declared types (as in
			// TestGeneratedPairTyped).
			cfg.Inject.Unparsable = 0
			cfg.Inject.NullKey, cfg.Inject.EmptyKey = 3, 3
			cfg.Inject.DuplicateSource, cfg.Inject.DuplicateTarget = 2, 2
			return cfg
		},
		prefix: "mixed_typed_",
		// PostgreSQL's numeric keeps the scale as written.
		exact: func(db dbSide) bool { return db.db.Server.Kind != testdb.MariaDB },
	}
	exp := mc.run(t, sides)
	checkCoverage(t, exp, false)
}

// run loads the pair into each database and runs every (database, format, direction,
// strategy) comparison; it returns the expected set.
func (mc mixedCase) run(t *testing.T, sides []dbSide) *gen.Expected {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	loaded := mc.generate(t, source.FormatCSV, false)
	files := []genPair{mc.generate(t, source.FormatCSV, true), mc.generate(t, source.FormatParquet, true)}
	want := sqltest.ExpectedLines(t, loaded.exp)
	for _, f := range files {
		sqltest.Compare(t, string(f.m.Config.Format)+" pair vs loaded pair: ", sqltest.ExpectedLines(t, f.exp), want)
	}
	if t.Failed() {
		t.FailNow()
	}
	spec := sqltest.Spec(t, loaded.m)
	var keys []string
	var keyTypes []diff.Type
	for _, k := range spec.Keys {
		keys = append(keys, k.Name)
		keyTypes = append(keyTypes, k.Type)
	}
	for _, s := range sides {
		for _, side := range []testdb.Side{testdb.Source, testdb.Target} {
			res, err := testdb.LoadGenerated(ctx, s.db, loaded.dir, side, mc.prefix+string(side))
			if err != nil {
				t.Fatalf("%s %s: %v", s.name, side, err)
			}
			if w := map[testdb.Side]int64{testdb.Source: loaded.m.Source.Rows, testdb.Target: loaded.m.Target.Rows}[side]; res.Rows != w {
				t.Fatalf("%s %s: loaded %d rows, want %d", s.name, side, res.Rows, w)
			}
			if loaded.m.Config.Inject.Unparsable == 0 {
				for _, c := range res.Columns {
					want := map[string]diff.Type{"amount": "decimal", "value_date": "date", "booked_at": "timestamp"}[c.Name]
					if want != "" && c.Type != want {
						t.Fatalf("%s %s: column %s loaded as %s (%s), want %s", s.name, side, c.Name, c.Type, c.NativeType, want)
					}
				}
			}
		}
	}
	for _, db := range sides {
		for _, f := range files {
			for _, dbIs := range []diff.Side{diff.SideSource, diff.SideTarget} {
				for _, strategy := range []diff.Strategy{diff.StrategyMerge, diff.StrategyHash} {
					fileIs, name := diff.SideTarget, fmt.Sprintf("%s-%s-%s", db.name, f.m.Config.Format, strategy)
					if dbIs == diff.SideTarget {
						fileIs, name = diff.SideSource, fmt.Sprintf("%s-%s-%s", f.m.Config.Format, db.name, strategy)
					}
					t.Run(name, func(t *testing.T) {
						ordered := strategy == diff.StrategyMerge
						c := db.db.Config()
						c.Table = mc.prefix + string(dbIs)
						c.Keys, c.KeyTypes, c.Ordered = keys, keyTypes, ordered
						dr, err := sqlsource.Open(ctx, c)
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { _ = dr.Close() })
						file := f.m.Source.File
						if fileIs == diff.SideTarget {
							file = f.m.Target.File
						}
						opts := source.Options{}
						if ordered {
							opts.OrderedBy = keys
						}
						fr, err := source.Open(ctx, filepath.Join(f.dir, file), opts)
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { _ = fr.Close() })
						sr, tr := dr, fr
						if dbIs == diff.SideTarget {
							sr, tr = fr, dr
						}
						sum, found := sqltest.Run(ctx, t, spec, sr, tr, strategy, f.exp.Summary)
						if sum.SourceRows != f.m.Source.Rows || sum.TargetRows != f.m.Target.Rows {
							t.Errorf("read %d/%d rows, want %d/%d", sum.SourceRows, sum.TargetRows, f.m.Source.Rows, f.m.Target.Rows)
						}
						dbPos := regexp.MustCompile(`^` + db.driver() + ` table ` + mc.prefix + string(dbIs) + ` row [1-9][0-9]*$`)
						// Invalid rows on the file side keep their exact positions.
						got := sqltest.LinesKeeping(t, found, map[diff.Side]*regexp.Regexp{dbIs: dbPos}, fileIs)
						want := sqltest.LinesKeeping(t, expectedOf(f.exp), nil, fileIs)
						if !mc.exact(db) {
							if dbIs == diff.SideSource && slices.Equal(got, want) {
								// Mismatches show the source's values: some must be padded.
								t.Error("no amount read at the column's scale: the pair no longer has scale differences")
							}
							got, want = sqltest.CanonDecimal(t, got, "amount"), sqltest.CanonDecimal(t, want, "amount")
						}
						sqltest.Compare(t, "", got, want)
					})
				}
			}
		}
	}
	return loaded.exp
}

func expectedOf(exp *gen.Expected) []diff.Discrepancy {
	ds := make([]diff.Discrepancy, len(exp.Discrepancies))
	for i, e := range exp.Discrepancies {
		ds[i] = e.Discrepancy
	}
	return ds
}

// checkCoverage fails unless the expected set has what the test claims to cover:
// every outcome kind, invalid rows on both sides (when invalid says so: NULL and
// empty keys, unparsable values), and non-ASCII keys.
func checkCoverage(t *testing.T, exp *gen.Expected, invalid bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, d := range expectedOf(exp) {
		seen[string(d.Kind)] = true
		if d.Kind == diff.KindInvalidRow {
			seen["invalid_row@"+string(d.Side)] = true
		}
		for _, k := range d.Key {
			for _, r := range k.Value.Text {
				if r > 0x7f {
					seen["non-ASCII key "+string(d.Kind)] = true
				}
			}
		}
	}
	for _, w := range []string{
		"missing_in_target", "missing_in_source", "mismatch", "duplicate_key", "invalid_row",
		"invalid_row@source", "invalid_row@target",
		"non-ASCII key mismatch", "non-ASCII key missing_in_target", "non-ASCII key missing_in_source",
	} {
		if !seen[w] && (invalid || !strings.HasPrefix(w, "invalid_row@")) {
			t.Errorf("the generated expected set has no %s", w)
		}
	}
}
