package trigger

import (
	"reflect"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// Stepping a clock through a day and a half of Europe/Berlin spring-forward fires each
// schedule once, at its UTC instant, and the 02:30 that does not exist is skipped.
func TestScheduleFiresAcrossDST(t *testing.T) {
	spec := Spec{Schedule: "30 2 * * *", TimeZone: "Europe/Berlin"}
	st := State{Created: utc("2026-03-27T12:00:00Z")}
	var fired []string
	for now := st.Created; now.Before(utc("2026-03-31T12:00:00Z")); now = now.Add(15 * time.Minute) {
		d, err := Decide(spec, st, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range d.Due {
			fired = append(fired, tr.Time.Format(time.RFC3339))
			st.LastScheduleTime = tr.Time
		}
	}
	want := []string{"2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"}
	if !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
}

func TestDecide(t *testing.T) {
	created := utc("2026-01-01T00:00:00Z")
	for _, tc := range []struct {
		name string
		spec Spec
		st   State
		now  time.Time
		want Decision
	}{
		{
			name: "not yet due",
			spec: Spec{Schedule: "0 * * * *"},
			st:   State{Created: created},
			now:  utc("2026-01-01T00:59:59Z"),
			want: Decision{Next: utc("2026-01-01T01:00:00Z")},
		},
		{
			name: "due exactly at the schedule time",
			spec: Spec{Schedule: "0 * * * *"},
			st:   State{Created: created},
			now:  utc("2026-01-01T01:00:00Z"),
			want: Decision{Due: []Trigger{{Kind: Schedule, Time: utc("2026-01-01T01:00:00Z")}}, Next: utc("2026-01-01T02:00:00Z")},
		},
		{
			name: "already started",
			spec: Spec{Schedule: "0 * * * *"},
			st:   State{Created: created, LastScheduleTime: utc("2026-01-01T01:00:00Z")},
			now:  utc("2026-01-01T01:30:00Z"),
			want: Decision{Next: utc("2026-01-01T02:00:00Z")},
		},
		{
			name: "missed schedules: only the latest runs",
			spec: Spec{Schedule: "0 * * * *"},
			st:   State{Created: created, LastScheduleTime: utc("2026-01-01T01:00:00Z")},
			now:  utc("2026-01-01T05:10:00Z"),
			want: Decision{Due: []Trigger{{Kind: Schedule, Time: utc("2026-01-01T05:00:00Z")}}, Missed: 3, Next: utc("2026-01-01T06:00:00Z")},
		},
		{
			name: "too many missed: the latest runs and the count says so",
			spec: Spec{Schedule: "* * * * *"},
			st:   State{Created: created},
			now:  utc("2026-01-02T00:00:30Z"),
			want: Decision{Due: []Trigger{{Kind: Schedule, Time: utc("2026-01-02T00:00:00Z")}}, Missed: MaxMissed, MissedTooMany: true, Next: utc("2026-01-02T00:01:00Z")},
		},
		{
			name: "too many missed, sparse schedule",
			spec: Spec{Schedule: "0 9 1 * *", TimeZone: "America/New_York"},
			st:   State{Created: utc("2010-01-01T00:00:00Z")},
			now:  utc("2026-07-15T00:00:00Z"),
			want: Decision{Due: []Trigger{{Kind: Schedule, Time: utc("2026-07-01T13:00:00Z")}}, Missed: MaxMissed, MissedTooMany: true, Next: utc("2026-08-01T13:00:00Z")},
		},
		{
			name: "starting deadline passed: skipped, not run",
			spec: Spec{Schedule: "0 * * * *", StartingDeadlineSeconds: ptr(int64(300))},
			st:   State{Created: created},
			now:  utc("2026-01-01T01:06:00Z"),
			want: Decision{Next: utc("2026-01-01T02:00:00Z")},
		},
		{
			name: "starting deadline: counts only the schedules inside it",
			spec: Spec{Schedule: "*/5 * * * *", StartingDeadlineSeconds: ptr(int64(600))},
			st:   State{Created: created},
			now:  utc("2026-01-01T03:01:00Z"),
			want: Decision{Due: []Trigger{{Kind: Schedule, Time: utc("2026-01-01T03:00:00Z")}}, Missed: 1, Next: utc("2026-01-01T03:05:00Z")},
		},
		{
			name: "suspended: no schedule, no next time",
			spec: Spec{Schedule: "0 * * * *", Suspend: true},
			st:   State{Created: created},
			now:  utc("2026-01-01T05:00:00Z"),
			want: Decision{},
		},
		{
			name: "suspended still honours a new nonce",
			spec: Spec{Schedule: "0 * * * *", Suspend: true, RunNonce: "abc"},
			st:   State{Created: created},
			now:  utc("2026-01-01T05:00:00Z"),
			want: Decision{Due: []Trigger{{Kind: Nonce, Time: utc("2026-01-01T05:00:00Z"), Nonce: "abc"}}},
		},
		{
			name: "nonce already consumed",
			spec: Spec{RunNonce: "abc"},
			st:   State{Created: created, LastRunNonce: "abc"},
			now:  utc("2026-01-01T05:00:00Z"),
			want: Decision{},
		},
		{
			name: "nonce and schedule both due: nonce first",
			spec: Spec{Schedule: "0 * * * *", RunNonce: "def"},
			st:   State{Created: created, LastRunNonce: "abc", LastScheduleTime: utc("2026-01-01T04:00:00Z")},
			now:  utc("2026-01-01T05:00:00Z"),
			want: Decision{Due: []Trigger{{Kind: Nonce, Time: utc("2026-01-01T05:00:00Z"), Nonce: "def"}, {Kind: Schedule, Time: utc("2026-01-01T05:00:00Z")}}, Next: utc("2026-01-01T06:00:00Z")},
		},
		{
			name: "no schedule, no nonce",
			spec: Spec{},
			st:   State{Created: created},
			now:  utc("2026-01-01T05:00:00Z"),
			want: Decision{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.spec, tc.st, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decide =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestDecideInvalidSchedule(t *testing.T) {
	_, err := Decide(Spec{Schedule: "61 * * * *"}, State{}, utc("2026-01-01T00:00:00Z"))
	if err == nil {
		t.Fatal("want an error for minute 61")
	}
}

func TestRunIDs(t *testing.T) {
	uid := "0b5e6a34-6f2c-4e49-9a0e-3f1d7c2b9e10"
	s := RunID(uid, Trigger{Kind: Schedule, Time: time.Date(2026, 3, 29, 9, 0, 0, 0, time.FixedZone("CEST", 7200))})
	if want := uid + "-s20260329T070000Z"; s != want {
		t.Errorf("schedule id %q, want %q", s, want)
	}
	a := RunID(uid, Trigger{Kind: Nonce, Nonce: "commit 1", Time: utc("2026-01-01T00:00:00Z")})
	b := RunID(uid, Trigger{Kind: Nonce, Nonce: "commit 1", Time: utc("2026-02-01T00:00:00Z")})
	c := RunID(uid, Trigger{Kind: Nonce, Nonce: "commit 2"})
	if a != b || a == c || len(a) != len(uid)+2+12 {
		t.Errorf("nonce ids: %q %q %q", a, b, c)
	}
}

func TestRetries(t *testing.T) {
	end := utc("2026-01-01T00:00:00Z")
	id := "0b5e6a34-6f2c-4e49-9a0e-3f1d7c2b9e10-s20260101T000000Z"
	var got []string
	var delays []time.Duration
	for cur := id; ; {
		next, at, ok := RetryOf(cur, end)
		if !ok {
			break
		}
		got = append(got, next)
		delays = append(delays, at.Sub(end))
		cur = next
	}
	want := []string{id + "-r1", id + "-r2", id + "-r3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("retries %v, want %v", got, want)
	}
	if wantD := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}; !reflect.DeepEqual(delays, wantD) {
		t.Errorf("backoff %v, want %v", delays, wantD)
	}
	if base, n := Attempt(id + "-r2"); base != id || n != 2 {
		t.Errorf("Attempt = %q, %d", base, n)
	}
}
