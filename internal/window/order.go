package window

import (
	"fmt"
	"slices"
	"strings"
)

// Dependency says a job runs after others.
type Dependency struct {
	Job   string
	After []string
}

// Stages orders jobs into stages: every job of a stage depends only on jobs of earlier
// stages, so a stage's jobs may run in parallel. Jobs without declared dependencies go
// in the first stage. It fails on a dependency on a job that is not in jobs, and on a
// cycle, naming the jobs in it. Stages are sorted by name for a stable order.
func Stages(jobs []string, deps []Dependency) ([][]string, error) {
	known := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		known[j] = true
	}
	after := make(map[string][]string, len(deps))
	for _, d := range deps {
		if !known[d.Job] {
			return nil, fmt.Errorf("order names job %q, which the selector does not match", d.Job)
		}
		for _, a := range d.After {
			if !known[a] {
				return nil, fmt.Errorf("job %q runs after %q, which the selector does not match", d.Job, a)
			}
			if a == d.Job {
				return nil, fmt.Errorf("job %q cannot run after itself", d.Job)
			}
		}
		after[d.Job] = append(after[d.Job], d.After...)
	}

	done := make(map[string]bool, len(jobs))
	var stages [][]string
	for len(done) < len(known) {
		var stage []string
		for j := range known {
			if done[j] {
				continue
			}
			ready := true
			for _, a := range after[j] {
				if !done[a] {
					ready = false
					break
				}
			}
			if ready {
				stage = append(stage, j)
			}
		}
		if len(stage) == 0 {
			var cyc []string
			for j := range known {
				if !done[j] {
					cyc = append(cyc, j)
				}
			}
			slices.Sort(cyc)
			return nil, fmt.Errorf("dependency cycle among jobs %s", strings.Join(cyc, ", "))
		}
		slices.Sort(stage)
		for _, j := range stage {
			done[j] = true
		}
		stages = append(stages, stage)
	}
	return stages, nil
}
