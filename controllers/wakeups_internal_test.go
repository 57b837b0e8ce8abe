package controllers

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

var wakeKey = types.NamespacedName{Namespace: "ns", Name: "j"}

// drain returns how many wake-ups are queued.
func drain(w *wakeups) int {
	n := 0
	for {
		select {
		case <-w.ch:
			n++
		default:
			return n
		}
	}
}

func TestWakeupFiresWhenTheClockGetsThere(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	w := newWakeups(clk)
	w.at(wakeKey, t0.Add(time.Minute))
	w.at(wakeKey, t0.Add(time.Minute)) // the same time again: one timer
	clk.Step(59 * time.Second)
	if n := drain(w); n != 0 {
		t.Fatalf("%d wake-ups before the time", n)
	}
	clk.Step(time.Second)
	if n := drain(w); n != 1 {
		t.Fatalf("%d wake-ups at the time, want 1", n)
	}
	w.at(wakeKey, t0.Add(2*time.Minute))
	w.forget(wakeKey)
	clk.Step(time.Hour)
	if n := drain(w); n != 0 {
		t.Fatalf("%d wake-ups after forget", n)
	}
}

// A fake clock runs callbacks under its own lock: stepping it while reconciles set
// wake-ups must not deadlock.
func TestWakeupsAndSteppingDoNotDeadlock(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	w := newWakeups(clk)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range 4 {
			key := types.NamespacedName{Namespace: "ns", Name: string(rune('a' + g))}
			wg.Go(func() {
				for i := range 2000 {
					w.at(key, clk.Now().Add(time.Duration(i%3)*time.Millisecond))
				}
			})
		}
		wg.Go(func() {
			for range 2000 {
				clk.Step(time.Millisecond)
				drain(w)
			}
		})
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // a hang, not a duration under test
		t.Fatal("deadlock between the fake clock and the wake-ups")
	}
}

// Stopping ends every pending timer and every send waiting on a full channel, and
// later calls schedule nothing.
func TestWakeupsStop(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	w := newWakeups(clk)
	for range cap(w.ch) + 10 { // nobody consumes: 10 sends wait
		w.now(wakeKey)
	}
	w.at(wakeKey, t0.Add(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Start(ctx); err != nil { // returns once the waiting sends have ended
		t.Fatal(err)
	}
	if n := clk.Waiters(); n != 0 {
		t.Errorf("%d timers left after stop", n)
	}
	w.at(wakeKey, t0.Add(2*time.Minute))
	w.now(wakeKey)
	clk.Step(time.Hour)
	if n := drain(w); n != cap(w.ch) {
		t.Errorf("%d wake-ups queued, want the %d sent before stop", n, cap(w.ch))
	}
	if n := clk.Waiters(); n != 0 {
		t.Errorf("%d timers set after stop", n)
	}
}
