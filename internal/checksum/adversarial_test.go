package checksum_test

import (
	"context"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/checksum"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource/sqltest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// sameAsMerge demands of checksum exactly merge's summary and discrepancies.
func sameAsMerge(t *testing.T, spec diff.Spec, a, b *testdb.Database, ta, tb string, opts checksum.Options) {
	t.Helper()
	ctx := context.Background()
	sc, tc := a.Config(), b.Config()
	sc.Table, tc.Table = ta, tb
	sum, got := checksumRun(t, ctx, spec, sc, tc, opts)
	msum, want := mergeRun(t, ctx, spec, sc, tc)
	if g, w := summaryJSON(sum), summaryJSON(msum); g != w {
		t.Errorf("checksum's summary %s\nmerge's          %s", g, w)
	}
	sqltest.Compare(t, "checksum vs merge: ", sqltest.Lines(t, got, nil), sqltest.Lines(t, want, nil))
}

// Values swapped between keys of one bucket are mismatches between two PostgreSQL
// servers too: a record's hash is linear in its fields' hashes, and bucket sums of them
// used to cancel the swap out ("all matched").
func TestSwappedValuesBetweenPostgreSQL(t *testing.T) {
	pg := testdb.NewPostgres(t)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id", Type: diff.TypeInteger}}, Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}}}
	pg.Exec(t, `CREATE TABLE a (id int PRIMARY KEY, amount numeric(12,2))`,
		`CREATE TABLE b (id int PRIMARY KEY, amount numeric(12,2))`,
		`INSERT INTO a VALUES (1, 100.00), (2, 999999.99)`,
		`INSERT INTO b VALUES (1, 999999.99), (2, 100.00)`)
	t.Run("one bucket", func(t *testing.T) { sameAsMerge(t, spec, pg, pg, "a", "b", checksum.Options{Factor: 1}) })

	// 1,000 keys, the amounts of two keys swapped in each of the default 16 buckets.
	pg.Exec(t, `CREATE TABLE c (id int PRIMARY KEY, amount numeric(12,2))`,
		`INSERT INTO c SELECT g, g * 1.25 FROM generate_series(1, 1000) g`, `ANALYZE c`,
		`CREATE TABLE d AS SELECT id, amount, (hashtextextended(('V' || octet_length(id::text) || ':' || id::text) COLLATE "C", 0) & 2147483647) % 16 AS bk FROM c`,
		`UPDATE d SET amount = s.na FROM (SELECT id, CASE WHEN rn = 1 THEN lead(amount) OVER w ELSE lag(amount) OVER w END AS na
			FROM (SELECT *, row_number() OVER (PARTITION BY bk ORDER BY id) rn FROM d) x WHERE rn <= 2 WINDOW w AS (PARTITION BY bk ORDER BY id)) s WHERE s.id = d.id`,
		`ALTER TABLE d DROP COLUMN bk`, `ALTER TABLE d ADD PRIMARY KEY (id)`, `ANALYZE d`)
	t.Run("every bucket", func(t *testing.T) { sameAsMerge(t, spec, pg, pg, "c", "d", checksum.Options{}) })
}

// An unbounded bpchar key holds ” as it is: an empty key, an invalid_row on each side,
// as merge reads it (a char(n) key is padded, never empty).
func TestEmptyUnboundedBpcharKey(t *testing.T) {
	pg, my := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	pg.Exec(t, `CREATE TABLE a (id bpchar, v text)`, `INSERT INTO a VALUES ('', 'x'), ('k1', 'y')`,
		`CREATE TABLE p (id char(3), v text)`, `INSERT INTO p VALUES ('', 'x'), ('k1', 'y')`)
	my.Exec(t, `CREATE TABLE a (id varchar(10), v text)`, `INSERT INTO a VALUES ('', 'x'), ('k1', 'y')`)
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Compare: []diff.Column{{Name: "v"}}}
	t.Run("postgres pair", func(t *testing.T) { sameAsMerge(t, spec, pg, pg, "a", "a", checksum.Options{}) })
	t.Run("postgres and mariadb", func(t *testing.T) { sameAsMerge(t, spec, pg, my, "a", "a", checksum.Options{}) })
	t.Run("padded", func(t *testing.T) { sameAsMerge(t, spec, pg, pg, "p", "p", checksum.Options{}) })
}
