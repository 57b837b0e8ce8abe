package controllers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
	"github.com/clearhouse-dev/clearhouse/internal/window"
)

// validateDataSource checks what the schema cannot: that the time zone exists.
func validateDataSource(ds *chv1.DataSource) []string {
	var problems []string
	if _, err := window.LoadLocation(ds.Spec.TimeZone); err != nil {
		problems = append(problems, fmt.Sprintf("spec.timeZone: %v", err))
	}
	return problems
}

// probeObservation is the outcome of one probe: a result, or an error (a *probe.Error
// says how far the probe got).
type probeObservation struct {
	Result probe.Result
	Err    error
	At     metav1.Time
}

// pipelineObservation is what the controller found of the capture pipeline.
type pipelineObservation struct {
	// Reason and Message of PipelineReady; Ready makes it True.
	Ready   bool
	Reason  string
	Message string
	// Status is status.pipeline (nil when capture is not set).
	Status *chv1.PipelineStatus
}

// dataSourceStatus computes the status of a DataSource from its spec, its previous
// status, the probe made in this reconcile (nil when none was due) and the pipeline.
// Probe-derived fields and conditions are kept from the previous status when no probe
// was made: a failed probe keeps the last discovered schema and drift, so an outage
// neither forgets the schema nor clears (or raises) drift.
func dataSourceStatus(ds *chv1.DataSource, obs *probeObservation, pipe pipelineObservation) chv1.DataSourceStatus {
	st := *ds.Status.DeepCopy()
	gen := ds.Generation
	st.ObservedGeneration = gen
	// Conditions not set below keep their value, at this generation.
	keep := func(typ string) metav1.Condition {
		if c := meta.FindStatusCondition(st.Conditions, typ); c != nil {
			return condition(typ, c.Status, c.Reason, c.Message, gen)
		}
		return condition(typ, metav1.ConditionUnknown, chv1.ReasonNotProbed, "the source has not been probed yet", gen)
	}
	reachable, discovered, drift := keep(chv1.DataSourceReachable), keep(chv1.DataSourceSchemaDiscovered), keep(chv1.DataSourceSchemaDrift)
	ready := keep(chv1.ConditionReady)
	pipelineReady := condition(chv1.DataSourcePipelineReady, metav1.ConditionFalse, pipe.Reason, pipe.Message, gen)
	if pipe.Ready {
		pipelineReady.Status = metav1.ConditionTrue
	}
	st.Pipeline = pipe.Status

	if problems := validateDataSource(ds); len(problems) > 0 {
		ready = readiness(problems, gen, "")
	} else if obs != nil {
		st.LastProbeTime = &obs.At
		var pe *probe.Error
		switch {
		case obs.Err == nil:
			reachable = condition(chv1.DataSourceReachable, metav1.ConditionTrue, chv1.ReasonReachable, obs.Result.Detail, gen)
			discovered, drift, ready = schemaConditions(ds, &st, obs.Result, gen)
		case errors.As(obs.Err, &pe) && pe.Reached():
			reachable = condition(chv1.DataSourceReachable, metav1.ConditionTrue, chv1.ReasonReachable, "reached, but the schema could not be learned", gen)
			discovered = condition(chv1.DataSourceSchemaDiscovered, metav1.ConditionFalse, chv1.ReasonDiscoveryFailed, pe.Error(), gen)
			ready = condition(chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonDiscoveryFailed, pe.Error(), gen)
		default:
			reason := probe.ReasonUnreachable
			if pe != nil {
				reason = pe.Reason
			}
			reachable = condition(chv1.DataSourceReachable, metav1.ConditionFalse, reason, obs.Err.Error(), gen)
			ready = condition(chv1.ConditionReady, metav1.ConditionFalse, reason, obs.Err.Error(), gen)
			if discovered.Reason == chv1.ReasonNotProbed {
				// Never reached. One reached before keeps what it learned (a schema, or
				// that it carries none).
				discovered = condition(chv1.DataSourceSchemaDiscovered, metav1.ConditionFalse, chv1.ReasonNotProbed, "the source has not been reached yet", gen)
			}
		}
	}
	setConditions(&st.Conditions, ready, reachable, discovered, drift, pipelineReady)
	return st
}

