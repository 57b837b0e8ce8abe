// Package window holds settlement-window arithmetic: schedules in time zones, activity
// lead times and the dependency order of jobs. Plain Go values in, plain values out.
package window

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser accepts the five standard fields and the @hourly/@daily descriptors,
// like a Kubernetes CronJob.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// LoadLocation resolves an IANA time zone name; empty means UTC. "Local" (Go's name for
// the host's zone) is refused, as a Kubernetes CronJob refuses it: a window or schedule
// must not move with the machine the manager happens to run on.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "Local") {
		return nil, fmt.Errorf("time zone %q is the manager host's zone; use an explicit IANA time zone such as UTC or Europe/Berlin", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// Schedule is a cron schedule evaluated in a time zone.
type Schedule struct {
	sched cron.Schedule
	loc   *time.Location
}

// ParseSchedule parses a cron expression evaluated in the named time zone. A
// CRON_TZ= or TZ= prefix is refused: the zone belongs in the timeZone field.
func ParseSchedule(expr, timeZone string) (*Schedule, error) {
	loc, err := LoadLocation(timeZone)
	if err != nil {
		return nil, err
	}
	if len(expr) >= 3 && (expr[:3] == "TZ=" || (len(expr) >= 8 && expr[:8] == "CRON_TZ=")) {
		return nil, fmt.Errorf("cron expression %q must not set a time zone; use the timeZone field", expr)
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %w", expr, err)
	}
	return &Schedule{sched: s, loc: loc}, nil
}

// Next returns the first activation strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	return s.sched.Next(t.In(s.loc))
}
