package checksum_test

import (
	"context"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/checksum"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource/sqltest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// loadTyped loads one side of a generated pair into table with typed columns and the
// key as primary key.
func loadTyped(t *testing.T, ctx context.Context, db *testdb.Database, dir string, side testdb.Side, table string) {
	t.Helper()
	cfg := db.Config()
	cfg.Table = table
	if _, err := gen.LoadTableWith(ctx, dir, string(side), cfg, gen.LoadOptions{Typed: true, PrimaryKey: true}); err != nil {
		t.Fatalf("%s %s: %v", db.Server.Kind, table, err)
	}
}

// generatedPair writes a pair of rows base keys (with inject's injections, when set)
// and returns it with the spec it assumes and a context for the test.
func generatedPair(t *testing.T, rows int, inject *gen.Injections) (string, *gen.Manifest, *gen.Expected, diff.Spec, context.Context) {
	t.Helper()
	dir := t.TempDir()
	cfg := gen.DefaultConfig(dir)
	cfg.Rows = rows
	if inject != nil {
		cfg.Inject = *inject
	}
	m, exp, err := gen.RunExpected(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return dir, m, exp, sqltest.Spec(t, m), ctx
}

// loadText loads sides of a generated pair as gen.LoadTable does (tables named after
// the side).
func loadText(t *testing.T, ctx context.Context, dir string, db *testdb.Database, sides ...testdb.Side) {
	t.Helper()
	for _, side := range sides {
		if _, err := testdb.LoadGenerated(ctx, db, dir, side, string(side)); err != nil {
			t.Fatalf("%s %s: %v", db.Server.Kind, side, err)
		}
	}
}

// TestTypedPrimaryKey: tables as in production (native types, the key as primary key,
// 0.1%-like discrepancies of every kind such tables can hold) are checked without
// counting distinct keys (the plan sees the key is unique); equal tables read no row,
// in one segment (PostgreSQL: stored in another order) or many; every injected
// difference is found exactly, as merge finds it, against PostgreSQL and MariaDB.
func TestTypedPrimaryKey(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	dir, m, exp, spec, ctx := generatedPair(t, 5000, &gen.Injections{MissingInTarget: 3, MissingInSource: 3, Mismatch: 8,
		WithinTolerance: 3, EdgeOn: 2, EdgePast: 2, NumericFormat: 3, TimezoneEqual: 3, UnicodeKeys: 4, SeparatorKeys: 4})
	loadTyped(t, ctx, pg, dir, testdb.Source, "source")
	loadTyped(t, ctx, pg, dir, testdb.Source, "copy") // equal to source
	loadTyped(t, ctx, pg, dir, testdb.Target, "target")
	loadTyped(t, ctx, my, dir, testdb.Source, "copy")
	loadTyped(t, ctx, my, dir, testdb.Target, "target")

	sc := pg.Config()
	sc.Table = "source"
	for _, target := range []*testdb.Database{pg, my} {
		t.Run(string(target.Server.Kind), func(t *testing.T) {
			tc := target.Config()
			tc.Table = "copy"
			plan, err := sqlsource.PrepareChecksum(ctx, sc, tc, spec)
			if err != nil {
				t.Fatal(err)
			}
			if !plan.Unique(0) || !plan.Unique(1) {
				t.Errorf("the primary key is not seen as unique: %v, %v", plan.Unique(0), plan.Unique(1))
			}
			for _, opts := range []checksum.Options{{}, {SegmentRows: 1000, Factor: 64}} {
				sum, got := checksumRun(t, ctx, spec, sc, tc, opts)
				if len(got) != 0 || sum.SourceRows+sum.TargetRows != 0 || sum.Matched != m.Source.Rows {
					t.Errorf("equal tables, %+v: %s, %d discrepancies, read %d+%d rows", opts, summaryJSON(sum), len(got), sum.SourceRows, sum.TargetRows)
				}
			}
			tc.Table = "target"
			for _, opts := range []checksum.Options{{}, {SegmentRows: 1000, Factor: 64}} {
				sum, got := checksumRun(t, ctx, spec, sc, tc, opts)
				if g, w := summaryJSON(sum), summaryJSON(exp.Summary); g != w {
					t.Errorf("%+v: summary %s\n   want %s", opts, g, w)
				}
				gotLines := sqltest.Lines(t, got, nil)
				if target == pg {
					// MySQL's DECIMAL(p,s) shows amounts padded to its scale.
					sqltest.Compare(t, "checksum vs expected: ", gotLines, sqltest.ExpectedLines(t, exp))
				}
				_, mds := mergeRun(t, ctx, spec, sc, tc)
				sqltest.Compare(t, "checksum vs merge: ", gotLines, sqltest.Lines(t, mds, nil))
				if total := m.Source.Rows + m.Target.Rows; sum.SourceRows+sum.TargetRows >= total/2 {
					t.Errorf("%+v: read %d+%d rows of %d", opts, sum.SourceRows, sum.TargetRows, total)
				}
			}
		})
	}
}

// TestKeylessRowsInOneSegment: with default options the tables (stored in another
// order) are one segment, whose sums also count the rows without a usable key; those
// rows (NULL and empty keys), duplicate keys (no unique index) and unparsable values
// are all reported, exactly as expected, between PostgreSQL tables and against MariaDB.
func TestKeylessRowsInOneSegment(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	dir, _, exp, spec, ctx := generatedPair(t, 3000, nil)
	loadText(t, ctx, dir, pg, testdb.Source, testdb.Target)
	loadText(t, ctx, dir, my, testdb.Target)
	for _, target := range []*testdb.Database{pg, my} {
		t.Run(string(target.Server.Kind), func(t *testing.T) {
			sc, tc := pg.Config(), target.Config()
			sc.Table, tc.Table = "source", "target"
			var last checksum.Progress
			sum, got := checksumRun(t, ctx, spec, sc, tc, checksum.Options{Progress: func(p checksum.Progress) { last = p }})
			if last.Segments != 1 {
				t.Errorf("%d segments, want 1", last.Segments)
			}
			if g, w := summaryJSON(sum), summaryJSON(exp.Summary); g != w {
				t.Errorf("summary %s\n   want %s", g, w)
			}
			sqltest.Compare(t, "checksum vs expected: ", sqltest.Lines(t, got, nil), sqltest.ExpectedLines(t, exp))
		})
	}
}

// TestUniqueIndexNotOnKey: a primary key on more columns than the key does not make
// the key unique: duplicate keys identical on both sides are still found.
func TestUniqueIndexNotOnKey(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t,
		`CREATE TABLE a (id text, n int, note text, PRIMARY KEY (id, n))`,
		`INSERT INTO a SELECT 'k' || g, 1, 'x' || g FROM generate_series(1, 2000) g`,
		`INSERT INTO a VALUES ('k7', 2, 'y7'), ('k900', 2, 'other')`,
		`CREATE TABLE b (LIKE a INCLUDING ALL)`,
		`INSERT INTO b SELECT * FROM a`,
		`CREATE UNIQUE INDEX ON b (id, note)`,
	)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Compare: []diff.Column{{Name: "note"}}}
	sc, tc := pg.Config(), pg.Config()
	sc.Table, tc.Table = "a", "b"
	ctx := context.Background()
	plan, err := sqlsource.PrepareChecksum(ctx, sc, tc, spec)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Unique(0) || plan.Unique(1) {
		t.Errorf("unique: %v, %v; want false (no unique index on exactly the key)", plan.Unique(0), plan.Unique(1))
	}
	sum, got := checksumRun(t, ctx, spec, sc, tc, checksum.Options{})
	msum, mds := mergeRun(t, ctx, spec, sc, tc)
	if sum.DuplicateKeys != 4 || summaryJSON(sum) != summaryJSON(msum) {
		t.Errorf("summary %s\nmerge's %s", summaryJSON(sum), summaryJSON(msum))
	}
	sqltest.Compare(t, "checksum vs merge: ", sqltest.Lines(t, got, nil), sqltest.Lines(t, mds, nil))
}

