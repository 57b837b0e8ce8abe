package store

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// OpenSQLite opens (creating it and its directory if needed) the SQLite store at path
// and brings its schema up to date.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	// WAL lets readers (status, the CLI) work while a run writes; busy_timeout waits
	// for the writer instead of failing; foreign keys are off by default in SQLite.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_pragma=synchronous(NORMAL)&_time_format=sqlite"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open SQLite store %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; one connection avoids lock churn.
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db, "sqlite"); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("SQLite store %s: %w", path, err)
	}
	return &sqlStore{db: db, d: dialect{
		name:                "sqlite",
		insertDiscrepancies: sqliteInsertDiscrepancies,
		openCases: `INSERT INTO cases (job, kind, key_json, state, first_seen, last_seen, first_run, last_run, occurrences)
			SELECT $1, d.kind, d.key_json, 'open', $3, $3, $2, $2, 1
			FROM (SELECT DISTINCT kind, key_json FROM discrepancies WHERE run_id = $2) d
			WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.job = $1 AND c.kind = d.kind AND ` + sqliteSameKey("c.key_json", "d.key_json") + `
				AND c.state IN ('open', 'acknowledged'))`,
		sameKey: sqliteSameKey,
	}}, nil
}

// sqliteSameKey matches keys by their JSON (SQLite's indexes hold it whole).
func sqliteSameKey(a, b string) string { return a + " = " + b }

// sqliteBatch rows per INSERT: SQLite allows 32766 parameters, 7 per row.
const sqliteBatch = 500

func sqliteInsertDiscrepancies(ctx context.Context, tx *sql.Conn, runID string, partition int, ds iter.Seq2[diff.Discrepancy, error]) (err error) {
	// The statement for a whole batch is prepared once: preparing it takes about as long
	// as running it.
	var batch *sql.Stmt
	defer func() {
		if batch != nil {
			if cerr := batch.Close(); err == nil {
				err = cerr
			}
		}
	}()
	args := make([]any, 0, 7*sqliteBatch)
	flush := func() error {
		var err error
		switch n := len(args) / 7; {
		case n == 0:
			return nil
		case n < sqliteBatch:
			_, err = tx.ExecContext(ctx, sqliteInsertRows(n), args...)
		default:
			if batch == nil {
				if batch, err = tx.PrepareContext(ctx, sqliteInsertRows(n)); err != nil {
					return err
				}
			}
			_, err = batch.ExecContext(ctx, args...)
		}
		args = args[:0]
		return err
	}
	var body []byte
	seq := 0
	for d, err := range ds {
		if err != nil {
			return err
		}
		body = d.AppendJSON(body[:0])
		args = append(args, runID, partition, seq, string(d.Kind), keyJSON(d.Key), string(d.Side), string(body))
		seq++
		if len(args) == 7*sqliteBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// sqliteInsertRows is the INSERT of n discrepancies. Its parameters are anonymous (?):
// binding $n ones looks each name up in a list, quadratic in the parameters.
func sqliteInsertRows(n int) string {
	const row = "(?,?,?,?,?,?,?)"
	return `INSERT INTO discrepancies (run_id, partition, seq, kind, key_json, side, body) VALUES ` +
		strings.Repeat(row+",", n-1) + row
}
