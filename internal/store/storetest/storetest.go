// Package storetest is the conformance suite every results store must pass.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// Run runs the suite; open returns a fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("RunLifecycle", func(t *testing.T) { testRunLifecycle(t, open(t)) })
	t.Run("PartitionWrittenTwiceStaysSingle", func(t *testing.T) { testIdempotentPartition(t, open(t)) })
	t.Run("DiscrepanciesRoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("StreamedPartition", func(t *testing.T) { testStream(t, open(t)) })
	t.Run("KeysNotUTF8StayApart", func(t *testing.T) { testNotUTF8(t, open(t)) })
	t.Run("CasesCarryForwardAndAutoResolve", func(t *testing.T) { testCases(t, open(t)) })
	t.Run("ReviewerActions", func(t *testing.T) { testReview(t, open(t)) })
	t.Run("CompletedStateFromPartitions", func(t *testing.T) { testCompleted(t, open(t)) })
	t.Run("StrategyFromPartitions", func(t *testing.T) { testStrategy(t, open(t)) })
	t.Run("MaskKeyDrawnOnceAndKept", func(t *testing.T) { testMaskKey(t, open(t)) })
}

var t0 = time.Date(2026, 11, 20, 6, 30, 0, 0, time.UTC)

func key(vals ...string) []diff.KeyValue {
	names := []string{"region", "id"}
	if len(vals) == 1 {
		names = []string{"id"}
	}
	out := make([]diff.KeyValue, len(vals))
	for i, v := range vals {
		out[i] = diff.KeyValue{Name: names[i], Value: diff.Cell{Text: v}}
	}
	return out
}

func mismatch(id string) diff.Discrepancy {
	return diff.Discrepancy{Kind: diff.KindMismatch, Key: key(id), Columns: []diff.ColumnDiff{
		{Name: "amount", Source: diff.Cell{Text: "10.00"}, Target: diff.Cell{Text: "10.50"}}}}
}

func missing(id string) diff.Discrepancy {
	return diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: key(id)}
}

func summaryOf(ds []diff.Discrepancy, matched int64) diff.Summary {
	s := diff.Summary{Matched: matched, Compared: matched, SourceRows: matched + int64(len(ds)), TargetRows: matched}
	for _, d := range ds {
		s.Compared++
		switch d.Kind {
		case diff.KindMismatch:
			s.Mismatched++
		case diff.KindMissingInTarget:
			s.MissingInTarget++
		case diff.KindMissingInSource:
			s.MissingInSource++
		case diff.KindDuplicateKey:
			s.DuplicateKeys++
		case diff.KindInvalidRow:
			s.InvalidRows++
		}
	}
	return s
}

