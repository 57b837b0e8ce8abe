// Package diff is Clearhouse's comparison engine: it reads two streams of rows (Reader),
// types and normalizes their values, matches rows by key and reports every outcome of
// SEMANTICS.md to a Sink as it is found.
//
//	sum, err := diff.Run(ctx, diff.Spec{
//		Keys:    []diff.Column{{Name: "id"}},
//		Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal, AbsTolerance: "0.01"}},
//	}, source, target, diff.NewJSONLines(os.Stdout))
//
// Two strategies match rows and give the same outcomes:
//
//   - merge reads two key-ordered inputs in step, from one goroutine, and decides each
//     key while its rows are the readers' current rows: nothing is copied but a key per
//     side (a run of equal keys is counted, not kept) and what an outcome reports; texts
//     that are the same on both sides are validated once and not normalized. It fails
//     on out-of-order input, naming the side, the position and both keys;
//   - hash normalizes every row once, by the goroutine reading its side, into a compact
//     binary record (canonical key tuple, canonical values and the text as read),
//     partitions both inputs by key hash into fixed-size chunks from a pool bounded by
//     Spec.MemoryBudget, spills partitions to Spec.TempDir past the budget, and joins
//     partitions on up to GOMAXPROCS workers at once within that budget, partitioning
//     again with further hash bits when a partition does not fit. With MaxDiscrepancies
//     set, outcomes are emitted in a fixed order (by key hash), so a truncated run
//     reports the same outcomes whatever the scheduling.
//
// Nothing is global: a Run owns its goroutines, buffers and spill files.
package diff