// TestSegmentsOfEqualSize: the key range is cut into as many segments of about
// SegmentRows as the table holds whole (1,050 rows by 1,000: one segment, not 1,000 and
// 50), each about the same size; outcomes stay those of merge.
func TestSegmentsOfEqualSize(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t,
		`CREATE TABLE a (id int PRIMARY KEY, note text)`,
		`INSERT INTO a SELECT g, 'n' || g FROM generate_series(1, 1050) g`,
		`CREATE TABLE b AS SELECT * FROM a`,
		`UPDATE b SET note = 'x' WHERE id IN (10, 600, 1040)`,
		`ANALYZE a`, `ANALYZE b`,
	)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}}, Compare: []diff.Column{{Name: "note"}}}
	sc, tc := pg.Config(), pg.Config()
	sc.Table, tc.Table = "a", "b"
	ctx := context.Background()
	_, mds := mergeRun(t, ctx, spec, sc, tc)
	for _, c := range []struct {
		rows     int64
		segments int
	}{{1000, 1}, {500, 2}, {300, 4}} {
		var last checksum.Progress
		sum, got := checksumRun(t, ctx, spec, sc, tc, checksum.Options{SegmentRows: c.rows, Factor: 32, Progress: func(p checksum.Progress) { last = p }})
		if last.Segments != c.segments || sum.Mismatched != 3 || sum.Matched != 1047 {
			t.Errorf("SegmentRows %d: %d segments (want %d), %s", c.rows, last.Segments, c.segments, summaryJSON(sum))
		}
		sqltest.Compare(t, "checksum vs merge: ", sqltest.Lines(t, got, nil), sqltest.Lines(t, mds, nil))
	}
}
