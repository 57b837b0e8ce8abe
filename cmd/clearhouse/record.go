package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// recording is a CLI run being recorded in a results store.
type recording struct {
	s     store.Store
	id    string
	where string // the store's URI, redacted
}

// startRecording opens the store and starts a run when --store is set; nil otherwise.
func startRecording(ctx context.Context, r diffRun) (*recording, error) {
	if r.storeURI == "" {
		return nil, nil
	}
	s, err := store.Open(ctx, r.storeURI)
	if err != nil {
		return nil, err
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	now := time.Now().UTC()
	id := fmt.Sprintf("%s-%s-%s", r.job, now.Format("20060102T150405Z"), hex.EncodeToString(suffix[:]))
	if err := s.StartRun(ctx, store.Run{ID: id, Job: r.job, Trigger: "Manual", StartedAt: now}); err != nil {
		_ = s.Close()
		return nil, err
	}
	return &recording{s: s, id: id, where: redact.URL(r.storeURI)}, nil
}

// finish writes the outcome of the run and closes the store. A failed comparison is
// recorded as failed with its error, so nothing is lost.
func (rec *recording) finish(ctx context.Context, sum diff.Summary, ds iter.Seq2[diff.Discrepancy, error], runErr error) error {
	if rec == nil {
		return nil
	}
	defer func() { _ = rec.s.Close() }()
	// Record even when the run's context was cancelled (Ctrl-C).
	ctx = context.WithoutCancel(ctx)
	state := store.RunBalanced
	msg := ""
	switch {
	case runErr != nil && errors.Is(runErr, context.Canceled):
		state, msg = store.RunAborted, runErr.Error()
	case runErr != nil:
		state, msg = store.RunFailed, runErr.Error()
	case sum.Truncated:
		state = store.RunTruncated
	case sum.Discrepancies() > 0:
		state = store.RunDiscrepant
	}
	var exit exitCodeError
	if errors.As(runErr, &exit) {
		runErr = nil // "discrepancies found" is the run's result, not its failure
		state = store.RunDiscrepant
		if sum.Truncated {
			state = store.RunTruncated
		}
	}
	var werr error
	if runErr == nil {
		// Nothing of the partition is stored when this fails: the run is then failed.
		if werr = rec.s.WritePartition(ctx, store.Partition{RunID: rec.id, Summary: sum, Stream: ds}); werr != nil {
			state, msg = store.RunFailed, "recording the discrepancies: "+werr.Error()
		}
	}
	_, err := rec.s.FinishRun(ctx, rec.id, state, time.Now().UTC(), msg)
	return errors.Join(werr, err)
}

// teeSink sends each discrepancy to two sinks.
type teeSink struct{ a, b diff.Sink }

func (t teeSink) Emit(d diff.Discrepancy) error {
	if err := t.a.Emit(d); err != nil {
		return err
	}
	return t.b.Emit(d)
}
