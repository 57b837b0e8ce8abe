package diff

import "time"

// Stats is how a run went, for operators tuning MemoryBudget and TempDir (the CLI's
// diff --stats). It is not part of Summary: Summary is the outcome of a comparison,
// Stats depends on the machine and the budget.
type Stats struct {
	Strategy   Strategy // merge or hash
	SourceRows int64    // rows read on each side (as in Summary)
	TargetRows int64
	Elapsed    time.Duration // wall time of Run

	// Hash only (zero for merge).
	MemoryBudget int64         // Spec.MemoryBudget, or DefaultMemoryBudget
	PoolLimit    int64         // bytes of rows the pool may hold: the budget less the GC's headroom
	PoolPeak     int64         // most bytes the pool held at once
	ChunkSize    int           // bytes of a chunk of the pool
	Partitions   int           // fan-out: partitions per level
	Spills       int64         // times a partition (or a full chunk of a spilled one) was written out
	SpilledBytes int64         // bytes written to spill files, all levels
	Repartitions int64         // partitions too big to join that were partitioned again on disk
	Fingerprints bool          // rows were kept as fingerprints (both sides could read rows again)
	LineJoin     bool          // with Fingerprints: keys were matched by their lines alone (linejoin.go)
	Refetched    int64         // with Fingerprints: rows read again to be compared column by column
	ReadElapsed  time.Duration // wall time of reading both sides (the join took the rest)
}

// WithStats calls fn once with the run's Stats before Run returns, after the final
// progress call, whether Run succeeds or not (after an error, the counts so far). It is
// not called when Run refuses its arguments (an invalid spec, a checksum strategy).
func WithStats(fn func(Stats)) Option { return func(o *options) { o.stats = fn } }

// Phase is what a run is doing, as Progress reports it.
type Phase string

const (
	// PhaseReading: rows are being read (merge compares as it reads, so it stays here).
	PhaseReading Phase = "reading"
	// PhaseJoining: hash has read both sides and joins its partitions.
	PhaseJoining Phase = "joining"
)
