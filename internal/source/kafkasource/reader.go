package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// Options say what to read of the topic.
type Options struct {
	// Columns are field paths into the row, in this order. Empty: learned, the members
	// of the first rows (up to learnRows rows or learnBytes of values), in order of
	// appearance; a later row with a member that is not a column is then a RowError
	// naming it, so that no value is left out unseen. Declared columns ignore other
	// members.
	Columns []string
	// Keys are the key columns' field paths; those missing from Columns are added.
	Keys []string
	// ValuePath is the field path of the row inside each value ("after" for Debezium
	// change events); empty: the value is the row.
	ValuePath string
	// LatestPerKey reads the topic as a table, the way log compaction would leave
	// it: per partition and key, the last row wins, and a tombstone or a delete
	// (ValuePath null) removes the key. See the package doc.
	LatestPerKey bool
}

// Stats counts the records that were no rows.
type Stats struct {
	// Tombstones are records with a nil value.
	Tombstones int64 `json:"tombstones"`
	// Deletes are values whose ValuePath is JSON null (Debezium deletes).
	Deletes int64 `json:"deletes"`
	// Control records of transactions.
	Control int64 `json:"control"`
	// Superseded rows were replaced by a later row of their key (LatestPerKey).
	Superseded int64 `json:"superseded,omitempty"`
	// Removed keys were deleted by a tombstone or a delete (LatestPerKey).
	Removed int64 `json:"removed,omitempty"`
}

// Reader reads a topic snapshot. It implements diff.Reader.
type Reader struct {
	ctx     context.Context
	cfg     Config
	opts    Options
	cl      *kgo.Client
	info    Info
	end     map[int32]int64 // end offset of each partition still being read
	batch   []*kgo.Record
	next    int
	pending []*kgo.Record // records read ahead to learn the columns
	cols    []string
	learned int             // rows the columns were learned from (0: declared)
	colSet  map[string]bool // with learned: the columns
	paths   [][]string      // columns split at dots, for lookup
	cells   []diff.Cell
	rec     *kgo.Record // last record returned (or the one a RowError is about)
	pos     string
	stats   Stats
	err     error
	latest  *latest // LatestPerKey state
}

// Open lists the topic's end offsets and returns a reader of every committed record
// before them. ctx bounds the whole read; connecting and listing are also bounded by
// cfg.Timeout.
func Open(ctx context.Context, cfg Config, opts Options) (diff.Reader, error) {
	r, err := OpenReader(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// OpenReader is Open returning the concrete reader (for Stats).
func OpenReader(ctx context.Context, cfg Config, opts Options) (*Reader, error) {
	base, err := cfg.clientOptions()
	if err != nil {
		return nil, err
	}
	if opts.LatestPerKey && len(opts.Keys) == 0 {
		return nil, fmt.Errorf("%s: reading the latest row per key needs key columns", cfg.describe())
	}
	if d := firstDuplicate(opts.Columns); d != "" {
		return nil, fmt.Errorf("%s: column %q declared twice", cfg.describe(), d)
	}
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.describe(), err)
	}
	info, err := offsets(ctx, cfg, kadm.NewClient(admCl))
	admCl.Close()
	if err != nil {
		return nil, err
	}
	r := &Reader{ctx: ctx, cfg: cfg, opts: opts, info: info, end: map[int32]int64{}}
	parts := map[int32]kgo.Offset{}
	for _, p := range info.Partitions {
		if p.End > p.Start {
			r.end[p.Partition] = p.End
			parts[p.Partition] = kgo.NewOffset().At(p.Start)
		}
	}
	if len(parts) > 0 {
		consume := append(slices.Clone(base),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: parts}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			// Control records are kept so that a partition whose last offset is a
			// commit marker is seen to be finished.
			kgo.KeepControlRecords(),
			// Records deleted under the read (retention, DeleteRecords) fail it: the
			// default would move on to the new log start and lose them silently.
			kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		)
		if r.cl, err = kgo.NewClient(consume...); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.describe(), err)
		}
	}
	if err := r.setColumns(); err != nil {
		_ = r.Close()
		return nil, err
	}
	if opts.LatestPerKey {
		r.latest = newLatest(r.cols, opts.Keys)
	}
	return r, nil
}

// setColumns takes the declared columns, or reads ahead to the first row to learn
// them. Records read ahead are replayed by Next.
func (r *Reader) setColumns() error {
	cols := slices.Clone(r.opts.Columns)
	if len(cols) == 0 {
		size := 0
		for r.learned < learnRows && size < learnBytes {
			rec, err := r.nextRecord()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			r.pending = append(r.pending, rec)
			if rec.Value == nil {
				continue
			}
			size += len(rec.Value)
			row, ok, _ := rowObject(rec.Value, r.opts.ValuePath)
			if ok {
				for _, m := range row {
					if !slices.Contains(cols, m.key) {
						cols = append(cols, m.key)
					}
				}
				r.learned++
			}
		}
	}
	for _, k := range r.opts.Keys {
		if !slices.Contains(cols, k) {
			cols = append(cols, k)
		}
	}
	r.cols = cols
	if r.learned > 0 {
		r.colSet = make(map[string]bool, len(cols))
		for _, c := range cols {
			r.colSet[c] = true
		}
	}
	r.paths = make([][]string, len(cols))
	for i, c := range cols {
		r.paths[i] = splitPath(c)
	}
	r.cells = make([]diff.Cell, len(cols))
	return nil
}