// runOnce records a one-partition run of job finding ds, finished in state at.
func runOnce(t *testing.T, s store.Store, job, id string, at time.Time, state store.RunState, ds ...diff.Discrepancy) store.Run {
	t.Helper()
	ctx := context.Background()
	if err := s.StartRun(ctx, store.Run{ID: id, Job: job, Trigger: "Schedule", StartedAt: at}); err != nil {
		t.Fatal(err)
	}
	sum := summaryOf(ds, 100)
	sum.Truncated = state == store.RunTruncated
	if err := s.WritePartition(ctx, store.Partition{RunID: id, Summary: sum, Discrepancies: ds}); err != nil {
		t.Fatal(err)
	}
	r, err := s.FinishRun(ctx, id, state, at.Add(time.Minute), "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testRunLifecycle(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	if _, err := s.GetRun(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun of an unknown run: %v, want ErrNotFound", err)
	}
	r := store.Run{ID: "r1", Job: "payments/ledger-vs-bank", Trigger: "Nonce", Window: "2026-11-20", Partitions: 2, StartedAt: t0}
	for range 2 { // starting twice is one run
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetRun(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.RunRunning || got.Partitions != 2 || !got.StartedAt.Equal(t0) || got.Window != "2026-11-20" || got.Trigger != "Nonce" {
		t.Errorf("started run = %+v", got)
	}
	p0 := []diff.Discrepancy{mismatch("1")}
	p1 := []diff.Discrepancy{missing("2"), missing("3")}
	for i, ds := range [][]diff.Discrepancy{p0, p1} {
		if err := s.WritePartition(ctx, store.Partition{RunID: "r1", Index: i, Summary: summaryOf(ds, 500), Discrepancies: ds}); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.FinishRun(ctx, "r1", store.RunDiscrepant, t0.Add(10*time.Second), "")
	if err != nil {
		t.Fatal(err)
	}
	want := diff.Summary{Compared: 1003, Matched: 1000, Mismatched: 1, MissingInTarget: 2, SourceRows: 1003, TargetRows: 1000}
	if got.Summary != want {
		t.Errorf("summary = %+v, want %+v", got.Summary, want)
	}
	if got.State != store.RunDiscrepant || !got.FinishedAt.Equal(t0.Add(10*time.Second)) || got.PartitionsWritten != 2 {
		t.Errorf("finished run = %+v", got)
	}
	if got.RowsPerSecond != 200.3 {
		t.Errorf("rows/s = %v, want 200.3 ((1003+1000)/10s)", got.RowsPerSecond)
	}
	// Finishing again changes nothing; a partition after the end is refused.
	again, err := s.FinishRun(ctx, "r1", store.RunFailed, t0.Add(time.Hour), "late")
	if err != nil || again.State != store.RunDiscrepant || again.Error != "" {
		t.Errorf("second FinishRun = %+v, %v; want the run unchanged", again, err)
	}
	if err := s.WritePartition(ctx, store.Partition{RunID: "r1", Index: 0}); err == nil {
		t.Error("WritePartition on a finished run succeeded")
	}
	if err := s.WritePartition(ctx, store.Partition{RunID: "ghost"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("WritePartition on an unknown run: %v, want ErrNotFound", err)
	}
	// Runs are listed newest first, per job.
	runOnce(t, s, "payments/ledger-vs-bank", "r2", t0.Add(24*time.Hour), store.RunBalanced)
	runOnce(t, s, "other/job", "x1", t0.Add(48*time.Hour), store.RunBalanced)
	runs, err := s.Runs(ctx, "payments/ledger-vs-bank", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := runIDs(runs); !slices.Equal(ids, []string{"r2", "r1"}) {
		t.Errorf("Runs = %v, want [r2 r1]", ids)
	}
	if runs, _ := s.Runs(ctx, "payments/ledger-vs-bank", 1); !slices.Equal(runIDs(runs), []string{"r2"}) {
		t.Errorf("Runs limit 1 = %v", runIDs(runs))
	}
}

func runIDs(rs []store.Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// testIdempotentPartition: a partition retried (its pod killed after writing) leaves
// exactly the second attempt's rows and counts.
func testIdempotentPartition(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	if err := s.StartRun(ctx, store.Run{ID: "r", Job: "j", Partitions: 2, StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	first := []diff.Discrepancy{mismatch("1"), missing("2")}
	second := []diff.Discrepancy{mismatch("1"), missing("2")}
	for _, ds := range [][]diff.Discrepancy{first, second} {
		if err := s.WritePartition(ctx, store.Partition{RunID: "r", Index: 1, Summary: summaryOf(ds, 10), Discrepancies: ds}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WritePartition(ctx, store.Partition{RunID: "r", Index: 0, Summary: summaryOf(nil, 7)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.FinishRun(ctx, "r", store.RunDiscrepant, t0.Add(time.Second), "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary.Compared != 19 || r.Summary.Mismatched != 1 || r.Summary.MissingInTarget != 1 || r.PartitionsWritten != 2 {
		t.Errorf("summary after a retried partition = %+v (partitions %d), want 19 compared, 1 mismatch, 1 missing", r.Summary, r.PartitionsWritten)
	}
	ds, err := s.Discrepancies(ctx, "r", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Errorf("%d discrepancies stored, want 2", len(ds))
	}
	cases, err := s.Cases(ctx, store.CaseFilter{Job: "j"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 || cases[0].Occurrences != 1 || cases[1].Occurrences != 1 {
		t.Errorf("cases = %+v, want two with one occurrence each", cases)
	}
}

// testStream: a partition written from a stream stores exactly what it yields (more
// than one batch); a stream that fails part way, or yields fewer than its summary
// counts, stores nothing of the partition, and the run can still take it.
func testStream(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	if err := s.StartRun(ctx, store.Run{ID: "r", Job: "j", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var want []diff.Discrepancy
	for i := range 1234 {
		want = append(want, missing(fmt.Sprintf("k%05d", i)))
	}
	stream := func(failAt int) iter.Seq2[diff.Discrepancy, error] {
		return func(yield func(diff.Discrepancy, error) bool) {
			for i, d := range want {
				if i == failAt {
					yield(diff.Discrepancy{}, errors.New("reading discrepancies back: disk gone"))
					return
				}
				if !yield(d, nil) {
					return
				}
			}
		}
	}
	for _, failAt := range []int{0, 700} {
		err := s.WritePartition(ctx, store.Partition{RunID: "r", Summary: summaryOf(want, 10), Stream: stream(failAt)})
		if err == nil || !strings.Contains(err.Error(), "disk gone") {
			t.Fatalf("a stream failing at %d: WritePartition = %v, want its error", failAt, err)
		}
		if ds, err := s.Discrepancies(ctx, "r", 0); err != nil || len(ds) != 0 {
			t.Fatalf("after a stream failing at %d: %d discrepancies stored (%v), want none", failAt, len(ds), err)
		}
	}
	// A stream that ends early without an error (or a summary that counts more) stores
	// nothing either: the run must not look complete with rows missing.
	short := func(yield func(diff.Discrepancy, error) bool) {
		for _, d := range want[:1000] {
			if !yield(d, nil) {
				return
			}
		}
	}
	err := s.WritePartition(ctx, store.Partition{RunID: "r", Summary: summaryOf(want, 10), Stream: short})
	if err == nil || !strings.Contains(err.Error(), "1000 discrepancies, but its summary counts 1234: nothing stored") {
		t.Fatalf("a stream ending early: WritePartition = %v, want an error", err)
	}
	if ds, err := s.Discrepancies(ctx, "r", 0); err != nil || len(ds) != 0 {
		t.Fatalf("after a stream ending early: %d discrepancies stored (%v), want none", len(ds), err)
	}
	if err := s.WritePartition(ctx, store.Partition{RunID: "r", Summary: summaryOf(want, 10), Stream: stream(-1)}); err != nil {
		t.Fatal(err)
	}
	r, err := s.FinishRun(ctx, "r", store.RunDiscrepant, t0.Add(time.Second), "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary.MissingInTarget != 1234 || r.PartitionsWritten != 1 {
		t.Errorf("run = %+v, want 1234 missing in one partition", r)
	}
	got, err := s.Discrepancies(ctx, "r", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored %d discrepancies, want the %d streamed, in order", len(got), len(want))
	}
}

// testNotUTF8: keys that differ only in bytes that are not UTF-8 (a Latin-1 file) are
// two cases, whose keys read back byte for byte, and a later run resolves only the one
// it no longer finds.
func testNotUTF8(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	mueller, maeller := missing("M\xfcller"), missing("M\xe4ller")
	composite := diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: []diff.KeyValue{
		{Name: "region", Value: diff.Cell{Null: true}}, {Name: "id", Value: diff.Cell{Text: "\xff\"{}"}}}}
	runOnce(t, s, "j", "r1", t0, store.RunDiscrepant, mueller, maeller, composite)
	cases, err := s.Cases(ctx, store.CaseFilter{Job: "j"})
	if err != nil {
		t.Fatal(err)
	}
	show := func(kvs []diff.KeyValue) string {
		var b strings.Builder
		for _, kv := range kvs {
			fmt.Fprintf(&b, "%s=%q/%v ", kv.Name, kv.Value.Text, kv.Value.Null)
		}
		return b.String()
	}
	var got []string
	for _, c := range cases {
		got = append(got, show(c.Key))
	}
	want := []string{show(mueller.Key), show(maeller.Key), show(composite.Key)}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("cases %v, want %v", got, want)
	}
	runOnce(t, s, "j", "r2", t0.Add(time.Hour), store.RunDiscrepant, maeller)
	open, err := s.Cases(ctx, store.CaseFilter{Job: "j", States: []store.CaseState{store.CaseOpen}})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Key[0].Value.Text != "M\xe4ller" || open[0].Occurrences != 2 {
		t.Errorf("open cases after the second run: %+v, want M\\xe4ller's, seen twice", open)
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	in := []diff.Discrepancy{
		{Kind: diff.KindMismatch, Key: key("a|b", "c"), Columns: []diff.ColumnDiff{
			{Name: "memo", Source: diff.Cell{Null: true}, Target: diff.Cell{Text: ""}},
			{Name: "account", Source: diff.Cell{Text: "***1a2b3c4d"}, Target: diff.Cell{Text: "***99aa88bb"}}}},
		{Kind: diff.KindMissingInSource, Key: key("zürich-ß-東京-🙂", "x\ty")},
		{Kind: diff.KindDuplicateKey, Key: key("eu", "7"), Side: diff.SideSource, Count: 3},
		{Kind: diff.KindInvalidRow, Key: []diff.KeyValue{{Name: "region", Value: diff.Cell{Null: true}}, {Name: "id", Value: diff.Cell{Text: "9"}}},
			Side: diff.SideTarget, Reason: "key column region is NULL", Position: "target.csv line 12"},
	}
	runOnce(t, s, "j", "r", t0, store.RunDiscrepant, in...)
	got, err := s.Discrepancies(ctx, "r", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(in)
	diff.SortDiscrepancies(want)
	if !slices.EqualFunc(got, want, func(a, b diff.Discrepancy) bool { return string(a.AppendJSON(nil)) == string(b.AppendJSON(nil)) }) {
		t.Errorf("round trip:\n got %v\nwant %v", got, want)
	}
	for _, limit := range []int{1, 2, 4, 10} {
		got, err := s.Discrepancies(ctx, "r", limit)
		if w := want[:min(limit, len(want))]; err != nil || !slices.EqualFunc(got, w, func(a, b diff.Discrepancy) bool { return string(a.AppendJSON(nil)) == string(b.AppendJSON(nil)) }) {
			t.Errorf("limit %d: got %v (%v), want the first %d in order", limit, got, err, len(w))
		}
	}
	cases, err := s.Cases(ctx, store.CaseFilter{Job: "j"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 4 {
		t.Fatalf("%d cases, want 4", len(cases))
	}
	// One case per (kind, key), keys intact (order of case ids is not specified).
	var gotKeys, wantKeys []string
	for _, c := range cases {
		gotKeys = append(gotKeys, string(diff.Discrepancy{Kind: c.Kind, Key: c.Key}.AppendJSON(nil)))
	}
	for _, d := range in {
		wantKeys = append(wantKeys, string(diff.Discrepancy{Kind: d.Kind, Key: d.Key}.AppendJSON(nil)))
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("case keys\n got %v\nwant %v", gotKeys, wantKeys)
	}
}

func caseStates(t *testing.T, s store.Store, job string) map[string]store.Case {
	t.Helper()
	cases, err := s.Cases(context.Background(), store.CaseFilter{Job: job})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Case{}
	for _, c := range cases {
		k := string(c.Kind) + ":" + c.Key[0].Value.Text
		if c.State.Unresolved() {
			k += ":open"
		} else {
			k += ":closed:" + c.LastRun
		}
		out[k] = c
	}
	return out
}

// testCases walks the suspense account through runs.
func testCases(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	const job = "payments/ledger-vs-bank"
	day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

	runOnce(t, s, job, "d1", day(1), store.RunDiscrepant, mismatch("A"), missing("B"))
	runOnce(t, s, job, "d2", day(2), store.RunDiscrepant, mismatch("A"), missing("C"))
	cs := caseStates(t, s, job)
	if a := cs["mismatch:A:open"]; a.Occurrences != 2 || a.FirstRun != "d1" || a.LastRun != "d2" || !a.FirstSeen.Equal(day(1).Add(time.Minute)) || !a.LastSeen.Equal(day(2).Add(time.Minute)) {
		t.Errorf("case A after two runs = %+v", a)
	}
	if b := cs["missing_in_target:B:closed:d1"]; b.State != store.CaseResolved || b.Resolution != "auto" || b.ResolvedRun != "d2" || !b.ResolvedAt.Equal(day(2).Add(time.Minute)) {
		t.Errorf("case B, gone in d2, = %+v; want auto-resolved by d2", b)
	}
	if c := cs["missing_in_target:C:open"]; c.Occurrences != 1 || c.FirstRun != "d2" {
		t.Errorf("case C = %+v", c)
	}
	if len(cs) != 3 {
		t.Errorf("cases = %v, want A open, B resolved, C open", keys(cs))
	}

	// A failed run and a truncated run prove nothing: no case is resolved by them.
	runOnce(t, s, job, "d3", day(3), store.RunFailed)
	runOnce(t, s, job, "d4", day(4), store.RunTruncated, mismatch("A"))
	cs = caseStates(t, s, job)
	if a := cs["mismatch:A:open"]; a.Occurrences != 3 || a.LastRun != "d4" {
		t.Errorf("case A after a failed and a truncated run = %+v; want 3 occurrences, last d4", a)
	}
	if _, ok := cs["missing_in_target:C:open"]; !ok {
		t.Errorf("case C was closed by a truncated run: %v", keys(cs))
	}

	// A balanced run resolves everything still open; a later finding opens a new case.
	runOnce(t, s, job, "d5", day(5), store.RunBalanced)
	runOnce(t, s, job, "d6", day(6), store.RunDiscrepant, missing("B"))
	cs = caseStates(t, s, job)
	open := 0
	for k, c := range cs {
		if c.State.Unresolved() {
			open++
			if k != "missing_in_target:B:open" || c.FirstRun != "d6" || c.Occurrences != 1 {
				t.Errorf("open case %s = %+v; want only a new case for B from d6", k, c)
			}
		}
	}
	if open != 1 || len(cs) != 4 {
		t.Errorf("cases = %v; want A, B(d1), C resolved and a new B open", keys(cs))
	}
	// Counting agrees with listing.
	for _, c := range []struct {
		f    store.CaseFilter
		want int64
	}{
		{store.CaseFilter{Job: job, States: []store.CaseState{store.CaseOpen, store.CaseAcknowledged}}, 1},
		{store.CaseFilter{Job: job, States: []store.CaseState{store.CaseResolved}}, 3},
		{store.CaseFilter{Job: job}, 4},
		{store.CaseFilter{Job: "other/job"}, 0},
	} {
		if n, err := s.CountCases(context.Background(), c.f); err != nil || n != c.want {
			t.Errorf("CountCases(%+v) = %d, %v; want %d", c.f, n, err, c.want)
		}
	}
	// Other jobs are untouched.
	if other := caseStates(t, s, "other/job"); len(other) != 0 {
		t.Errorf("cases of another job: %v", keys(other))
	}
}

func keys(m map[string]store.Case) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func testReview(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	const job = "promotions/sku-sync"
	runOnce(t, s, job, "r1", t0, store.RunDiscrepant, mismatch("SKU-1"), mismatch("SKU-2"))
	cases, err := s.Cases(ctx, store.CaseFilter{Job: job, States: []store.CaseState{store.CaseOpen}})
	if err != nil || len(cases) != 2 {
		t.Fatalf("open cases = %v, %v", cases, err)
	}
	if cases[0].Key[0].Value.Text != "SKU-1" { // ids follow no input order
		cases[0], cases[1] = cases[1], cases[0]
	}
	ack, err := s.UpdateCase(ctx, cases[0].ID, store.CaseUpdate{State: store.CaseAcknowledged, Assignee: "ana",
		Note: &store.Note{Author: "ana", Text: "price feed lagging; rechecking after 10:00", At: t0.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if ack.State != store.CaseAcknowledged || ack.Assignee != "ana" || len(ack.Notes) != 1 || ack.Notes[0].Author != "ana" || !ack.Notes[0].At.Equal(t0.Add(time.Hour)) {
		t.Errorf("acknowledged case = %+v", ack)
	}
	off, err := s.UpdateCase(ctx, cases[1].ID, store.CaseUpdate{State: store.CaseWrittenOff, Resolution: "rounding, below materiality",
		Note: &store.Note{Author: "lead", Text: "approved"}})
	if err != nil {
		t.Fatal(err)
	}
	if off.State != store.CaseWrittenOff || off.Resolution != "rounding, below materiality" || off.ResolvedAt.IsZero() {
		t.Errorf("written-off case = %+v", off)
	}
	if _, err := s.UpdateCase(ctx, cases[1].ID, store.CaseUpdate{State: store.CaseOpen}); err == nil {
		t.Error("reopening a written-off case succeeded")
	}
	if _, err := s.UpdateCase(ctx, 99999, store.CaseUpdate{Assignee: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("updating an unknown case: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateCase(ctx, cases[0].ID, store.CaseUpdate{State: "lost"}); err == nil {
		t.Error("an unknown state was accepted")
	}
	// The acknowledged case carries forward and is still auto-resolved when fixed.
	runOnce(t, s, job, "r2", t0.Add(24*time.Hour), store.RunDiscrepant, mismatch("SKU-1"))
	runOnce(t, s, job, "r3", t0.Add(48*time.Hour), store.RunBalanced)
	all, err := s.Cases(ctx, store.CaseFilter{Job: job})
	if err != nil {
		t.Fatal(err)
	}
	if all[0].Key[0].Value.Text != "SKU-1" {
		all[0], all[1] = all[1], all[0]
	}
	if all[0].State != store.CaseResolved || all[0].Resolution != "auto" || all[0].Occurrences != 2 || all[0].Assignee != "ana" {
		t.Errorf("acknowledged case after the fix = %+v", all[0])
	}
	if all[1].State != store.CaseWrittenOff {
		t.Errorf("written-off case changed: %+v", all[1])
	}
}

// testCompleted: FinishRun with RunCompleted derives the state from the partitions.
func testCompleted(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	for _, tc := range []struct {
		id    string
		parts []diff.Summary
		want  store.RunState
	}{
		{"balanced", []diff.Summary{summaryOf(nil, 5), summaryOf(nil, 3)}, store.RunBalanced},
		{"discrepant", []diff.Summary{summaryOf(nil, 5), summaryOf([]diff.Discrepancy{missing("1")}, 3)}, store.RunDiscrepant},
		{"truncated", []diff.Summary{{Compared: 2, Matched: 2, Truncated: true}, summaryOf([]diff.Discrepancy{missing("1")}, 3)}, store.RunTruncated},
	} {
		if err := s.StartRun(ctx, store.Run{ID: tc.id, Job: "j", Partitions: len(tc.parts), StartedAt: t0}); err != nil {
			t.Fatal(err)
		}
		for i, sum := range tc.parts {
			var ds []diff.Discrepancy // what the summary counts: one or none
			if sum.Compared > sum.Matched {
				ds = []diff.Discrepancy{missing("1")}
			}
			if err := s.WritePartition(ctx, store.Partition{RunID: tc.id, Index: i, Summary: sum, Discrepancies: ds}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := s.FinishRun(ctx, tc.id, store.RunCompleted, t0.Add(time.Second), "")
		if err != nil {
			t.Fatal(err)
		}
		if r.State != tc.want {
			t.Errorf("run %s finished %s, want %s", tc.id, r.State, tc.want)
		}
	}
}

// testStrategy: each partition's strategy is stored and FinishRun derives the run's:
// the one the partitions that read rows ran, mixed when they differ.
func testStrategy(t *testing.T, s store.Store) {
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	ran := func(st diff.Strategy, rows int64) diff.Summary {
		sum := summaryOf(nil, rows)
		sum.Strategy = st
		return sum
	}
	for _, tc := range []struct {
		id    string
		parts []diff.Summary
		want  diff.Strategy
	}{
		{"hash", []diff.Summary{ran(diff.StrategyHash, 5), ran(diff.StrategyHash, 3)}, diff.StrategyHash},
		{"merge", []diff.Summary{ran(diff.StrategyMerge, 5)}, diff.StrategyMerge},
		{"mixed", []diff.Summary{ran(diff.StrategyMerge, 5), ran(diff.StrategyHash, 3)}, store.StrategyMixed},
		// Checksum: partition 0 does the work, the others are idle.
		{"checksum", []diff.Summary{ran(diff.StrategyChecksum, 5), ran(diff.StrategyChecksum, 0), ran(diff.StrategyChecksum, 0)}, diff.StrategyChecksum},
		// Checksum that fell back to reading every row: what partition 0 ran.
		{"fallback", []diff.Summary{ran(diff.StrategyHash, 5), ran(diff.StrategyChecksum, 0)}, diff.StrategyHash},
		{"empty tables", []diff.Summary{ran(diff.StrategyMerge, 0), ran(diff.StrategyMerge, 0)}, diff.StrategyMerge},
		{"unknown", []diff.Summary{ran("", 5)}, ""},
		{"no partition", nil, ""},
	} {
		if err := s.StartRun(ctx, store.Run{ID: tc.id, Job: "j", Partitions: max(1, len(tc.parts)), StartedAt: t0}); err != nil {
			t.Fatal(err)
		}
		for i, sum := range tc.parts {
			// A retried partition replaces the strategy of the earlier attempt too.
			if err := s.WritePartition(ctx, store.Partition{RunID: tc.id, Index: i, Summary: ran("other", 7)}); err != nil {
				t.Fatal(err)
			}
			if err := s.WritePartition(ctx, store.Partition{RunID: tc.id, Index: i, Summary: sum}); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := s.GetRun(ctx, tc.id); err != nil || r.Strategy != "" {
			t.Errorf("run %s while running: strategy %q (%v), want none yet", tc.id, r.Strategy, err)
		}
		state := store.RunCompleted
		if len(tc.parts) == 0 {
			state = store.RunFailed
		}
		r, err := s.FinishRun(ctx, tc.id, state, t0.Add(time.Second), "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Strategy != tc.want {
			t.Errorf("run %s: strategy %q, want %q", tc.id, r.Strategy, tc.want)
		}
		if r.Summary.Strategy != "" {
			t.Errorf("run %s: summary strategy %q, want it only in Run.Strategy", tc.id, r.Summary.Strategy)
		}
	}
	runs, err := s.Runs(ctx, "j", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]diff.Strategy{}
	for _, r := range runs {
		got[r.ID] = r.Strategy
	}
	if got["mixed"] != store.StrategyMixed || got["checksum"] != diff.StrategyChecksum || len(got) != 8 {
		t.Errorf("Runs: strategies %v", got)
	}
}

// testMaskKey: the first callers (at once) draw one key, which every later call returns.
func testMaskKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys := make([][]byte, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = s.MaskKey(ctx) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatalf("MaskKey: %v", errs[i])
		}
		if len(keys[i]) != diff.MaskKeySize || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("MaskKey call %d = %x, call 0 = %x: want one key of %d bytes", i, keys[i], keys[0], diff.MaskKeySize)
		}
	}
	again, err := s.MaskKey(ctx)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("MaskKey later = %x, %v; want %x", again, err, keys[0])
	}
}
