package controllers

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// wakeups enqueues jobs at a time of the injected clock (the next schedule, a retry's
// backoff) or at once (a run finished). Timers come from the clock rather than from
// RequeueAfter so a test's fake clock fires them when it is stepped.
//
// The clock is never called with mu held: a fake clock runs timer callbacks, which
// take mu, while holding its own lock.
type wakeups struct {
	clock clock.WithDelayedExecution
	ch    chan event.TypedGenericEvent[*chv1.ReconciliationJob]

	mu      sync.Mutex
	timers  map[types.NamespacedName]*wakeTimer
	stopped bool
	done    chan struct{} // closed by stop: sends still waiting give up
	senders sync.WaitGroup
}

type wakeTimer struct {
	at    time.Time
	timer clock.Timer
	fired bool // the callback ran (possibly before the timer was recorded)
}

func newWakeups(c clock.WithDelayedExecution) *wakeups {
	return &wakeups{clock: c, ch: make(chan event.TypedGenericEvent[*chv1.ReconciliationJob], 256),
		timers: map[types.NamespacedName]*wakeTimer{}, done: make(chan struct{})}
}

// Start waits for the manager to stop, then stops the wake-ups (a manager.Runnable).
func (w *wakeups) Start(ctx context.Context) error {
	<-ctx.Done()
	w.stop()
	return nil
}

// stop cancels every timer and ends the sends still waiting for the controller, which
// no longer consumes: nothing of a stopped manager lingers.
func (w *wakeups) stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	close(w.done)
	timers := w.timers
	w.timers = map[types.NamespacedName]*wakeTimer{}
	w.mu.Unlock()
	for _, t := range timers {
		if t.timer != nil {
			t.timer.Stop()
		}
	}
	w.senders.Wait()
}

// now enqueues the job. The send happens off the caller's goroutine when the channel
// is full: the controller may not be consuming yet (not the leader) and a caller must
// never block on it.
func (w *wakeups) now(key types.NamespacedName) {
	ev := event.TypedGenericEvent[*chv1.ReconciliationJob]{Object: &chv1.ReconciliationJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
	}}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	select {
	case w.ch <- ev:
	default:
		w.senders.Add(1)
		go func() {
			defer w.senders.Done()
			select {
			case w.ch <- ev:
			case <-w.done:
			}
		}()
	}
}

// at enqueues the job at t (replacing an earlier wake-up of the job at another time);
// a zero t cancels it. Calls for one job come from its reconciles, one at a time.
func (w *wakeups) at(key types.NamespacedName, t time.Time) {
	w.mu.Lock()
	old := w.timers[key]
	if w.stopped || (old != nil && old.at.Equal(t)) {
		w.mu.Unlock()
		return
	}
	delete(w.timers, key)
	w.mu.Unlock()
	if old != nil {
		old.timer.Stop()
	}
	if t.IsZero() {
		return
	}
	d := max(t.Sub(w.clock.Now()), 0)
	wt := &wakeTimer{at: t}
	timer := w.clock.AfterFunc(d, func() {
		w.mu.Lock()
		wt.fired = true
		if w.timers[key] == wt {
			delete(w.timers, key)
		}
		w.mu.Unlock()
		w.now(key)
	})
	w.mu.Lock()
	stopped := w.stopped
	if !stopped && !wt.fired {
		wt.timer = timer
		w.timers[key] = wt
	}
	w.mu.Unlock()
	if stopped {
		timer.Stop()
	}
}

// forget drops the job's wake-up (the job was deleted).
func (w *wakeups) forget(key types.NamespacedName) { w.at(key, time.Time{}) }
