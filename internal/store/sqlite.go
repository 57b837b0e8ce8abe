package store

import (
	"context"
	"database/sql"
	"fmt"
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
			WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.job = $1 AND c.kind = d.kind AND c.key_json = d.key_json
				AND c.state IN ('open', 'acknowledged'))`,
	}}, nil
}

// sqliteBatch rows per INSERT: SQLite allows 32766 parameters, 7 per row.
const sqliteBatch = 500

func sqliteInsertDiscrepancies(ctx context.Context, tx *sql.Conn, runID string, partition int, ds []diff.Discrepancy) error {
	var body []byte
	for start := 0; start < len(ds); start += sqliteBatch {
		batch := ds[start:min(start+sqliteBatch, len(ds))]
		var q strings.Builder
		q.WriteString(`INSERT INTO discrepancies (run_id, partition, seq, kind, key_json, side, body) VALUES `)
		args := make([]any, 0, 7*len(batch))
		for i, d := range batch {
			if i > 0 {
				q.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			body = d.AppendJSON(body[:0])
			args = append(args, runID, partition, start+i, string(d.Kind), keyJSON(d.Key), string(d.Side), string(body))
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
