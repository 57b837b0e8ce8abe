package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// A run whose discrepancies cannot all be read back for the store is recorded as failed,
// with none of them, and the command says why.
func TestRecordingWhenTheDiscrepanciesCannotBeRead(t *testing.T) {
	ctx := context.Background()
	uri := "sqlite:" + filepath.Join(t.TempDir(), "results.db")
	rec, err := startRecording(ctx, diffRun{storeURI: uri, job: "j"})
	if err != nil {
		t.Fatal(err)
	}
	d := diff.Discrepancy{Kind: diff.KindMissingInTarget, Key: []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: "1"}}}}
	stream := func(yield func(diff.Discrepancy, error) bool) {
		if yield(d, nil) {
			yield(diff.Discrepancy{}, errors.New("output: reading discrepancies back: run file gone"))
		}
	}
	sum := diff.Summary{Compared: 2, Matched: 0, MissingInTarget: 2, SourceRows: 2}
	err = rec.finish(ctx, sum, stream, exitCodeError{1})
	if err == nil || !strings.Contains(err.Error(), "run file gone") {
		t.Fatalf("finish = %v, want the stream's error", err)
	}
	s, err := store.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	runs, err := s.Runs(ctx, "j", 0)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs = %v, %v", runs, err)
	}
	if r := runs[0]; r.State != store.RunFailed || !strings.Contains(r.Error, "recording the discrepancies: ") || !strings.Contains(r.Error, "run file gone") {
		t.Errorf("run = %s %q, want failed with the reason", r.State, r.Error)
	}
	if ds, err := s.Discrepancies(ctx, runs[0].ID, 0); err != nil || len(ds) != 0 {
		t.Errorf("%d discrepancies stored (%v), want none", len(ds), err)
	}
}
