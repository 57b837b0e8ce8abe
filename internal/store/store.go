// Package store is the results store: runs, the discrepancies of each run, and cases —
// one per (job, kind, key) that stays open across runs until a run no longer finds it or
// a reviewer closes it (the suspense account of settlement). SQLite is the embedded
// default; PostgreSQL is the production store. Both sit behind Store and pass one
// conformance suite (storetest).
//
// Writes are idempotent: a run started twice is one run; a partition written twice
// keeps the second write's rows only; finishing a finished run changes nothing. Values
// arrive masked from the engine; the store never sees sensitive values in clear.
package store

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// RunState is where a run is, or how it ended.
type RunState string

// Run states. Balanced, Discrepant and Truncated are completed comparisons; Failed,
// Aborted and Interrupted did not complete and never touch cases.
const (
	RunRunning     RunState = "running"
	RunBalanced    RunState = "balanced"
	RunDiscrepant  RunState = "discrepant"
	RunTruncated   RunState = "truncated"
	RunFailed      RunState = "failed"
	RunAborted     RunState = "aborted"
	RunInterrupted RunState = "interrupted"
)

// RunCompleted is not a state a run is in: passed to FinishRun, it asks the store to
// derive the final state from the run's partitions once they have all written —
// truncated when one was cut short, discrepant when they found a discrepancy, else
// balanced. The Kubernetes executor uses it: only the sum of the partitions tells.
const RunCompleted RunState = "completed"

// Completed reports whether the run compared everything it was asked to (cases may be
// opened from it), and Conclusive whether its absence of a key proves the key is fixed
// (cases may be auto-resolved from it).
func (s RunState) Completed() bool {
	return s == RunBalanced || s == RunDiscrepant || s == RunTruncated
}

// Conclusive: only a run that saw every row can resolve a case by not finding it.
func (s RunState) Conclusive() bool { return s == RunBalanced || s == RunDiscrepant }

// Run is one comparison run of a job.
type Run struct {
	ID         string
	Job        string // namespace/name of the ReconciliationJob, or a CLI label
	Trigger    string // Schedule, Nonce, Window, Manual
	Window     string // the settlement window the run belongs to, if any
	Partitions int    // how many partitions make the run (1 for inline runs)
	State      RunState
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	// Summary is the sum of the partitions' counts (its Strategy is left empty: see
	// Strategy).
	Summary diff.Summary
	// Strategy is the strategy the run's partitions ran, set by FinishRun: that of the
	// partitions that read rows (all partitions when none did), StrategyMixed when they
	// differ, empty when unknown (no partition, or recorded before strategies were).
	Strategy diff.Strategy
	// PartitionsWritten is how many partitions have written their results.
	PartitionsWritten int
	RowsPerSecond     float64
	Error             string
}

// StrategyMixed is Run.Strategy when the run's partitions ran different strategies.
const StrategyMixed diff.Strategy = "mixed"

// Partition is one partition's result of a run (Summary.Strategy is stored too).
type Partition struct {
	RunID         string
	Index         int
	Summary       diff.Summary
	Discrepancies []diff.Discrepancy
	// Stream, when set, yields the discrepancies instead of Discrepancies, for a writer
	// that does not hold them all in memory. An error it yields fails the write, and
	// nothing of the partition is stored.
	Stream iter.Seq2[diff.Discrepancy, error]
}

// each yields the partition's discrepancies, from Stream or Discrepancies.
func (p Partition) each() iter.Seq2[diff.Discrepancy, error] {
	if p.Stream != nil {
		return p.Stream
	}
	return func(yield func(diff.Discrepancy, error) bool) {
		for _, d := range p.Discrepancies {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// CaseState is where a case is in review.
type CaseState string

// Case states: open and acknowledged cases are unresolved and carry forward.
const (
	CaseOpen         CaseState = "open"
	CaseAcknowledged CaseState = "acknowledged"
	CaseResolved     CaseState = "resolved"
	CaseWrittenOff   CaseState = "written_off"
)

// Unresolved reports whether the case still carries forward.
func (s CaseState) Unresolved() bool { return s == CaseOpen || s == CaseAcknowledged }

// Case is one discrepancy key that stays open across runs.
type Case struct {
	ID          int64
	Job         string
	Kind        diff.Kind
	Key         []diff.KeyValue
	State       CaseState
	FirstSeen   time.Time
	LastSeen    time.Time
	FirstRun    string
	LastRun     string
	Occurrences int
	Assignee    string
	// Resolution says how a closed case was closed: "auto" when a run no longer found
	// it (ResolvedRun names the run), else the reviewer's word.
	Resolution  string
	ResolvedRun string
	ResolvedAt  time.Time
	Notes       []Note
}

// Note is a reviewer's comment on a case.
type Note struct {
	Author string
	Text   string
	At     time.Time
}

// CaseFilter selects cases; zero fields select everything.
type CaseFilter struct {
	Job    string
	States []CaseState
}

// CaseUpdate is a reviewer's action on a case; empty fields are left as they are.
type CaseUpdate struct {
	State      CaseState
	Resolution string
	Assignee   string
	Note       *Note
}

// Store keeps runs, discrepancies and cases.
type Store interface {
	// StartRun records a run as running. Starting an existing run is a no-op.
	StartRun(ctx context.Context, r Run) error
	// WritePartition stores a partition's counts and discrepancies, replacing whatever
	// an earlier attempt of the same partition wrote.
	WritePartition(ctx context.Context, p Partition) error
	// FinishRun sums the partitions into the run, sets its end, and updates the job's
	// cases: every discrepancy of a completed run opens or extends a case; a
	// conclusive run auto-resolves the unresolved cases it did not find. Finishing a
	// finished run returns it unchanged.
	FinishRun(ctx context.Context, id string, state RunState, finishedAt time.Time, errMsg string) (Run, error)
	// GetRun returns one run; ErrNotFound when there is none.
	GetRun(ctx context.Context, id string) (Run, error)
	// Runs returns a job's runs, newest first, at most limit (0: all).
	Runs(ctx context.Context, job string, limit int) ([]Run, error)
	// Discrepancies returns a run's discrepancies in diff.SortDiscrepancies order, at
	// most limit (0: all).
	Discrepancies(ctx context.Context, runID string, limit int) ([]diff.Discrepancy, error)
	// Cases returns the cases the filter selects, oldest first, with their notes.
	Cases(ctx context.Context, f CaseFilter) ([]Case, error)
	// CountCases returns how many cases the filter selects, without reading them.
	CountCases(ctx context.Context, f CaseFilter) (int64, error)
	// UpdateCase applies a reviewer's action; ErrNotFound when there is no such case.
	UpdateCase(ctx context.Context, id int64, u CaseUpdate) (Case, error)
	// MaskKey returns the store's mask key (diff.MaskKeySize random bytes), drawing
	// and keeping one the first time. Runs recorded here mask sensitive values with
	// keys derived from it, so that masked keys, and so cases, stay the same from run
	// to run; the key is as secret as the store's credentials.
	MaskKey(ctx context.Context) ([]byte, error)
	// Close releases the store.
	Close() error
}

// ErrNotFound: no such run or case.
var ErrNotFound = errors.New("not found")

// ErrChanged: a case changed while it was being updated; read it again.
var ErrChanged = errors.New("changed concurrently: read it again")
