package checksum_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/checksum"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource/sqltest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

type dbSide struct {
	name string
	db   *testdb.Database
}

func (s dbSide) driver() string {
	if s.db.Server.Kind == testdb.MariaDB {
		return "mysql"
	}
	return "postgres"
}

func summaryJSON(s diff.Summary) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// mergeRun compares two tables with the merge strategy (both databases sorting).
func mergeRun(t *testing.T, ctx context.Context, spec diff.Spec, src, tgt sqlsource.Config) (diff.Summary, []diff.Discrepancy) {
	t.Helper()
	open := func(c sqlsource.Config, target bool) diff.Reader {
		c = sqlsource.WithKeys(c, spec, target)
		c.Ordered = true
		rd, err := sqlsource.Open(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rd.Close() })
		return rd
	}
	sink := &diff.Collect{}
	sp := spec
	sp.Strategy = diff.StrategyMerge
	sum, err := diff.Run(ctx, sp, open(src, false), open(tgt, true), sink)
	if err != nil {
		t.Fatal(err)
	}
	return sum, sink.Discrepancies
}

func checksumRun(t *testing.T, ctx context.Context, spec diff.Spec, src, tgt sqlsource.Config, opts checksum.Options) (diff.Summary, []diff.Discrepancy) {
	t.Helper()
	sink := &diff.Collect{}
	opts.Strict = true
	sum, err := checksum.Run(ctx, spec, src, tgt, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Strategy != diff.StrategyChecksum {
		t.Fatalf("strategy %s", sum.Strategy)
	}
	return sum, sink.Discrepancies
}

// TestGeneratedPairs: a generated pair with every injection kind (missing, mismatch,
// tolerances, duplicate keys on either and both sides, unparsable values, NULL and
// empty keys, non-ASCII keys, keys with separator-like characters), single and
// composite keys, loaded into PostgreSQL and MariaDB and compared across every pair of
// databases by checksum: exactly the expected set, and exactly merge's.
func TestGeneratedPairs(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	sides := []dbSide{{"postgres", pg}, {"mariadb", my}}
	for _, v := range []struct{ composite, typed bool }{{false, false}, {true, false}, {false, true}} {
		composite := v.composite
		t.Run(fmt.Sprintf("composite=%v,typed=%v", composite, v.typed), func(t *testing.T) {
			dir := t.TempDir()
			cfg := gen.DefaultConfig(dir)
			cfg.Rows, cfg.Composite = 3000, composite
			if v.typed {
				// Only values of the declared types: every column gets its SQL type
				// (numeric vs DECIMAL(p,s), date, timestamptz vs DATETIME(6)).
				cfg.Inject.Unparsable = 0
				cfg.Inject.NullKey, cfg.Inject.EmptyKey = 3, 3
			}
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
			if v.typed {
				suffix = "_t"
			}
			for _, s := range sides {
				for _, side := range []testdb.Side{testdb.Source, testdb.Target} {
					if _, err := testdb.LoadGenerated(ctx, s.db, dir, side, string(side)+suffix); err != nil {
						t.Fatalf("%s %s: %v", s.name, side, err)
					}
				}
			}
			for _, src := range sides {
				for _, tgt := range sides {
					t.Run(src.name+"-"+tgt.name, func(t *testing.T) {
						sc, tc := src.db.Config(), tgt.db.Config()
						sc.Table, tc.Table = "source"+suffix, "target"+suffix
						// Small segments and few buckets: many segments, buckets of
						// about 30 rows, most of them equal.
						sum, got := checksumRun(t, ctx, spec, sc, tc, checksum.Options{SegmentRows: 500, Factor: 16, Concurrency: 3})
						if g, w := summaryJSON(sum), summaryJSON(exp.Summary); g != w {
							t.Errorf("summary %s\n   want %s", g, w)
						}
						pos := map[diff.Side]*regexp.Regexp{
							diff.SideSource: regexp.MustCompile(`^` + src.driver() + ` table source` + suffix + ` (segment [1-9][0-9]*|\(rows without a usable key\)) row [1-9][0-9]*$`),
							diff.SideTarget: regexp.MustCompile(`^` + tgt.driver() + ` table target` + suffix + ` (segment [1-9][0-9]*|\(rows without a usable key\)) row [1-9][0-9]*$`),
						}
						gotLines := sqltest.Lines(t, got, pos)
						if !v.typed || (src.name == "postgres" && tgt.name == "postgres") {
							// MySQL's DECIMAL(p,s) shows amounts padded to its scale.
							sqltest.Compare(t, "checksum vs expected: ", gotLines, want)
						}
						msum, mds := mergeRun(t, ctx, spec, sc, tc)
						if g, w := summaryJSON(sum), summaryJSON(msum); g != w {
							t.Errorf("summary %s\nmerge's %s", g, w)
						}
						sqltest.Compare(t, "checksum vs merge: ", gotLines, sqltest.Lines(t, mds, nil))
						total := m.Source.Rows + m.Target.Rows
						if sum.SourceRows+sum.TargetRows >= total {
							t.Errorf("read %d+%d rows of %d", sum.SourceRows, sum.TargetRows, total)
						}
						t.Logf("read %d+%d of %d rows", sum.SourceRows, sum.TargetRows, total)
					})
				}
			}
		})
	}
}

// TestFetchesFewRows: a mostly equal 30,000-row table (10 discrepancies) is compared
// reading a small fraction of its rows, with exactly the expected outcomes, against
// MariaDB and against PostgreSQL (where the segment bounds come from a TABLESAMPLE).
func TestFetchesFewRows(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	dir, m, exp, spec, ctx := generatedPair(t, 30000,
		&gen.Injections{MissingInTarget: 2, MissingInSource: 2, Mismatch: 3, DuplicateBoth: 1, NumericFormat: 2, UnicodeKeys: 2})
	loadText(t, ctx, dir, pg, testdb.Source, testdb.Target)
	loadText(t, ctx, dir, my, testdb.Target)
	for _, target := range []*testdb.Database{my, pg} {
		t.Run(string(target.Server.Kind), func(t *testing.T) {
			sc, tc := pg.Config(), target.Config()
			sc.Table, tc.Table = "source", "target"
			var last checksum.Progress
			calls := 0
			sum, got := checksumRun(t, ctx, spec, sc, tc, checksum.Options{SegmentRows: 2500, Factor: 256,
				Progress: func(p checksum.Progress) { last = p; calls++ }})
			if g, w := summaryJSON(sum), summaryJSON(exp.Summary); g != w {
				t.Errorf("summary %s\n   want %s", g, w)
			}
			sqltest.Compare(t, "checksum vs expected: ", sqltest.Lines(t, got, nil), sqltest.ExpectedLines(t, exp))
			total := m.Source.Rows + m.Target.Rows
			// 13 keys in discrepancy and 2 matched after normalizing amounts: at most
			// 15 buckets of about 10 rows per side differ.
			if n := sum.SourceRows + sum.TargetRows; n > 600 {
				t.Errorf("read %d rows of %d, want at most 600", n, total)
			}
			if last.Segments < 5 || last.SegmentsDone != last.Segments || last.RowsSummed != total ||
				last.SourceRows != sum.SourceRows || last.TargetRows != sum.TargetRows || calls != last.Segments+1 {
				t.Errorf("last progress %+v after %d calls, read %d+%d rows of %d", last, calls, sum.SourceRows, sum.TargetRows, total)
			}
			t.Logf("read %d+%d of %d rows; %+v", sum.SourceRows, sum.TargetRows, total, last)
		})
	}
}

// TestCanonicalAcrossDatabases: NUMERIC(12,2) vs DECIMAL(14,4), timestamptz vs
// DATETIME(6) in a declared zone (Europe/Paris, across a change of offset), date,
// boolean vs TINYINT(1), text keys with non-ASCII and separator-like characters and
// NULL vs ”: equal values have equal checksums across PostgreSQL and MariaDB (no row
// read when the tables are equal), and each difference is found exactly.
func TestCanonicalAcrossDatabases(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	pg.Exec(t, `CREATE TABLE t (id text COLLATE "C" PRIMARY KEY, amount numeric(12,2), at timestamptz, day date, ok boolean, note text)`)
	my.Exec(t, `CREATE TABLE t (id VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY, amount DECIMAL(14,4), at DATETIME(6), day DATE, ok TINYINT(1), note TEXT)`)
	type row struct{ id, amount, atUTC, atParis, day, ok, note string }
	var rows []row
	for i := range 400 {
		id := fmt.Sprintf("k%04d", i)
		switch i % 5 {
		case 1:
			id += "-zürich-東京-🙂"
		case 2:
			id += "|a,b;\"c\t"
		}
		at := time.Date(2026, 10, 20, 0, 0, 0, 123456000, time.UTC).Add(time.Duration(i) * 7 * time.Minute)
		if i%100 == 0 {
			// Near (not in) the doubled hour: suspect, read row by row.
			at = time.Date(2026, 10, 25, 3, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
		}
		paris, _ := time.LoadLocation("Europe/Paris")
		note := fmt.Sprintf("'note %d'", i)
		if i%7 == 0 {
			note = "NULL"
		}
		rows = append(rows, row{id: id, amount: fmt.Sprintf("%d.%d0", i, i%10), atUTC: at.Format("2006-01-02 15:04:05.999999+00"),
			atParis: at.In(paris).Format("2006-01-02 15:04:05.999999"), day: at.Format("2006-01-02"), ok: []string{"false", "true"}[i%2], note: note})
	}
	var pgVals, myVals []string
	for _, r := range rows {
		okNum := "0"
		if r.ok == "true" {
			okNum = "1"
		}
		pgVals = append(pgVals, fmt.Sprintf(`('%s', %s, '%s', '%s', %s, %s)`, pgQuote(r.id), r.amount, r.atUTC, r.day, r.ok, r.note))
		myVals = append(myVals, fmt.Sprintf(`('%s', %s, '%s', '%s', %s, %s)`, myQuote(r.id), r.amount, r.atParis, r.day, okNum, r.note))
	}
	pg.Exec(t, "INSERT INTO t VALUES "+strings.Join(pgVals, ", "))
	my.Exec(t, "INSERT INTO t VALUES "+strings.Join(myVals, ", "))
	spec := diff.Spec{
		Keys: []diff.Column{{Name: "id"}},
		Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "at", Type: diff.TypeTimestamp},
			{Name: "day", Type: diff.TypeDate}, {Name: "ok", Type: diff.TypeBoolean}, {Name: "note"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sc, tc := pg.Config(), my.Config()
	sc.Table, tc.Table = "t", "t"
	tc.TimeZone = "Europe/Paris"
	opts := checksum.Options{SegmentRows: 100, Factor: 64}
	sum, got := checksumRun(t, ctx, spec, sc, tc, opts)
	if sum.Matched != 400 || sum.Compared != 400 || len(got) != 0 {
		t.Fatalf("equal tables: %s, %d discrepancies", summaryJSON(sum), len(got))
	}
	// Only the buckets of the 4 rows whose Paris wall-clock time is near the change
	// of offset (±26h) of 2026-10-25 may be read.
	if sum.SourceRows > 20 || sum.SourceRows != sum.TargetRows {
		t.Errorf("equal tables: read %d+%d rows", sum.SourceRows, sum.TargetRows)
	}
	t.Logf("equal tables: read %d+%d rows", sum.SourceRows, sum.TargetRows)

	// Now differences of every kind the canonical texts must not hide.
	my.Exec(t,
		`UPDATE t SET amount = amount + 0.0001 WHERE id = 'k0003'`, // 3.30 vs 3.3001
		`UPDATE t SET note = '' WHERE id = 'k0014'`,                // NULL vs ''
		`UPDATE t SET at = at + INTERVAL 1 MICROSECOND WHERE id = 'k0020'`,
		`UPDATE t SET ok = 1 - ok WHERE id = 'k0030'`,
		`UPDATE t SET day = day + INTERVAL 1 DAY WHERE id = 'k0040'`,
		`DELETE FROM t WHERE id = 'k0050'`,
		`INSERT INTO t VALUES ('k0050 ', 1, '2026-01-01', '2026-01-01', 1, NULL)`,
	)
	sum, got = checksumRun(t, ctx, spec, sc, tc, opts)
	msum, mds := mergeRun(t, ctx, spec, sc, tc)
	if g, w := summaryJSON(sum), summaryJSON(msum); g != w {
		t.Errorf("summary %s\nmerge's %s", g, w)
	}
	gotLines := sqltest.Lines(t, got, nil)
	sqltest.Compare(t, "checksum vs merge: ", gotLines, sqltest.Lines(t, mds, nil))
	if sum.Mismatched != 5 || sum.MissingInTarget != 1 || sum.MissingInSource != 1 {
		t.Errorf("summary %s", summaryJSON(sum))
	}
}

func pgQuote(s string) string { return regexp.MustCompile(`'`).ReplaceAllString(s, "''") }

func myQuote(s string) string {
	return regexp.MustCompile(`['\\]`).ReplaceAllStringFunc(s, func(c string) string { return `\` + c })
}

// TestUnsupportedKey: a trimmed key cannot be delimited in the database: Strict says
// so; otherwise every row is read (the engine's auto: hash for a trimmed key), with the
// same outcomes, even though the spec asks for diff.StrategyChecksum, which the engine
// itself refuses.
func TestUnsupportedKey(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t, `CREATE TABLE a (id text, v text)`, `CREATE TABLE b (id text, v text)`,
		`INSERT INTO a VALUES ('1', 'x'), ('2', 'y')`, `INSERT INTO b VALUES ('1', 'x'), ('2 ', 'z')`)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Trim: true}}, Compare: []diff.Column{{Name: "v"}}, Strategy: diff.StrategyChecksum}
	sc, tc := pg.Config(), pg.Config()
	sc.Table, tc.Table = "a", "b"
	ctx := context.Background()
	_, err := checksum.Run(ctx, spec, sc, tc, &diff.Collect{}, checksum.Options{Strict: true})
	if !errors.Is(err, sqlsource.ErrChecksumUnsupported) {
		t.Fatalf("strict: %v", err)
	}
	sink := &diff.Collect{}
	sum, err := checksum.Run(ctx, spec, sc, tc, sink, checksum.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Strategy != diff.StrategyHash || sum.Matched != 1 || sum.Mismatched != 1 || len(sink.Discrepancies) != 1 {
		t.Errorf("fallback: %+v %v", sum, sink.Discrepancies)
	}
}

// TestDuplicatesAndUnparsableHidden: a table without a unique key whose rows are
// identical on both sides, including a duplicated key and an unparsable value, still
// gives the duplicate_key and invalid_row outcomes (equal checksums hide nothing).
func TestDuplicatesAndUnparsableHidden(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	for _, db := range []*testdb.Database{pg, my} {
		db.Exec(t, `CREATE TABLE d (id int, amount varchar(20))`)
		vals := ""
		for i := range 200 {
			if i > 0 {
				vals += ", "
			}
			vals += fmt.Sprintf("(%d, '%d.5')", i, i)
		}
		db.Exec(t, "INSERT INTO d VALUES "+vals, `INSERT INTO d VALUES (7, '7.5'), (50, '12,5x'), (NULL, '1'), (NULL, '1')`,
			`UPDATE d SET amount = 'x' WHERE id = 60`)
	}
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}}, Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}}}
	ctx := context.Background()
	for _, pair := range [][2]*testdb.Database{{pg, pg}, {my, my}, {pg, my}} {
		sc, tc := pair[0].Config(), pair[1].Config()
		sc.Table, tc.Table = "d", "d"
		sum, got := checksumRun(t, ctx, spec, sc, tc, checksum.Options{SegmentRows: 50, Factor: 8})
		msum, mds := mergeRun(t, ctx, spec, sc, tc)
		if g, w := summaryJSON(sum), summaryJSON(msum); g != w {
			t.Errorf("summary %s\nmerge's %s", g, w)
		}
		sqltest.Compare(t, "checksum vs merge: ", sqltest.Lines(t, got, nil), sqltest.Lines(t, mds, nil))
		// 7 twice on each side; 50 twice (one unparsable) → duplicates; 60 unparsable
		// on both sides; two NULL keys per side.
		if sum.DuplicateKeys != 4 || sum.InvalidRows != 6 || sum.Matched != 197 {
			t.Errorf("summary %s", summaryJSON(sum))
		}
	}
}

// TestMaxDiscrepanciesAndCancel: the limit stops the run as the engine's does, and a
// cancelled context or a query timeout ends it with the context's error.
func TestMaxDiscrepanciesAndCancel(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t, `CREATE TABLE a AS SELECT g AS id, g::text AS v FROM generate_series(1, 2000) g`,
		`CREATE TABLE b AS SELECT g AS id, (g % 100)::text AS v FROM generate_series(1, 2000) g`)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}}, Compare: []diff.Column{{Name: "v"}}, MaxDiscrepancies: 30}
	sc, tc := pg.Config(), pg.Config()
	sc.Table, tc.Table = "a", "b"
	sink := &diff.Collect{}
	sum, err := checksum.Run(context.Background(), spec, sc, tc, sink, checksum.Options{SegmentRows: 100, Factor: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Truncated || len(sink.Discrepancies) != 30 || sum.Mismatched != 30 || sum.Compared != sum.Matched+30 {
		t.Errorf("truncated run: %+v, %d discrepancies", sum, len(sink.Discrepancies))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	spec.MaxDiscrepancies = 0
	_, err = checksum.Run(ctx, spec, sc, tc, &diff.Collect{}, checksum.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// A statement past its timeout ends the run with the deadline's error.
	_, err = checksum.Run(context.Background(), spec, sc, tc, &diff.Collect{}, checksum.Options{QueryTimeout: time.Nanosecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query timeout: %v", err)
	}
}

// TestPostgresPair: between two PostgreSQL tables rows are hashed as records of their
// typed values (numeric(12,2) vs numeric(14,4), int4 vs int8, text vs varchar); a
// text column declared decimal and a numeric column declared string are hashed by
// their text. Equal tables read no row; every difference is found as merge finds it.
func TestPostgresPair(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t,
		`CREATE TABLE a (id int4, amount numeric(12,2), at timestamptz, day date, ok boolean, note text, code numeric(6,2), txt text)`,
		`CREATE TABLE b (id int8, amount numeric(14,4), at timestamptz, day date, ok boolean, note varchar(50), code numeric(6,2), txt text)`,
		`INSERT INTO a SELECT g, g / 4.0, '2026-01-01'::timestamptz + g * interval '1 minute', '2026-01-01'::date + g % 300, g % 2 = 0,
			CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END, g % 100, (g % 50)::text || '.50' FROM generate_series(1, 3000) g`,
		`INSERT INTO b SELECT * FROM a`,
	)
	spec := diff.Spec{
		Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}},
		Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "at", Type: diff.TypeTimestamp},
			{Name: "day", Type: diff.TypeDate}, {Name: "ok", Type: diff.TypeBoolean}, {Name: "note"},
			{Name: "code"}, {Name: "txt", Type: diff.TypeDecimal}},
	}
	sc, tc := pg.Config(), pg.Config()
	sc.Table, tc.Table = "a", "b"
	ctx := context.Background()
	opts := checksum.Options{SegmentRows: 500, Factor: 32}
	sum, got := checksumRun(t, ctx, spec, sc, tc, opts)
	if sum.Matched != 3000 || len(got) != 0 || sum.SourceRows+sum.TargetRows != 0 {
		t.Fatalf("equal tables: %s, %d discrepancies, read %d+%d rows", summaryJSON(sum), len(got), sum.SourceRows, sum.TargetRows)
	}
	pg.Exec(t,
		`UPDATE b SET amount = amount + 0.0001 WHERE id = 3`,
		`UPDATE b SET note = '' WHERE id = 14`, // NULL vs ''
		`UPDATE b SET at = at + interval '1 microsecond' WHERE id = 20`,
		`UPDATE b SET ok = NOT ok WHERE id = 30`,
		`UPDATE b SET code = 7.00 WHERE id = 40`, // string: "40.00" vs "7.00"
		`UPDATE b SET txt = '0.5' WHERE id = 50`, // decimal: 0.50 = 0.5
		`UPDATE b SET txt = '1,5' WHERE id = 60`, // unparsable on one side
		`UPDATE a SET txt = 'x' WHERE id = 70`,   // unparsable on both sides
		`UPDATE b SET txt = 'x' WHERE id = 70`,
		`INSERT INTO b SELECT * FROM b WHERE id = 80`, // duplicate key
	)
	sum, got = checksumRun(t, ctx, spec, sc, tc, opts)
	msum, mds := mergeRun(t, ctx, spec, sc, tc)
	if g, w := summaryJSON(sum), summaryJSON(msum); g != w {
		t.Errorf("summary %s\nmerge's %s", g, w)
	}
	sqltest.Compare(t, "checksum vs merge: ", sqltest.Lines(t, got, nil), sqltest.Lines(t, mds, nil))
	if sum.Mismatched != 5 || sum.InvalidRows != 3 || sum.DuplicateKeys != 1 || sum.Matched != 2992 {
		t.Errorf("summary %s", summaryJSON(sum))
	}
	// Default options: one segment (the table is small), about 100 rows a bucket.
	sum2, got2 := checksumRun(t, ctx, spec, sc, tc, checksum.Options{})
	if g, w := summaryJSON(sum2), summaryJSON(msum); g != w {
		t.Errorf("default options: summary %s\nmerge's %s", g, w)
	}
	sqltest.Compare(t, "default options vs merge: ", sqltest.Lines(t, got2, nil), sqltest.Lines(t, mds, nil))
}

// TestMasksAlikeAcrossSegments: without a mask key, a checksum run masks a sensitive
// value alike in every segment (each segment is an engine run of its own).
func TestMasksAlikeAcrossSegments(t *testing.T) {
	t.Parallel()
	pg := testdb.NewPostgres(t)
	pg.Exec(t,
		`CREATE TABLE a (id int4, iban text)`,
		`INSERT INTO a SELECT g, 'DE' || g FROM generate_series(1, 3000) g`,
		`CREATE TABLE b AS SELECT * FROM a`,
		`UPDATE a SET iban = 'DE00 same' WHERE id IN (10, 1500, 2990)`,
	)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}}, Compare: []diff.Column{{Name: "iban", Sensitive: true}}}
	sc, tc := pg.Config(), pg.Config()
	sc.Table, tc.Table = "a", "b"
	sum, got := checksumRun(t, context.Background(), spec, sc, tc, checksum.Options{SegmentRows: 500, Factor: 16})
	if sum.Mismatched != 3 || len(got) != 3 {
		t.Fatalf("%s, %d discrepancies", summaryJSON(sum), len(got))
	}
	for _, d := range got {
		if src := d.Columns[0].Source.Text; src != got[0].Columns[0].Source.Text || !strings.HasPrefix(src, "***") || strings.Contains(src, "DE") {
			t.Fatalf("masks of one value: %q and %q", got[0].Columns[0].Source.Text, src)
		}
	}
}

// TestQueriesFiltersAndPaddedChars: sides given as a query and as a filtered table
// (PostgreSQL and MariaDB), and a PostgreSQL char(n) column (its padding is part of the
// value the engine compares): equal rows are not read, differences are found as merge
// finds them.
func TestQueriesFiltersAndPaddedChars(t *testing.T) {
	t.Parallel()
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	pg.Exec(t, `CREATE TABLE a (id int, code char(5), v text)`,
		`INSERT INTO a SELECT g, CASE WHEN g % 3 = 0 THEN 'ab' ELSE 'x' || g % 10 END, 'v' || g FROM generate_series(1, 1000) g`)
	my.Exec(t, `CREATE TABLE b (id int, code varchar(5), v text, hidden int)`)
	var vals []string
	for g := 1; g <= 1000; g++ {
		code := fmt.Sprintf("'x%d   '", g%10) // char(5) keeps 'x1   '
		if g%3 == 0 {
			code = "'ab   '"
		}
		if g == 30 {
			code = "'ab'" // not padded: differs from char(5)'s 'ab   '
		}
		vals = append(vals, fmt.Sprintf("(%d, %s, 'v%d', %d)", g, code, g, g%2))
	}
	my.Exec(t, "INSERT INTO b VALUES "+strings.Join(vals, ", "), "INSERT INTO b VALUES (5000, 'zz', 'only here', 1)")
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}}, Compare: []diff.Column{{Name: "code"}, {Name: "v"}}}
	sc, tc := pg.Config(), my.Config()
	sc.Query = "SELECT id, code, v FROM a WHERE id <= 900"
	tc.Table, tc.Filter = "b", "id <= 900 OR id = 5000"
	ctx := context.Background()
	sum, got := checksumRun(t, ctx, spec, sc, tc, checksum.Options{Factor: 64})
	msum, mds := mergeRun(t, ctx, spec, sc, tc)
	if g, w := summaryJSON(sum), summaryJSON(msum); g != w {
		t.Errorf("summary %s\nmerge's %s", g, w)
	}
	sqltest.Compare(t, "checksum vs merge: ", sqltest.Lines(t, got, nil), sqltest.Lines(t, mds, nil))
	if sum.Mismatched != 1 || sum.MissingInSource != 1 || sum.Matched != 899 {
		t.Errorf("summary %s", summaryJSON(sum))
	}
	if sum.SourceRows > 100 {
		t.Errorf("read %d+%d rows", sum.SourceRows, sum.TargetRows)
	}
}
