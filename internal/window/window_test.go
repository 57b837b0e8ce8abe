package window

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseScheduleAcrossDST(t *testing.T) {
	s, err := ParseSchedule("30 2 * * *", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Like a Kubernetes CronJob (same parser): on spring-forward (2026-03-29) 02:30 does
	// not exist and is skipped; on fall-back (2026-10-25) 02:30 happens twice, in CEST
	// and in CET, and both fire.
	for _, tc := range []struct {
		from time.Time
		want []string
	}{
		{time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), []string{"2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"}},
		{time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), []string{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"}},
	} {
		var got []string
		at := tc.from
		for range tc.want {
			at = s.Next(at)
			got = append(got, at.UTC().Format(time.RFC3339))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("from %s: activations = %v, want %v", tc.from, got, tc.want)
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, tc := range []struct{ expr, tz, want string }{
		{"* * *", "UTC", `invalid cron expression "* * *"`},
		{"0 0 * * *", "Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"CRON_TZ=UTC 0 0 * * *", "", "must not set a time zone"},
	} {
		_, err := ParseSchedule(tc.expr, tc.tz)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSchedule(%q, %q) = %v, want error containing %q", tc.expr, tc.tz, err, tc.want)
		}
	}
}

func TestStages(t *testing.T) {
	got, err := Stages([]string{"ledger", "bank", "fees", "gl"}, []Dependency{
		{Job: "gl", After: []string{"ledger", "fees"}},
		{Job: "fees", After: []string{"bank"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"bank", "ledger"}, {"fees"}, {"gl"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Stages = %v, want %v", got, want)
	}
}

func TestStagesErrors(t *testing.T) {
	for _, tc := range []struct {
		deps []Dependency
		want string
	}{
		{[]Dependency{{Job: "a", After: []string{"b"}}, {Job: "b", After: []string{"a"}}}, "dependency cycle among jobs a, b"},
		{[]Dependency{{Job: "a", After: []string{"zz"}}}, `job "a" runs after "zz", which the selector does not match`},
		{[]Dependency{{Job: "zz"}}, `order names job "zz"`},
		{[]Dependency{{Job: "a", After: []string{"a"}}}, `job "a" cannot run after itself`},
	} {
		_, err := Stages([]string{"a", "b", "c"}, tc.deps)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Stages(%v) = %v, want %q", tc.deps, err, tc.want)
		}
	}
}

// TestLoadLocationRefusesLocal: "Local" is not an IANA zone but Go's name for the
// manager's own zone, so windows (and schedules) would move with the host the manager
// runs on. Refused, as a Kubernetes CronJob refuses it.
func TestLoadLocationRefusesLocal(t *testing.T) {
	for _, name := range []string{"Local", "local"} {
		if _, err := LoadLocation(name); err == nil || !strings.Contains(err.Error(), "explicit IANA time zone") {
			t.Errorf("LoadLocation(%q) = %v, want an error asking for an explicit IANA time zone", name, err)
		}
	}
	if _, err := ParseSchedule("0 22 * * *", "Local"); err == nil {
		t.Errorf(`ParseSchedule(..., "Local") accepted`)
	}
}
