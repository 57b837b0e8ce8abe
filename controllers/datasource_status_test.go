package controllers

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
)

func TestNextProbeIn(t *testing.T) {
	for _, tc := range []struct {
		failures int
		interval time.Duration
		want     time.Duration
	}{
		{0, 5 * time.Minute, 5 * time.Minute},
		{1, 5 * time.Minute, 10 * time.Second},
		{2, 5 * time.Minute, 20 * time.Second},
		{3, 5 * time.Minute, 40 * time.Second},
		{5, 5 * time.Minute, 160 * time.Second},
		{6, 5 * time.Minute, 5 * time.Minute},
		{60, 5 * time.Minute, 5 * time.Minute},
		{1, 15 * time.Second, 10 * time.Second},
		{2, 15 * time.Second, 15 * time.Second},
	} {
		if got := nextProbeIn(tc.failures, tc.interval); got != tc.want {
			t.Errorf("nextProbeIn(%d, %s) = %s, want %s", tc.failures, tc.interval, got, tc.want)
		}
	}
}

func TestProbeDue(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	m := &probeMemo{generation: 2, secretVersion: "7", next: now.Add(time.Minute)}
	for _, tc := range []struct {
		name    string
		memo    *probeMemo
		gen     int64
		version string
		at      time.Time
		want    bool
	}{
		{"never probed", nil, 2, "7", now, true},
		{"not yet", m, 2, "7", now, false},
		{"time has come", m, 2, "7", now.Add(time.Minute), true},
		{"spec changed", m, 3, "7", now, true},
		{"secret changed", m, 2, "8", now, true},
		{"secret deleted", m, 2, "", now, true},
	} {
		if got := probeDue(tc.memo, tc.gen, tc.version, tc.at); got != tc.want {
			t.Errorf("%s: probeDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func pgSource(gen int64) *chv1.DataSource {
	return &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ledger", Generation: gen},
		Spec: chv1.DataSourceSpec{Type: chv1.DataSourcePostgreSQL, TimeZone: "UTC", KeyColumns: []string{"id"},
			PostgreSQL: &chv1.SQLSource{Host: "db", Database: "d", Table: "t"}},
	}
}

func cond(t *testing.T, st chv1.DataSourceStatus, typ string) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(st.Conditions, typ)
	if c == nil {
		t.Fatalf("no %s condition in %+v", typ, st.Conditions)
	}
	return *c
}

// TestDataSourceStatusKeepsWhatAnOutageCannotTell: a failed probe keeps the schema,
// the estimate and the drift of the last successful one (an outage neither clears nor
// raises drift) while Reachable and Ready say why it failed.
func TestDataSourceStatusKeepsWhatAnOutageCannotTell(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	ds := pgSource(1)
	cols := []chv1.DiscoveredColumn{{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint"}, {Name: "memo", Type: chv1.ColumnString, NativeType: "text"}}
	rows := int64(42)
	ok := probeObservation{Result: probe.Result{Columns: cols, EstimatedRows: &rows, Detail: "2 columns"}, At: at}
	pipe := pipelineObservation{Reason: chv1.ReasonCaptureNotRequested, Message: "spec.capture is not set"}
	ds.Status = dataSourceStatus(ds, &ok, pipe)
	if !reflect.DeepEqual(ds.Status.SchemaBaseline, &chv1.SchemaBaseline{Generation: 1, Columns: cols}) {
		t.Fatalf("baseline %+v", ds.Status.SchemaBaseline)
	}

	// memo dropped.
	drifted := ok
	drifted.Result.Columns = cols[:1]
	ds.Status = dataSourceStatus(ds, &drifted, pipe)
	wantDrift := metav1.Condition{Type: "SchemaDrift", Status: metav1.ConditionTrue, Reason: chv1.ReasonDrifted, Message: "removed columns: memo", ObservedGeneration: 1}
	if c := cond(t, ds.Status, "SchemaDrift"); c.Status != wantDrift.Status || c.Reason != wantDrift.Reason || c.Message != wantDrift.Message {
		t.Fatalf("drift %+v", c)
	}

	down := probeObservation{Err: &probe.Error{DataSource: "ns/ledger", Stage: probe.StageConnect, Reason: probe.ReasonUnreachable, Err: errors.New("ns/ledger on db:5432: connecting: connection refused")}, At: at}
	st := dataSourceStatus(ds, &down, pipe)
	if c := cond(t, st, "Reachable"); c.Status != metav1.ConditionFalse || c.Reason != probe.ReasonUnreachable || c.Message != "ns/ledger on db:5432: connecting: connection refused" {
		t.Errorf("Reachable %+v", c)
	}
	if c := cond(t, st, "Ready"); c.Status != metav1.ConditionFalse || c.Reason != probe.ReasonUnreachable {
		t.Errorf("Ready %+v", c)
	}
	if c := cond(t, st, "SchemaDrift"); c.Status != metav1.ConditionTrue || c.Message != "removed columns: memo" {
		t.Errorf("drift after an outage %+v, want it kept", c)
	}
	if c := cond(t, st, "SchemaDiscovered"); c.Status != metav1.ConditionTrue {
		t.Errorf("SchemaDiscovered after an outage %+v, want the last schema kept", c)
	}
	if !reflect.DeepEqual(st.Schema, cols[:1]) || *st.EstimatedRows != 42 {
		t.Errorf("schema %+v rows %v, want the last ones kept", st.Schema, st.EstimatedRows)
	}

	// Reached, but the columns could not be learned.
	broken := probeObservation{Err: &probe.Error{DataSource: "ns/ledger", Stage: probe.StageSchema, Reason: probe.ReasonDiscoveryFailed, Err: errors.New("ns/ledger: describing the query: syntax error")}, At: at}
	st = dataSourceStatus(ds, &broken, pipe)
	if c := cond(t, st, "Reachable"); c.Status != metav1.ConditionTrue {
		t.Errorf("Reachable %+v", c)
	}
	if c := cond(t, st, "SchemaDiscovered"); c.Status != metav1.ConditionFalse || c.Reason != chv1.ReasonDiscoveryFailed {
		t.Errorf("SchemaDiscovered %+v", c)
	}

	// A spec edit accepts the schema as it is: the drift clears.
	ds.Generation = 2
	ds.Status = dataSourceStatus(ds, &drifted, pipe)
	if c := cond(t, ds.Status, "SchemaDrift"); c.Status != metav1.ConditionFalse || c.ObservedGeneration != 2 {
		t.Errorf("drift after a spec edit %+v", c)
	}
	if ds.Status.SchemaBaseline.Generation != 2 || len(ds.Status.SchemaBaseline.Columns) != 1 {
		t.Errorf("baseline %+v", ds.Status.SchemaBaseline)
	}

	// No probe due: the status is left as it was.
	before := ds.Status.DeepCopy()
	if st := dataSourceStatus(ds, nil, pipe); !reflect.DeepEqual(&st, before) {
		t.Errorf("status changed without a probe:\n%+v\n%+v", st, *before)
	}
}

func TestDataSourceStatusFirstVisitSetsEveryCondition(t *testing.T) {
	ds := pgSource(1)
	ds.Spec.TimeZone = "Mars/Olympus"
	st := dataSourceStatus(ds, nil, pipelineObservation{Reason: chv1.ReasonCaptureNotRequested, Message: "spec.capture is not set"})
	if len(st.Conditions) != 5 {
		t.Fatalf("conditions %+v, want 5", st.Conditions)
	}
	for _, c := range st.Conditions {
		if c.Reason == "" || c.ObservedGeneration != 1 {
			t.Errorf("condition %+v without reason or generation", c)
		}
	}
	if c := cond(t, st, "Ready"); c.Reason != chv1.ReasonInvalidSpec {
		t.Errorf("Ready %+v", c)
	}
}

func TestDataSourceEvents(t *testing.T) {
	c := func(typ string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg}
	}
	noDrift := c("SchemaDrift", metav1.ConditionFalse, chv1.ReasonNoDrift, "matches")
	drift := c("SchemaDrift", metav1.ConditionTrue, chv1.ReasonDrifted, "removed columns: memo")
	drift2 := c("SchemaDrift", metav1.ConditionTrue, chv1.ReasonDrifted, "removed columns: memo, qty")
	up := c("Reachable", metav1.ConditionTrue, chv1.ReasonReachable, "2 columns")
	down := c("Reachable", metav1.ConditionFalse, probe.ReasonUnreachable, "refused")
	keyGone := c("Ready", metav1.ConditionFalse, chv1.ReasonKeyColumnMissing, `key column "id" is missing`)
	for _, tc := range []struct {
		name          string
		before, after []metav1.Condition
		want          []dataSourceEvent
	}{
		{"steady", []metav1.Condition{noDrift, up}, []metav1.Condition{noDrift, up}, nil},
		{"drift appears", []metav1.Condition{noDrift, up}, []metav1.Condition{drift, up},
			[]dataSourceEvent{{"Warning", "SchemaDrift", "Probe", "removed columns: memo"}}},
		{"drift steady", []metav1.Condition{drift, up}, []metav1.Condition{drift, up}, nil},
		{"drift changes", []metav1.Condition{drift, up}, []metav1.Condition{drift2, up},
			[]dataSourceEvent{{"Warning", "SchemaDrift", "Probe", "removed columns: memo, qty"}}},
		{"drift clears", []metav1.Condition{drift, up}, []metav1.Condition{noDrift, up},
			[]dataSourceEvent{{"Normal", "SchemaDriftCleared", "Probe", "matches"}}},
		{"goes down", []metav1.Condition{noDrift, up}, []metav1.Condition{noDrift, down},
			[]dataSourceEvent{{"Warning", probe.ReasonUnreachable, "Probe", "refused"}}},
		{"stays down", []metav1.Condition{noDrift, down}, []metav1.Condition{noDrift, down}, nil},
		{"comes back", []metav1.Condition{noDrift, down}, []metav1.Condition{noDrift, up},
			[]dataSourceEvent{{"Normal", chv1.ReasonReachable, "Probe", "2 columns"}}},
		{"key gone", []metav1.Condition{noDrift, up}, []metav1.Condition{noDrift, up, keyGone},
			[]dataSourceEvent{{"Warning", chv1.ReasonKeyColumnMissing, "Probe", `key column "id" is missing`}}},
		{"key still gone", []metav1.Condition{noDrift, up, keyGone}, []metav1.Condition{noDrift, up, keyGone}, nil},
	} {
		if got := dataSourceEvents(tc.before, tc.after); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: events %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
