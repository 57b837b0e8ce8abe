// Package trigger decides when a ReconciliationJob runs: cron schedules in a time zone
// with CronJob-like missed-schedule handling, on-demand runs from a changed run nonce,
// and retries of failed or interrupted runs with backoff. It is pure: the caller passes
// the clock's "now" and the job's remembered state, and gets a decision back, so every
// rule is testable without a cluster or a real clock.
//
// Run ids are deterministic for a trigger (job UID + schedule time, nonce, or the id of
// the run retried), so a restarted or failed-over manager that decides again arrives at
// the same id and can see, in the results store, that the run already started.
package trigger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/window"
)

// Kind is what triggered a run; the values are those of RunSummary.Trigger.
type Kind string

// Trigger kinds.
const (
	Schedule Kind = "Schedule"
	Nonce    Kind = "Nonce"
)

// Spec is the part of a job's spec that says when it runs.
type Spec struct {
	Schedule                string
	TimeZone                string
	StartingDeadlineSeconds *int64
	Suspend                 bool
	RunNonce                string
}

// State is what the job remembers between decisions (its status).
type State struct {
	// Created is when the job was created: no schedule before it is due.
	Created time.Time
	// LastScheduleTime is the schedule time of the last scheduled run started.
	LastScheduleTime time.Time
	// LastRunNonce is the nonce that last triggered (or was consumed by) a run.
	LastRunNonce string
}

// Trigger is one due run.
type Trigger struct {
	Kind Kind
	// Time is the schedule time of a scheduled run, or now for a nonce.
	Time time.Time
	// Nonce is the run nonce of an on-demand run.
	Nonce string
}

// Decision is what is due now.
type Decision struct {
	// Due lists what is due, nonce first: an explicit request outranks the clock.
	// At most one scheduled trigger is ever due (the latest missed one).
	Due []Trigger
	// Missed counts the scheduled times passed over because a later one is due (only
	// the latest missed schedule runs, like a CronJob); MissedTooMany says the count
	// stopped at MaxMissed and the real number is larger.
	Missed        int
	MissedTooMany bool
	// Next is the next schedule time strictly after now; zero without a schedule or
	// when suspended.
	Next time.Time
}

// MaxMissed bounds the missed schedules counted one by one (a minutely job left for a
// year would otherwise be walked half a million times).
const MaxMissed = 100

// Decide says which triggers are due at now. It fails only on an invalid schedule.
func Decide(s Spec, st State, now time.Time) (Decision, error) {
	var d Decision
	if s.RunNonce != "" && s.RunNonce != st.LastRunNonce {
		d.Due = append(d.Due, Trigger{Kind: Nonce, Time: now, Nonce: s.RunNonce})
	}
	if s.Schedule == "" || s.Suspend {
		return d, nil
	}
	sched, err := window.ParseSchedule(s.Schedule, s.TimeZone)
	if err != nil {
		return d, err
	}
	if next := sched.Next(now); !next.IsZero() {
		d.Next = next.UTC()
	}

	earliest := st.LastScheduleTime
	if earliest.IsZero() {
		earliest = st.Created
	}
	if s.StartingDeadlineSeconds != nil {
		// Like a CronJob: schedules older than the deadline can never run, so they are
		// neither run nor counted as missed.
		if floor := now.Add(-time.Duration(*s.StartingDeadlineSeconds) * time.Second); floor.After(earliest) {
			earliest = floor
		}
	}
	latest, missed, tooMany := latestBetween(sched, earliest, now)
	if latest.IsZero() {
		return d, nil
	}
	d.Missed, d.MissedTooMany = missed, tooMany
	d.Due = append(d.Due, Trigger{Kind: Schedule, Time: latest.UTC()})
	return d, nil
}

// latestBetween returns the latest activation in (after, now], how many earlier ones
// it passes over, and whether that count hit MaxMissed.
func latestBetween(s *window.Schedule, after, now time.Time) (latest time.Time, missed int, tooMany bool) {
	n := 0
	// The zero time is the cron library's "no activation" (February 30th): it is never
	// after now, and must end the walk rather than loop on it.
	for t := s.Next(after); !t.IsZero() && !t.After(now); t = s.Next(t) {
		latest = t
		n++
		if n > MaxMissed {
			return latestBefore(s, now), MaxMissed, true
		}
	}
	if n == 0 {
		return time.Time{}, 0, false
	}
	return latest, n - 1, false
}

// latestBefore finds the latest activation at or before now by widening a window back
// from now until it holds one (cron cannot be walked backwards).
func latestBefore(s *window.Schedule, now time.Time) time.Time {
	for w := time.Minute; ; w *= 2 {
		from := now.Add(-w)
		if t := s.Next(from); !t.IsZero() && !t.After(now) {
			latest := t
			for t = s.Next(t); !t.IsZero() && !t.After(now); t = s.Next(t) {
				latest = t
			}
			return latest
		}
	}
}

// RunID is the deterministic id of the run a trigger starts for the job with this
// UID: "<uid>-s<UTC schedule time>" or "<uid>-n<hash of the nonce>". A nonce is hashed
// because it may be long or hold any character; each nonce value starts one run ever.
func RunID(uid string, t Trigger) string {
	switch t.Kind {
	case Schedule:
		return uid + "-s" + t.Time.UTC().Format("20060102T150405Z")
	default:
		sum := sha256.Sum256([]byte(t.Nonce))
		return uid + "-n" + hex.EncodeToString(sum[:6])
	}
}

// Retry policy: a run that failed or was interrupted is retried as a new run,
// "<id>-r<n>", at most MaxRetries times per trigger, after a backoff that doubles from
// RetryBackoff (a source that is down gets time to recover). Aborted runs (replaced or
// cancelled on purpose) and completed runs are never retried, and any new trigger
// supersedes a pending retry.
const (
	MaxRetries   = 3
	RetryBackoff = 10 * time.Second
)

// Attempt splits a run id into the id of the run first started for the trigger and the
// retry number (0 for the first attempt).
func Attempt(id string) (base string, attempt int) {
	i := strings.LastIndex(id, "-r")
	if i < 0 {
		return id, 0
	}
	n, err := strconv.Atoi(id[i+2:])
	if err != nil || n < 1 {
		return id, 0
	}
	return id[:i], n
}

// RetryOf says whether and when the run with this id, which ended at finished, is
// retried, and the id of the retry.
func RetryOf(id string, finished time.Time) (retryID string, at time.Time, ok bool) {
	base, n := Attempt(id)
	if n >= MaxRetries {
		return "", time.Time{}, false
	}
	return fmt.Sprintf("%s-r%d", base, n+1), finished.Add(RetryBackoff << n), true
}
