package sqlsource_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource/sqltest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

type dbSide struct {
	name string
	db   *testdb.Database
}

// TestGeneratedPair is the end-to-end check: a pair from internal/gen loaded into
// PostgreSQL and MariaDB (each side into each), compared across databases with the
// manifest's spec by sorted merge (ORDER BY pushed down) and by hash, must give
// exactly expected.json — positions of invalid rows aside (see outcomeLines).
func TestGeneratedPair(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	for _, composite := range []bool{false, true} {
		t.Run(fmt.Sprintf("composite=%v", composite), func(t *testing.T) {
			dir := t.TempDir()
			cfg := gen.DefaultConfig(dir)
			cfg.Rows, cfg.Composite = 5000, composite
			m, exp, err := gen.RunExpected(cfg)
			if err != nil {
				t.Fatal(err)
			}
			spec := sqltest.Spec(t, m)
			want := sqltest.ExpectedLines(t, exp)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()

			suffix := ""
			if composite {
				suffix = "_c"
			}
			sides := []dbSide{{"postgres", pg}, {"mariadb", my}}
			for _, s := range sides {
				for _, side := range []testdb.Side{testdb.Source, testdb.Target} {
					res, err := testdb.LoadGenerated(ctx, s.db, dir, side, string(side)+suffix)
					if err != nil {
						t.Fatalf("%s %s: %v", s.name, side, err)
					}
					wantRows := m.Source.Rows
					if side == testdb.Target {
						wantRows = m.Target.Rows
					}
					if res.Rows != wantRows {
						t.Fatalf("%s %s: loaded %d rows, want %d", s.name, side, res.Rows, wantRows)
					}
				}
			}
			var keyTypes []diff.Type
			var keys []string
			for _, k := range spec.Keys {
				keys = append(keys, k.Name)
				keyTypes = append(keyTypes, k.Type)
			}
			for _, src := range sides {
				for _, tgt := range sides {
					for _, strategy := range []diff.Strategy{diff.StrategyMerge, diff.StrategyHash} {
						t.Run(src.name+"-"+tgt.name+"-"+string(strategy), func(t *testing.T) {
							open := func(s dbSide, table string) diff.Reader {
								c := s.db.Config()
								c.Table = table + suffix
								c.Keys, c.KeyTypes = keys, keyTypes
								c.Ordered = strategy == diff.StrategyMerge
								rd, err := sqlsource.Open(ctx, c)
								if err != nil {
									t.Fatal(err)
								}
								t.Cleanup(func() { _ = rd.Close() })
								return rd
							}
							sr, tr := open(src, "source"), open(tgt, "target")
							sum, found := sqltest.Run(ctx, t, spec, sr, tr, strategy, exp.Summary)
							if sum.SourceRows != m.Source.Rows || sum.TargetRows != m.Target.Rows {
								t.Errorf("read %d/%d rows, want %d/%d", sum.SourceRows, sum.TargetRows, m.Source.Rows, m.Target.Rows)
							}
							pos := map[diff.Side]*regexp.Regexp{
								diff.SideSource: regexp.MustCompile(`^` + src.driver() + ` table source` + suffix + ` row [1-9][0-9]*$`),
								diff.SideTarget: regexp.MustCompile(`^` + tgt.driver() + ` table target` + suffix + ` row [1-9][0-9]*$`),
							}
							sqltest.Compare(t, "", sqltest.Lines(t, found, pos), want)
						})
					}
				}
			}
		})
	}
}

func (s dbSide) driver() string {
	if s.db.Server.Kind == testdb.MariaDB {
		return "mysql"
	}
	return "postgres"
}

// TestGeneratedPairTyped loads a pair without unparsable values, so that every column
// gets its SQL type (numeric/DECIMAL(p,s), date/DATE, timestamptz/DATETIME(6)), and
// checks the outcomes across databases. Values shown in outcomes are as each database
// renders them: MySQL's DECIMAL(p,s) pads every amount to the column's scale ("10.5"
// was loaded, "10.500" is read), so amounts are compared as decimals here; everything
// else exactly.
func TestGeneratedPairTyped(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	dir := t.TempDir()
	cfg := gen.DefaultConfig(dir)
	cfg.Rows = 3000
	// Only kinds that write values of the declared types (no "12,5x", no 2026-02-30).
	cfg.Inject.Unparsable = 0
	cfg.Inject.NullKey, cfg.Inject.EmptyKey = 3, 3 // the fourth of each writes "12,5x"
	cfg.Inject.DuplicateSource, cfg.Inject.DuplicateTarget = 2, 2
	m, exp, err := gen.RunExpected(cfg)
	if err != nil {
		t.Fatal(err)
	}
	spec := sqltest.Spec(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sides := []dbSide{{"postgres", pg}, {"mariadb", my}}
	for _, s := range sides {
		for _, side := range []testdb.Side{testdb.Source, testdb.Target} {
			res, err := testdb.LoadGenerated(ctx, s.db, dir, side, string(side))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Columns {
				want := map[string]diff.Type{"amount": "decimal", "value_date": "date", "booked_at": "timestamp"}[c.Name]
				if want != "" && c.Type != want {
					t.Fatalf("%s %s: column %s loaded as %s (%s), want %s", s.name, side, c.Name, c.Type, c.NativeType, want)
				}
			}
		}
	}
	canonAmounts := func(lines []string) []string { return sqltest.CanonDecimal(t, lines, "amount") }
	want := canonAmounts(sqltest.ExpectedLines(t, exp))
	for _, src := range sides {
		for _, tgt := range sides {
			for _, ordered := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s-%s-ordered=%v", src.name, tgt.name, ordered), func(t *testing.T) {
					open := func(s dbSide, table string) diff.Reader {
						c := s.db.Config()
						c.Table, c.Keys, c.Ordered = table, m.Keys, ordered
						rd, err := sqlsource.Open(ctx, c)
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { _ = rd.Close() })
						return rd
					}
					sink := &diff.Collect{}
					sum, err := diff.Run(ctx, spec, open(src, "source"), open(tgt, "target"), sink)
					if err != nil {
						t.Fatal(err)
					}
					if (sum.Strategy == diff.StrategyMerge) != ordered {
						t.Errorf("strategy %s", sum.Strategy)
					}
					gotSum, _ := json.Marshal(sum)
					wantSum, _ := json.Marshal(exp.Summary)
					if string(gotSum) != string(wantSum) {
						t.Errorf("summary %s\n   want %s", gotSum, wantSum)
					}
					sqltest.Compare(t, "", canonAmounts(sqltest.Lines(t, sink.Discrepancies, nil)), want)
					if src.name == "postgres" && tgt.name == "postgres" {
						// numeric keeps the scale as written: exact, amounts included.
						sqltest.Compare(t, "", sqltest.Lines(t, sink.Discrepancies, nil), sqltest.ExpectedLines(t, exp))
					}
				})
			}
		}
	}
	if t.Failed() {
		return
	}
	// Typed columns really are typed.
	for _, s := range sides {
		c := s.db.Config()
		c.Table = "source"
		cols, err := sqlsource.Discover(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, col := range cols {
			got = append(got, col.Name+":"+string(col.Type)+":"+col.NativeType)
		}
		t.Logf("%s columns: %s", s.name, strings.Join(got, " "))
	}
}
