package controllers

import (
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
type wakeups struct {
	clock clock.WithDelayedExecution
	ch    chan event.TypedGenericEvent[*chv1.ReconciliationJob]

	mu     sync.Mutex
	timers map[types.NamespacedName]wakeTimer
}

type wakeTimer struct {
	at    time.Time
	timer clock.Timer
}

func newWakeups(c clock.WithDelayedExecution) *wakeups {
	return &wakeups{clock: c, ch: make(chan event.TypedGenericEvent[*chv1.ReconciliationJob], 256), timers: map[types.NamespacedName]wakeTimer{}}
}

// now enqueues the job. The send happens off the caller's goroutine: the controller
// may not be consuming yet (not the leader) and a caller must never block on it.
func (w *wakeups) now(key types.NamespacedName) {
	ev := event.TypedGenericEvent[*chv1.ReconciliationJob]{Object: &chv1.ReconciliationJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
	}}
	select {
	case w.ch <- ev:
	default:
		go func() { w.ch <- ev }()
	}
}

// at enqueues the job at t (replacing an earlier wake-up of the job at another time);
// a zero t cancels it.
func (w *wakeups) at(key types.NamespacedName, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	old, ok := w.timers[key]
	if ok && old.at.Equal(t) {
		return
	}
	if ok {
		old.timer.Stop()
		delete(w.timers, key)
	}
	if t.IsZero() {
		return
	}
	d := t.Sub(w.clock.Now())
	if d < 0 {
		d = 0
	}
	w.timers[key] = wakeTimer{at: t, timer: w.clock.AfterFunc(d, func() {
		w.mu.Lock()
		if cur, ok := w.timers[key]; ok && cur.at.Equal(t) {
			delete(w.timers, key)
		}
		w.mu.Unlock()
		w.now(key)
	})}
}

// forget drops the job's wake-up (the job was deleted).
func (w *wakeups) forget(key types.NamespacedName) { w.at(key, time.Time{}) }
