package store

import (
	"context"
	"database/sql"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
)

// OpenPostgres opens the PostgreSQL results store at uri (postgres://user:pass@host/db)
// and brings its schema up to date. Errors never carry the password.
func OpenPostgres(ctx context.Context, uri string) (Store, error) {
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		return nil, fmt.Errorf("store %s: invalid PostgreSQL URI", redact.URL(uri))
	}
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store %s: %w", redact.URL(uri), redact.Error(err, cfg.Password))
	}
	if err := migrate(ctx, db, "postgres"); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store %s: %w", redact.URL(uri), redact.Error(err, cfg.Password))
	}
	return &sqlStore{db: db, d: dialect{
		name:                "postgres",
		insertDiscrepancies: postgresCopyDiscrepancies,
		openCases: `INSERT INTO cases (job, kind, key_json, state, first_seen, last_seen, first_run, last_run, occurrences)
			SELECT $1::text, d.kind, d.key_json, 'open', $3::timestamptz, $3::timestamptz, $2::text, $2::text, 1
			FROM (SELECT DISTINCT kind, key_json FROM discrepancies WHERE run_id = $2::text) d
			WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.job = $1::text AND c.kind = d.kind AND ` + pgSameKey("c.key_json", "d.key_json") + `
				AND c.state IN ('open', 'acknowledged'))`,
		sameKey: pgSameKey,
	}}, nil
}

// pgSameKey matches keys through the MD5 the key indexes hold (0003_key_hash_indexes).
func pgSameKey(a, b string) string {
	return "md5(" + a + ") = md5(" + b + ") AND " + a + " = " + b
}

// postgresCopyDiscrepancies writes a partition's discrepancies with COPY, on the
// connection (and so in the transaction) of conn.
func postgresCopyDiscrepancies(ctx context.Context, conn *sql.Conn, runID string, partition int, ds iter.Seq2[diff.Discrepancy, error]) error {
	next, stop := iter.Pull2(ds)
	defer stop()
	first, err, ok := next()
	if !ok {
		return nil // none: no COPY
	}
	if err != nil {
		return err
	}
	return conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		seq := int64(0)
		var body []byte
		_, err := pc.CopyFrom(ctx, pgx.Identifier{"discrepancies"},
			[]string{"run_id", "partition", "seq", "kind", "key_json", "side", "body"},
			pgx.CopyFromFunc(func() ([]any, error) {
				d := first
				if seq > 0 {
					var err error
					var more bool
					d, err, more = next()
					if !more {
						return nil, nil
					}
					if err != nil {
						return nil, err // aborts the COPY
					}
				}
				body = d.AppendJSON(body[:0])
				row := []any{runID, int64(partition), seq, string(d.Kind), keyJSON(d.Key), string(d.Side), string(body)}
				seq++
				return row, nil
			}))
		return err
	})
}
