package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Why a run's context was cancelled; the run's final state follows from it.
var (
	// errShutdown: the manager stopped (or lost leadership); the run is Interrupted and
	// the next leader retries it.
	errShutdown = errors.New("the manager stopped during the run")
	// errDeleted: the job was deleted; the run is Aborted.
	errDeleted = errors.New("the ReconciliationJob was deleted")
)

// replacedBy is the cancellation cause of a run replaced by a newer one
// (concurrencyPolicy Replace); the run is Aborted.
type replacedBy struct{ id string }

func (r replacedBy) Error() string {
	return fmt.Sprintf("replaced by run %s (concurrencyPolicy Replace)", r.id)
}

// InlineExecutor is the bounded worker pool that runs Inline runs inside the manager.
// It is a leader-election runnable: when the manager stops or loses leadership it
// cancels every run (they finish Interrupted) and waits for them before the lease is
// released, so a new leader never sees a run that is still executing elsewhere.
type InlineExecutor struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	sem    chan struct{}
	wg     sync.WaitGroup

	mu   sync.Mutex
	runs map[string]context.CancelCauseFunc // run id -> cancel
}

// NewInlineExecutor returns a pool that runs at most size runs at once (at least 1);
// runs beyond that wait for a slot.
func NewInlineExecutor(size int) *InlineExecutor {
	if size < 1 {
		size = 1
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &InlineExecutor{ctx: ctx, cancel: cancel, sem: make(chan struct{}, size), runs: map[string]context.CancelCauseFunc{}}
}

// Start waits for the manager to stop, then cancels the runs and waits for them.
func (e *InlineExecutor) Start(ctx context.Context) error {
	<-ctx.Done()
	e.cancel(errShutdown)
	e.wg.Wait()
	return nil
}

// NeedLeaderElection: inline runs happen on the leader only.
func (e *InlineExecutor) NeedLeaderElection() bool { return true }

// Submit runs fn as run id in the pool. fn gets a context cancelled, with a cause, when
// the run is cancelled or the manager stops. A run already active is not started twice.
func (e *InlineExecutor) Submit(id string, fn func(ctx context.Context)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx.Err() != nil {
		return errShutdown
	}
	if _, ok := e.runs[id]; ok {
		return nil
	}
	ctx, cancel := context.WithCancelCause(e.ctx)
	e.runs[id] = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.runs, id)
			e.mu.Unlock()
			cancel(nil)
		}()
		select {
		case e.sem <- struct{}{}:
			defer func() { <-e.sem }()
		case <-ctx.Done():
		}
		fn(ctx) // a run cancelled while queued still reports how it ended
	}()
	return nil
}

// Active reports whether run id is queued or running in this manager.
func (e *InlineExecutor) Active(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.runs[id]
	return ok
}

// Cancel cancels run id with cause; it does nothing when the run is not active.
func (e *InlineExecutor) Cancel(id string, cause error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cancel, ok := e.runs[id]; ok {
		cancel(cause)
	}
}
