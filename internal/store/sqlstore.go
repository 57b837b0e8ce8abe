package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// dialect holds what differs between the SQL backends.
type dialect struct {
	name string
	// insertDiscrepancies writes one partition's discrepancies inside tx (batched
	// INSERTs for SQLite, COPY for PostgreSQL).
	insertDiscrepancies func(ctx context.Context, conn *sql.Conn, runID string, partition int, ds iter.Seq2[diff.Discrepancy, error]) error
	// openCases opens a case for each (kind, key) of the run that has no unresolved
	// case. Parameters: $1 job, $2 run id, $3 time.
	openCases string
	// sameKey is the condition that keys a and b (key_json columns) are equal, in a
	// form the key indexes serve.
	sameKey func(a, b string) string
}

// sqlStore implements Store over database/sql; statements use $n placeholders, which
// SQLite and PostgreSQL both accept.
type sqlStore struct {
	db *sql.DB
	d  dialect
}

func (s *sqlStore) Close() error { return s.db.Close() }

// inTx runs fn in a transaction on one connection, committing when it returns nil. The
// transaction is begun with SQL on a dedicated connection rather than with BeginTx so
// that a backend can reach the driver's connection underneath (PostgreSQL's COPY) and
// still write inside the same transaction.
func (s *sqlStore) inTx(ctx context.Context, fn func(conn *sql.Conn) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(conn); err != nil {
		// Roll back even if ctx is done: the connection goes back to the pool.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *sqlStore) MaskKey(ctx context.Context) ([]byte, error) {
	// Processes opening a fresh store at once may each draw a key: the first insert
	// wins and every one of them reads it back.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('mask_key', $1) ON CONFLICT (name) DO NOTHING`,
		hex.EncodeToString(diff.NewMaskKey())); err != nil {
		return nil, fmt.Errorf("store: mask key: %w", err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'mask_key'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: mask key: %w", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < diff.MaskKeySize {
		return nil, errors.New("store: mask key: the settings table holds no valid mask_key")
	}
	return key, nil
}

func (s *sqlStore) StartRun(ctx context.Context, r Run) error {
	if r.ID == "" || r.Job == "" {
		return errors.New("store: a run needs an id and a job")
	}
	if r.Partitions < 1 {
		r.Partitions = 1
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO runs (id, job, trigger_kind, window_name, partitions, state, started_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.Job, r.Trigger, r.Window, r.Partitions, string(RunRunning), r.StartedAt.UTC())
	if err != nil {
		return fmt.Errorf("start run %s: %w", r.ID, err)
	}
	return nil
}

func (s *sqlStore) WritePartition(ctx context.Context, p Partition) error {
	return s.inTx(ctx, func(tx *sql.Conn) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM runs WHERE id = $1`, p.RunID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("write partition %d of run %s: %w", p.Index, p.RunID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("write partition %d of run %s: %w", p.Index, p.RunID, err)
		}
		if RunState(state) != RunRunning {
			return fmt.Errorf("write partition %d of run %s: the run is already %s", p.Index, p.RunID, state)
		}
		// Idempotent: a retried partition replaces what an earlier attempt wrote.
		if _, err := tx.ExecContext(ctx, `DELETE FROM discrepancies WHERE run_id = $1 AND partition = $2`, p.RunID, p.Index); err != nil {
			return fmt.Errorf("clear partition %d of run %s: %w", p.Index, p.RunID, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM run_partitions WHERE run_id = $1 AND idx = $2`, p.RunID, p.Index); err != nil {
			return fmt.Errorf("clear partition %d of run %s: %w", p.Index, p.RunID, err)
		}
		sum := p.Summary
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_partitions (run_id, idx, compared, matched, missing_in_target,
			missing_in_source, mismatched, duplicate_keys, invalid_rows, truncated, source_rows, target_rows, strategy)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			p.RunID, p.Index, sum.Compared, sum.Matched, sum.MissingInTarget, sum.MissingInSource, sum.Mismatched,
			sum.DuplicateKeys, sum.InvalidRows, sum.Truncated, sum.SourceRows, sum.TargetRows, string(sum.Strategy)); err != nil {
			return fmt.Errorf("write partition %d of run %s: %w", p.Index, p.RunID, err)
		}
		var n int64
		counted := func(yield func(diff.Discrepancy, error) bool) {
			for d, err := range p.each() {
				if err == nil {
					n++
				}
				if !yield(d, err) {
					return
				}
			}
		}
		if err := s.d.insertDiscrepancies(ctx, tx, p.RunID, p.Index, counted); err != nil {
			return fmt.Errorf("write discrepancies of partition %d of run %s: %w", p.Index, p.RunID, err)
		}
		// A stream that ended early without an error must not make a run that looks
		// complete: the rows stored are the rows counted, or nothing is stored.
		if want := sum.Compared - sum.Matched; n != want {
			return fmt.Errorf("write partition %d of run %s: %d discrepancies, but its summary counts %d: nothing stored", p.Index, p.RunID, n, want)
		}
		return nil
	})
}