// learnRows and learnBytes bound the rows the columns are learned from.
const (
	learnRows  = 1000
	learnBytes = 256 << 10
)

// Columns returns the column names (field paths).
func (r *Reader) Columns() []string { return r.cols }

// Info is the topic's partitions and offsets as listed when the read started.
func (r *Reader) Info() Info { return r.info }

// Stats counts the records skipped so far.
func (r *Reader) Stats() Stats { return r.stats }

// Position names the last record returned: "<name> partition <p> offset <o>".
func (r *Reader) Position() string {
	if r.pos != "" {
		return r.pos
	}
	if r.rec == nil {
		return r.cfg.name()
	}
	if r.pos == "" {
		r.pos = r.cfg.name() + " partition " + strconv.Itoa(int(r.rec.Partition)) + " offset " + strconv.FormatInt(r.rec.Offset, 10)
	}
	return r.pos
}

// Close closes the connections.
func (r *Reader) Close() error {
	if r.cl != nil {
		r.cl.Close()
		r.cl = nil
	}
	return nil
}

// Next returns the next row. A record that is no row of the table is a
// *source.RowError; the next call reads on.
func (r *Reader) Next() ([]diff.Cell, error) {
	if r.opts.LatestPerKey {
		return r.nextLatest()
	}
	for {
		rec, err := r.take()
		if err != nil {
			return nil, err
		}
		kind, err := r.decode(rec)
		if err != nil {
			return nil, err
		}
		if kind == kindRow {
			return r.cells, nil
		}
	}
}

// take returns the next record: one read ahead to learn the columns, or a new one.
func (r *Reader) take() (*kgo.Record, error) {
	var rec *kgo.Record
	if len(r.pending) > 0 {
		rec, r.pending = r.pending[0], r.pending[1:]
	} else {
		var err error
		if rec, err = r.nextRecord(); err != nil {
			return nil, err
		}
	}
	r.rec, r.pos = rec, ""
	return rec, nil
}

type recordKind int

const (
	kindRow       recordKind = iota
	kindTombstone            // nil value
	kindDelete               // ValuePath is JSON null
)

// decode makes rec's row into r.cells, or says what else it is (counted in Stats).
// A record that is no row is a *source.RowError.
func (r *Reader) decode(rec *kgo.Record) (recordKind, error) {
	if rec.Value == nil {
		r.stats.Tombstones++
		return kindTombstone, nil
	}
	row, ok, reason := rowObject(rec.Value, r.opts.ValuePath)
	if reason != "" {
		return 0, &source.RowError{Position: r.Position(), Reason: reason}
	}
	if !ok {
		r.stats.Deletes++
		return kindDelete, nil
	}
	for _, m := range row {
		if r.colSet != nil && !r.colSet[m.key] {
			return 0, &source.RowError{Position: r.Position(), Reason: fmt.Sprintf(
				"member %q is not a column: the columns were learned from the first %d rows; declare the columns to read it", m.key, r.learned)}
		}
	}
	for i, p := range r.paths {
		raw, found, err := lookup(row, p)
		if err != nil {
			return 0, &source.RowError{Position: r.Position(), Reason: fmt.Sprintf("column %s: %v", r.cols[i], err)}
		}
		if !found {
			r.cells[i] = diff.Cell{Null: true}
			continue
		}
		c, err := cellOf(raw)
		if err != nil {
			return 0, &source.RowError{Position: r.Position(), Reason: fmt.Sprintf("column %s: %v", r.cols[i], err)}
		}
		r.cells[i] = c
	}
	return kindRow, nil
}

// nextRecord returns the next data record before the end offsets, io.EOF after the
// last. Control records are counted and skipped.
func (r *Reader) nextRecord() (*kgo.Record, error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		for r.next < len(r.batch) {
			rec := r.batch[r.next]
			r.next++
			end, reading := r.end[rec.Partition]
			if reading && rec.Offset >= end-1 {
				// The last record before the end, or one past it (the one before was
				// an aborted transaction's, which a read-committed fetch leaves out).
				r.finish(rec.Partition)
			}
			if !reading || rec.Offset >= end {
				continue // written after the snapshot started
			}
			if rec.Attrs.IsControl() {
				r.stats.Control++
				continue
			}
			return rec, nil
		}
		if len(r.end) == 0 {
			return nil, io.EOF
		}
		fetches := r.cl.PollFetches(r.ctx)
		if err := r.fetchError(fetches); err != nil {
			r.err = err
			return nil, err
		}
		r.batch, r.next = fetches.Records(), 0
	}
}

// finish stops fetching a partition that reached its end offset.
func (r *Reader) finish(p int32) {
	delete(r.end, p)
	r.cl.PauseFetchPartitions(map[string][]int32{r.cfg.Topic: {p}})
}

func (r *Reader) fetchError(fetches kgo.Fetches) error {
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("%s: read stopped before the end offsets: %w", r.cfg.describe(), err)
	}
	errs := fetches.Errors()
	if len(errs) == 0 {
		return nil
	}
	fe := errs[0]
	if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: read stopped before the end offsets: %w", r.cfg.describe(), fe.Err)
	}
	// Anything else (records deleted under the read, authorization, a topic deleted)
	// would leave the snapshot incomplete: fatal.
	return fmt.Errorf("%s: partition %d: %w", r.cfg.describe(), fe.Partition, fe.Err)
}

func firstDuplicate(cols []string) string {
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c] {
			return c
		}
		seen[c] = true
	}
	return ""
}
