package controllers_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// setClock moves the shared fake clock forward to t (never back: other jobs' timers
// and schedules assume it only advances).
func setClock(t *testing.T, at time.Time) {
	t.Helper()
	if now := clk.Now(); now.After(at) {
		t.Fatalf("the fake clock is at %s, past %s: order the tests that set absolute times", now, at)
	}
	clk.SetTime(at)
}

// TestScheduleFiresInTimeZoneAcrossDST: "0 9 * * *" in Europe/Berlin fires at 08:00 UTC
// before the spring-forward and 07:00 UTC after it, each time exactly once, under the
// fake clock; nextScheduleTime and lastScheduleTime follow. startingDeadlineSeconds
// keeps the years between the job's creation and the fake clock from counting as
// missed.
func TestScheduleFiresInTimeZoneAcrossDST(t *testing.T) {
	p := smallPair(t, "rj-cron")
	setClock(t, time.Date(2031, 3, 29, 0, 0, 0, 0, time.UTC)) // Europe: DST starts 2031-03-30
	p.Job.Spec.Schedule = "0 9 * * *"
	p.Job.Spec.TimeZone = "Europe/Berlin"
	p.Job.Spec.StartingDeadlineSeconds = ptrTo(int64(120))
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	uid := string(p.Job.UID)

	wantNext := func(next time.Time) {
		t.Helper()
		eventually(t, "nextScheduleTime "+next.String(), func() error {
			j := getJob(t, p.Job)
			if n := j.Status.NextScheduleTime; n == nil || !n.Time.Equal(next) {
				return fmt.Errorf("nextScheduleTime = %v, want %s", n, next)
			}
			return nil
		})
	}
	wantNext(time.Date(2031, 3, 29, 8, 0, 0, 0, time.UTC)) // 09:00 CET
	if runs := storeRuns(t, p.Job); len(runs) != 0 {
		t.Fatalf("runs before the first schedule: %v", runIDs(runs))
	}

	first := time.Date(2031, 3, 29, 8, 0, 0, 0, time.UTC)
	setClock(t, first.Add(-time.Second))
	setClock(t, first)
	id1 := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Schedule, Time: first})
	j := waitRunEnded(t, p.Job, id1)
	if j.Status.LastRun.Trigger != "Schedule" || !j.Status.LastRun.StartTime.Time.Equal(first) {
		t.Errorf("lastRun %+v, want a Schedule run started at %s", j.Status.LastRun, first)
	}
	second := time.Date(2031, 3, 30, 7, 0, 0, 0, time.UTC) // 09:00 CEST
	wantNext(second)

	// 30s late (within the deadline): the run starts, with its schedule time in its id.
	setClock(t, second.Add(30*time.Second))
	id2 := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Schedule, Time: second})
	j = waitRunEnded(t, p.Job, id2)
	wantNext(time.Date(2031, 3, 31, 7, 0, 0, 0, time.UTC))
	if lst := j.Status.LastScheduleTime; lst == nil || !lst.Time.Equal(second) {
		t.Errorf("lastScheduleTime = %v, want %s", lst, second)
	}

	// Suspended, the next schedule passes without a run and nextScheduleTime goes.
	update(t, p.Job, func(j *chv1.ReconciliationJob) { j.Spec.Suspend = true })
	eventually(t, "suspended", func() error {
		if j := getJob(t, p.Job); j.Status.NextScheduleTime != nil || j.Status.ObservedGeneration != j.Generation {
			return fmt.Errorf("nextScheduleTime %v while suspended", j.Status.NextScheduleTime)
		}
		return nil
	})
	setClock(t, time.Date(2031, 3, 31, 7, 0, 0, 0, time.UTC))
	// Resumed long after the deadline: the missed schedule does not run.
	setClock(t, time.Date(2031, 3, 31, 7, 10, 0, 0, time.UTC))
	update(t, p.Job, func(j *chv1.ReconciliationJob) { j.Spec.Suspend = false })
	wantNext(time.Date(2031, 4, 1, 7, 0, 0, 0, time.UTC))

	want := []string{id1 + "=discrepant", id2 + "=discrepant"}
	if got := runIDs(storeRuns(t, p.Job)); !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestMissedSchedulesRunOnlyTheLatest: a schedule missed many times (the job was
// created long before the clock now shows, and has no starting deadline) runs once,
// for the latest schedule time, and an event says how many were missed.
func TestMissedSchedulesRunOnlyTheLatest(t *testing.T) {
	p := smallPair(t, "rj-missed")
	p.Job.Spec.Schedule = "0 * * * *"
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	latest := clk.Now().UTC().Truncate(time.Hour)
	id := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Schedule, Time: latest})
	waitRunEnded(t, p.Job, id)
	if got := runIDs(storeRuns(t, p.Job)); !reflect.DeepEqual(got, []string{id + "=discrepant"}) {
		t.Fatalf("runs %v, want only the latest schedule's", got)
	}
	want := fmt.Sprintf("MissedSchedules: %d or more scheduled runs were missed; running only the latest, scheduled at %s",
		trigger.MaxMissed, latest.Format(time.RFC3339))
	if ev := jobEvents(t, p.Job); !containsPrefix(ev, want) {
		t.Errorf("events %q, want %q", ev, want)
	}
}