func (s *sqlStore) FinishRun(ctx context.Context, id string, state RunState, finishedAt time.Time, errMsg string) (Run, error) {
	if state == RunRunning || state == "" {
		return Run{}, fmt.Errorf("finish run %s: %q is not a final state", id, state)
	}
	finishedAt = finishedAt.UTC()
	err := s.inTx(ctx, func(tx *sql.Conn) error {
		r, err := getRun(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.State != RunRunning {
			return nil // finished already: idempotent
		}
		if state == RunCompleted {
			var discrepancies, truncated int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(compared - matched), 0),
				COALESCE(SUM(CASE WHEN truncated THEN 1 ELSE 0 END), 0) FROM run_partitions WHERE run_id = $1`, id).
				Scan(&discrepancies, &truncated); err != nil {
				return fmt.Errorf("finish run %s: sum partitions: %w", id, err)
			}
			switch {
			case truncated > 0:
				state = RunTruncated
			case discrepancies > 0:
				state = RunDiscrepant
			default:
				state = RunBalanced
			}
		}
		strategy, err := runStrategy(ctx, tx, id)
		if err != nil {
			return err
		}
		// Sum the partitions into the run: only while it is running, so that of two
		// finishes at once (a run's own and an abort, or two managers') one applies.
		res, err := tx.ExecContext(ctx, `UPDATE runs SET
			compared = (SELECT COALESCE(SUM(compared), 0) FROM run_partitions WHERE run_id = $1),
			matched = (SELECT COALESCE(SUM(matched), 0) FROM run_partitions WHERE run_id = $1),
			missing_in_target = (SELECT COALESCE(SUM(missing_in_target), 0) FROM run_partitions WHERE run_id = $1),
			missing_in_source = (SELECT COALESCE(SUM(missing_in_source), 0) FROM run_partitions WHERE run_id = $1),
			mismatched = (SELECT COALESCE(SUM(mismatched), 0) FROM run_partitions WHERE run_id = $1),
			duplicate_keys = (SELECT COALESCE(SUM(duplicate_keys), 0) FROM run_partitions WHERE run_id = $1),
			invalid_rows = (SELECT COALESCE(SUM(invalid_rows), 0) FROM run_partitions WHERE run_id = $1),
			truncated = EXISTS (SELECT 1 FROM run_partitions WHERE run_id = $1 AND truncated),
			source_rows = (SELECT COALESCE(SUM(source_rows), 0) FROM run_partitions WHERE run_id = $1),
			target_rows = (SELECT COALESCE(SUM(target_rows), 0) FROM run_partitions WHERE run_id = $1),
			state = $2, finished_at = $3, error = $4, strategy = $5
			WHERE id = $1 AND state = $6`, id, string(state), finishedAt, errMsg, string(strategy), string(RunRunning))
		if err != nil {
			return fmt.Errorf("finish run %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("finish run %s: %w", id, err)
		} else if n == 0 {
			return nil // another finish came first: idempotent
		}
		if secs := finishedAt.Sub(r.StartedAt).Seconds(); secs > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET rows_per_second = (source_rows + target_rows) / CAST($2 AS DOUBLE PRECISION) WHERE id = $1`, id, secs); err != nil {
				return fmt.Errorf("finish run %s: %w", id, err)
			}
		}
		if !state.Completed() {
			return nil // a run that did not complete proves nothing about cases
		}
		// Extend the unresolved cases this run found again, then open the new ones.
		if _, err := tx.ExecContext(ctx, `UPDATE cases SET last_seen = $3, last_run = $2, occurrences = occurrences + 1
			WHERE job = $1 AND state IN ('open', 'acknowledged') AND EXISTS (
				SELECT 1 FROM discrepancies d WHERE d.run_id = $2 AND d.kind = cases.kind AND `+s.d.sameKey("d.key_json", "cases.key_json")+`)`,
			r.Job, id, finishedAt); err != nil {
			return fmt.Errorf("carry cases forward for run %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.openCases, r.Job, id, finishedAt); err != nil {
			return fmt.Errorf("open cases for run %s: %w", id, err)
		}
		if state.Conclusive() {
			if _, err := tx.ExecContext(ctx, `UPDATE cases SET state = 'resolved', resolution = 'auto', resolved_run = $2, resolved_at = $3
				WHERE job = $1 AND state IN ('open', 'acknowledged') AND last_run <> $2`, r.Job, id, finishedAt); err != nil {
				return fmt.Errorf("auto-resolve cases for run %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return Run{}, err
	}
	return s.GetRun(ctx, id)
}

// runStrategy derives a run's strategy from its partitions (see Run.Strategy).
// Partitions that read no rows are left out when others did: under checksum only
// partition 0 works, and when it reads every row instead (merge or hash) that is what
// the run did, not a mix with the idle partitions' checksum.
func runStrategy(ctx context.Context, tx *sql.Conn, id string) (diff.Strategy, error) {
	rows, err := tx.QueryContext(ctx, `SELECT strategy, source_rows, target_rows FROM run_partitions
		WHERE run_id = $1 AND strategy <> '' ORDER BY idx`, id)
	if err != nil {
		return "", fmt.Errorf("finish run %s: read partition strategies: %w", id, err)
	}
	defer func() { _ = rows.Close() }()
	var reading, idle []diff.Strategy
	for rows.Next() {
		var s string
		var src, tgt int64
		if err := rows.Scan(&s, &src, &tgt); err != nil {
			return "", fmt.Errorf("finish run %s: read partition strategies: %w", id, err)
		}
		if src+tgt > 0 {
			reading = append(reading, diff.Strategy(s))
		} else {
			idle = append(idle, diff.Strategy(s))
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("finish run %s: read partition strategies: %w", id, err)
	}
	if len(reading) == 0 {
		reading = idle
	}
	if len(reading) == 0 {
		return "", nil
	}
	for _, s := range reading[1:] {
		if s != reading[0] {
			return StrategyMixed, nil
		}
	}
	return reading[0], nil
}

// queryer is what getRun needs of a *sql.DB or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const runColumns = `id, job, trigger_kind, window_name, partitions, state, started_at, finished_at,
	compared, matched, missing_in_target, missing_in_source, mismatched, duplicate_keys, invalid_rows, truncated,
	source_rows, target_rows, rows_per_second, error, strategy,
	(SELECT COUNT(*) FROM run_partitions p WHERE p.run_id = runs.id)`

type scanner interface{ Scan(dest ...any) error }

func scanRun(sc scanner) (Run, error) {
	var r Run
	var state, strategy string
	var finished sql.NullTime
	sum := &r.Summary
	err := sc.Scan(&r.ID, &r.Job, &r.Trigger, &r.Window, &r.Partitions, &state, &r.StartedAt, &finished,
		&sum.Compared, &sum.Matched, &sum.MissingInTarget, &sum.MissingInSource, &sum.Mismatched, &sum.DuplicateKeys,
		&sum.InvalidRows, &sum.Truncated, &sum.SourceRows, &sum.TargetRows, &r.RowsPerSecond, &r.Error, &strategy, &r.PartitionsWritten)
	r.State, r.Strategy = RunState(state), diff.Strategy(strategy)
	r.StartedAt = r.StartedAt.UTC()
	if finished.Valid {
		r.FinishedAt = finished.Time.UTC()
	}
	return r, err
}

func getRun(ctx context.Context, q queryer, id string) (Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", id, err)
	}
	return r, nil
}

func (s *sqlStore) GetRun(ctx context.Context, id string) (Run, error) { return getRun(ctx, s.db, id) }

func (s *sqlStore) Runs(ctx context.Context, job string, limit int) ([]Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE job = $1 ORDER BY started_at DESC, id DESC`
	args := []any{job}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs of %s: %w", job, err)
	}
	defer func() { _ = rows.Close() }()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs of %s: %w", job, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqlStore) Discrepancies(ctx context.Context, runID string, limit int) ([]diff.Discrepancy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM discrepancies WHERE run_id = $1`, runID)
	if err != nil {
		return nil, fmt.Errorf("read discrepancies of run %s: %w", runID, err)
	}
	defer func() { _ = rows.Close() }()
	// With a limit (an alert's sample), only that many are held, however many the run has.
	var out []diff.Discrepancy
	var first *diff.FirstN
	if limit > 0 {
		first = diff.NewFirstN(limit)
	}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("read discrepancies of run %s: %w", runID, err)
		}
		var d diff.Discrepancy
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, fmt.Errorf("decode a discrepancy of run %s: %w", runID, err)
		}
		if first != nil {
			first.Add(d)
		} else {
			out = append(out, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read discrepancies of run %s: %w", runID, err)
	}
	if first != nil {
		return first.Sorted(), nil
	}
	diff.SortDiscrepancies(out)
	return out, nil
}

const caseColumns = `id, job, kind, key_json, state, first_seen, last_seen, first_run, last_run, occurrences,
	assignee, resolution, resolved_run, resolved_at`

// caseWhere is the WHERE clause of a case filter and its arguments.
func caseWhere(f CaseFilter) (string, []any) {
	q := ` WHERE 1 = 1`
	var args []any
	if f.Job != "" {
		args = append(args, f.Job)
		q += fmt.Sprintf(` AND job = $%d`, len(args))
	}
	if len(f.States) > 0 {
		var ph []string
		for _, st := range f.States {
			args = append(args, string(st))
			ph = append(ph, fmt.Sprintf("$%d", len(args)))
		}
		q += ` AND state IN (` + strings.Join(ph, ", ") + `)`
	}
	return q, args
}

func (s *sqlStore) CountCases(ctx context.Context, f CaseFilter) (int64, error) {
	where, args := caseWhere(f)
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count cases: %w", err)
	}
	return n, nil
}

func (s *sqlStore) Cases(ctx context.Context, f CaseFilter) ([]Case, error) {
	where, args := caseWhere(f)
	rows, err := s.db.QueryContext(ctx, `SELECT `+caseColumns+` FROM cases`+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	var out []Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("list cases: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Notes, err = s.notes(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func scanCase(sc scanner) (Case, error) {
	var c Case
	var kind, keyJSON, state string
	var resolvedAt sql.NullTime
	if err := sc.Scan(&c.ID, &c.Job, &kind, &keyJSON, &state, &c.FirstSeen, &c.LastSeen, &c.FirstRun, &c.LastRun,
		&c.Occurrences, &c.Assignee, &c.Resolution, &c.ResolvedRun, &resolvedAt); err != nil {
		return c, err
	}
	c.Kind, c.State = diff.Kind(kind), CaseState(state)
	c.FirstSeen, c.LastSeen = c.FirstSeen.UTC(), c.LastSeen.UTC()
	if resolvedAt.Valid {
		c.ResolvedAt = resolvedAt.Time.UTC()
	}
	key, err := parseKey(keyJSON)
	c.Key = key
	return c, err
}

func (s *sqlStore) notes(ctx context.Context, caseID int64) ([]Note, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT author, text, at FROM case_notes WHERE case_id = $1 ORDER BY at`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read notes of case %d: %w", caseID, err)
	}
	defer func() { _ = rows.Close() }()
	var out []Note
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.Author, &n.Text, &n.At); err != nil {
			return nil, fmt.Errorf("read notes of case %d: %w", caseID, err)
		}
		n.At = n.At.UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s *sqlStore) UpdateCase(ctx context.Context, id int64, u CaseUpdate) (Case, error) {
	switch u.State {
	case "", CaseOpen, CaseAcknowledged, CaseResolved, CaseWrittenOff:
	default:
		return Case{}, fmt.Errorf("update case %d: unknown state %q", id, u.State)
	}
	if u.Note != nil && (u.Note.Author == "" || u.Note.Text == "") {
		return Case{}, fmt.Errorf("update case %d: a note needs an author and a text", id)
	}
	err := s.inTx(ctx, func(tx *sql.Conn) error {
		c, err := scanCase(tx.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("case %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read case %d: %w", id, err)
		}
		now := time.Now().UTC()
		if u.State != "" && u.State != c.State {
			if !c.State.Unresolved() && u.State.Unresolved() {
				return fmt.Errorf("update case %d: a %s case cannot be reopened; a new case opens when a run finds the key again", id, c.State)
			}
			var resolvedAt any
			resolution := ""
			if !u.State.Unresolved() {
				resolvedAt, resolution = now, u.Resolution
				if resolution == "" {
					resolution = string(u.State)
				}
			}
			// Only from the state read: a run may resolve the case meanwhile.
			res, err := tx.ExecContext(ctx, `UPDATE cases SET state = $2, resolution = $3, resolved_at = $4 WHERE id = $1 AND state = $5`,
				id, string(u.State), resolution, resolvedAt, string(c.State))
			if err != nil {
				return fmt.Errorf("update case %d: %w", id, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("update case %d: %w", id, err)
			} else if n == 0 {
				return fmt.Errorf("update case %d: it changed from %s meanwhile (a run resolved it?): %w", id, c.State, ErrChanged)
			}
		}
		if u.Assignee != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE cases SET assignee = $2 WHERE id = $1`, id, u.Assignee); err != nil {
				return fmt.Errorf("assign case %d: %w", id, err)
			}
		}
		if u.Note != nil {
			at := u.Note.At
			if at.IsZero() {
				at = now
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_notes (case_id, at, author, text) VALUES ($1, $2, $3, $4)`,
				id, at.UTC(), u.Note.Author, u.Note.Text); err != nil {
				return fmt.Errorf("add a note to case %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return Case{}, err
	}
	cs, err := s.caseByID(ctx, id)
	return cs, err
}

func (s *sqlStore) caseByID(ctx context.Context, id int64) (Case, error) {
	c, err := scanCase(s.db.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = $1`, id))
	if err != nil {
		return Case{}, fmt.Errorf("read case %d: %w", id, err)
	}
	c.Notes, err = s.notes(ctx, id)
	return c, err
}

// keyJSON is the canonical text of a key: a JSON object of the key columns in key
// order, as the engine writes it. Cases are matched on it. A value that is not valid
// UTF-8 is written {"base64":"…"}: as a JSON string it would become U+FFFD, and two
// different keys one case.
func keyJSON(kvs []diff.KeyValue) string {
	b := []byte{'{'}
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(kv.Name)
		b = append(b, name...)
		b = append(b, ':')
		switch {
		case kv.Value.Null:
			b = append(b, "null"...)
		case utf8.ValidString(kv.Value.Text):
			v, _ := json.Marshal(kv.Value.Text)
			b = append(b, v...)
		default:
			b = append(b, `{"base64":"`...)
			b = base64.StdEncoding.AppendEncode(b, []byte(kv.Value.Text))
			b = append(b, `"}`...)
		}
	}
	return string(append(b, '}'))
}

// parseKey reads keyJSON's form back.
func parseKey(s string) ([]diff.KeyValue, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var kvs []diff.KeyValue
	bad := func(err error) ([]diff.KeyValue, error) { return nil, fmt.Errorf("decode case key %s: %w", s, err) }
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad(fmt.Errorf("not an object (%v)", err))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad(err)
		}
		kv := diff.KeyValue{Name: name}
		var b64 struct {
			Base64 []byte `json:"base64"`
		}
		switch {
		case string(raw) == "null":
			kv.Value.Null = true
		case len(raw) > 0 && raw[0] == '{':
			if err := json.Unmarshal(raw, &b64); err != nil {
				return bad(err)
			}
			kv.Value.Text = string(b64.Base64)
		default:
			if err := json.Unmarshal(raw, &kv.Value.Text); err != nil {
				return bad(err)
			}
		}
		kvs = append(kvs, kv)
	}
	return kvs, nil
}