// schemaConditions records a successful probe: schema, estimate, baseline, and the
// SchemaDiscovered, SchemaDrift and Ready conditions it decides.
func schemaConditions(ds *chv1.DataSource, st *chv1.DataSourceStatus, res probe.Result, gen int64) (discovered, drift, ready metav1.Condition) {
	st.EstimatedRows = res.EstimatedRows
	if len(res.Columns) == 0 {
		// A Kafka topic has no schema to discover: nothing to drift from.
		st.Schema = nil
		discovered = condition(chv1.DataSourceSchemaDiscovered, metav1.ConditionFalse, probe.ReasonNotSupported, "the source carries no schema; declared columns are used as they are", gen)
		drift = condition(chv1.DataSourceSchemaDrift, metav1.ConditionUnknown, probe.ReasonNotSupported, "no schema to compare", gen)
		ready = condition(chv1.ConditionReady, metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; "+res.Detail, gen)
		return discovered, drift, ready
	}
	st.Schema = res.Columns
	// A spec edit accepts the schema as it is now: drift is measured from there.
	if st.SchemaBaseline == nil || st.SchemaBaseline.Generation != gen {
		st.SchemaBaseline = &chv1.SchemaBaseline{Generation: gen, Columns: res.Columns}
	}
	d := probe.Compare(res.Columns, &ds.Spec, st.SchemaBaseline.Columns)
	discovered = condition(chv1.DataSourceSchemaDiscovered, metav1.ConditionTrue, chv1.ReasonDiscovered, fmt.Sprintf("%d columns", len(res.Columns)), gen)
	if d.Empty() {
		drift = condition(chv1.DataSourceSchemaDrift, metav1.ConditionFalse, chv1.ReasonNoDrift,
			fmt.Sprintf("the schema matches the declared columns and the one accepted at generation %d", gen), gen)
	} else {
		drift = condition(chv1.DataSourceSchemaDrift, metav1.ConditionTrue, chv1.ReasonDrifted, d.Message(), gen)
	}
	switch {
	case len(d.MissingKeys) > 0:
		ready = condition(chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonKeyColumnMissing,
			missing("key", d.MissingKeys, res.Columns), gen)
	case len(d.MissingColumns) > 0:
		ready = condition(chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonColumnMissing,
			missing("declared", d.MissingColumns, res.Columns), gen)
	default:
		msg := fmt.Sprintf("reachable; %d columns", len(res.Columns))
		if res.EstimatedRows != nil {
			msg += fmt.Sprintf("; about %d rows", *res.EstimatedRows)
		}
		ready = condition(chv1.ConditionReady, metav1.ConditionTrue, chv1.ReasonReconciled, msg, gen)
	}
	return discovered, drift, ready
}

// missing says which columns are gone: `key column "id" is missing from the source
// (columns: a, b)`.
func missing(kind string, names []string, cols []chv1.DiscoveredColumn) string {
	verb := "is"
	if len(names) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s %s %s missing from the source (columns: %s)", kind, namedColumns(names), verb, strings.Join(columnNames(cols), ", "))
}

// namedColumns is `column "a"` or `columns "a", "b"`.
func namedColumns(names []string) string {
	noun := "column"
	if len(names) > 1 {
		noun = "columns"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return noun + " " + strings.Join(q, ", ")
}

// columnNames are the names of discovered columns, in order.
func columnNames(cols []chv1.DiscoveredColumn) []string {
	have := make([]string, len(cols))
	for i, c := range cols {
		have[i] = c.Name
	}
	return have
}

// Backoff of failed probes: from the smallest allowed probeInterval, doubling, never
// beyond the DataSource's own interval (it would then be probed later than if it had
// succeeded).
const (
	probeBackoffInitial = 10 * time.Second
	defaultProbeEvery   = 5 * time.Minute
)

// probeInterval is spec.probeInterval with the API default.
func probeInterval(ds *chv1.DataSource) time.Duration {
	if ds.Spec.ProbeInterval != nil && ds.Spec.ProbeInterval.Duration > 0 {
		return ds.Spec.ProbeInterval.Duration
	}
	return defaultProbeEvery
}

// nextProbeIn is the wait before the next probe after failures consecutive failures
// (0 after a success).
func nextProbeIn(failures int, interval time.Duration) time.Duration {
	if failures <= 0 {
		return interval
	}
	d := probeBackoffInitial
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}

// probeMemo is what the reconciler remembers of the last probe of a DataSource (in
// memory: a restarted operator probes every source once).
type probeMemo struct {
	// uid is the DataSource's: a memo is keyed by name, which a recreated object reuses.
	uid           types.UID
	generation    int64
	secretVersion string
	failures      int
	next          time.Time
}

// probeDue reports whether a probe is due: never probed (by this process), the spec or
// the referenced Secret changed, or its time has come.
func probeDue(m *probeMemo, generation int64, secretVersion string, now time.Time) bool {
	return m == nil || m.generation != generation || m.secretVersion != secretVersion || !now.Before(m.next)
}

// dataSourceEvent is an event to record for a change of conditions.
type dataSourceEvent struct {
	Type, Reason, Action, Note string
}

// dataSourceEvents are the events a status change deserves: drift appearing, changing
// or clearing; the source becoming unreachable or reachable again; a key or declared
// column going missing. Only transitions: a steady state records nothing.
func dataSourceEvents(before, after []metav1.Condition) []dataSourceEvent {
	was := func(typ string) (metav1.ConditionStatus, string, string) {
		if c := meta.FindStatusCondition(before, typ); c != nil {
			return c.Status, c.Reason, c.Message
		}
		return metav1.ConditionUnknown, "", ""
	}
	now := func(typ string) (metav1.ConditionStatus, string, string) {
		if c := meta.FindStatusCondition(after, typ); c != nil {
			return c.Status, c.Reason, c.Message
		}
		return metav1.ConditionUnknown, "", ""
	}
	var out []dataSourceEvent
	d0, _, dm0 := was(chv1.DataSourceSchemaDrift)
	d1, _, dm1 := now(chv1.DataSourceSchemaDrift)
	switch {
	case d1 == metav1.ConditionTrue && (d0 != metav1.ConditionTrue || dm0 != dm1):
		out = append(out, dataSourceEvent{"Warning", "SchemaDrift", "Probe", dm1})
	case d0 == metav1.ConditionTrue && d1 == metav1.ConditionFalse:
		out = append(out, dataSourceEvent{"Normal", "SchemaDriftCleared", "Probe", dm1})
	}
	r0, rr0, _ := was(chv1.DataSourceReachable)
	r1, rr1, rm1 := now(chv1.DataSourceReachable)
	switch {
	case r1 == metav1.ConditionFalse && (r0 != metav1.ConditionFalse || rr0 != rr1):
		out = append(out, dataSourceEvent{"Warning", rr1, "Probe", rm1})
	case r0 == metav1.ConditionFalse && r1 == metav1.ConditionTrue:
		out = append(out, dataSourceEvent{"Normal", chv1.ReasonReachable, "Probe", rm1})
	}
	_, k0, km0 := was(chv1.ConditionReady)
	_, k1, km1 := now(chv1.ConditionReady)
	if (k1 == chv1.ReasonKeyColumnMissing || k1 == chv1.ReasonColumnMissing) && (k0 != k1 || km0 != km1) {
		out = append(out, dataSourceEvent{"Warning", k1, "Probe", km1})
	}
	return out
}
