package trigger

import (
	"testing"
	"time"
)

// TestScheduleThatNeverFires: a cron expression that parses but has no
// activation ("0 0 30 2 *", February 30th) must not hang the reconciler: Decide returns
// at once with nothing due and no next time. Found: Decide looped forever (the cron
// library answers "no activation" with the zero time, which is never after now), holding
// one of the controller's workers for good.
func TestScheduleThatNeverFires(t *testing.T) {
	for _, st := range []State{
		{Created: utc("2026-01-01T00:00:00Z")},
		{Created: utc("2020-01-01T00:00:00Z"), LastScheduleTime: utc("2020-01-01T00:00:00Z")},
	} {
		type result struct {
			d   Decision
			err error
		}
		done := make(chan result, 1)
		go func() {
			d, err := Decide(Spec{Schedule: "0 0 30 2 *"}, st, utc("2026-11-21T19:00:00Z"))
			done <- result{d, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("Decide: %v", r.err)
			}
			if len(r.d.Due) != 0 || !r.d.Next.IsZero() || r.d.Missed != 0 {
				t.Errorf("Decide = %+v, want nothing due and no next time", r.d)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Decide did not return within 10s for a schedule that never fires (state %+v)", st)
		}
	}
}
