package runner_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
)

func sqlDS(name string, cols ...chv1.ColumnSpec) *chv1.DataSource {
	return &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "fin", ResourceVersion: "7", Annotations: map[string]string{"a": "b"}},
		Spec: chv1.DataSourceSpec{
			Type: chv1.DataSourcePostgreSQL,
			PostgreSQL: &chv1.SQLSource{Host: "db", Database: "ledger", Table: name,
				SecretRef: chv1.CredentialsSecretRef{Name: name + "-creds"}},
			KeyColumns: []string{"id"},
			Columns:    cols,
		},
		Status: chv1.DataSourceStatus{EstimatedRows: new(int64)},
	}
}

func fileDS(name string, sorted bool) *chv1.DataSource {
	return &chv1.DataSource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "fin"},
		Spec: chv1.DataSourceSpec{
			Type:       chv1.DataSourceFile,
			File:       &chv1.FileSource{URL: "file:///data/" + name + ".csv", SortedByKey: sorted},
			KeyColumns: []string{"id"},
		},
	}
}

func baseJob() *chv1.ReconciliationJob {
	return &chv1.ReconciliationJob{
		ObjectMeta: metav1.ObjectMeta{Name: "payments", Namespace: "fin"},
		Spec: chv1.ReconciliationJobSpec{
			Source: chv1.JobSide{DataSource: "ledger", Filter: "booked_at >= now() - interval '1 day'"},
			Target: chv1.JobSide{DataSource: "bank"},
			Keys:   []chv1.KeyMapping{{Source: "id", Target: "txn_id", Type: chv1.ColumnString}},
			Compare: []chv1.ColumnComparison{
				{Source: "amount", Target: "amt", Type: chv1.ColumnDecimal, Tolerance: &chv1.Tolerance{Absolute: "0.01", Relative: "0.001"}},
				{Source: "booked_at", Type: chv1.ColumnString, Tolerance: &chv1.Tolerance{Time: &metav1.Duration{Duration: 2 * time.Second}}},
				{Source: "memo", Type: chv1.ColumnString, Trim: true, IgnoreCase: true},
				{Source: "account", Type: chv1.ColumnString},
			},
			Strategy: chv1.StrategyAuto,
			Limits: chv1.Limits{MaxDiscrepancies: 500, RowsPerSecond: 1000,
				Timeout: &metav1.Duration{Duration: 30 * time.Minute}, Memory: resource.NewQuantity(128<<20, resource.BinarySI)},
		},
	}
}

// TestPlanForMapping checks how the job and both DataSources' declarations become the
// engine's spec: job types win unless String, declared types fill in, sensitivity from
// either side, the coarser precision, limits, ordering, and no status or metadata.
func TestPlanForMapping(t *testing.T) {
	src := sqlDS("ledger",
		chv1.ColumnSpec{Name: "booked_at", Type: chv1.ColumnTimestamp, Precision: "us"},
		chv1.ColumnSpec{Name: "account", Sensitive: true})
	tgt := sqlDS("bank", chv1.ColumnSpec{Name: "booked_at", Type: chv1.ColumnTimestamp, Precision: "ms"})
	p, err := runner.PlanFor(baseJob(), src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	want := diff.Spec{
		Keys: []diff.Column{{Name: "id", Target: "txn_id"}},
		Compare: []diff.Column{
			{Name: "amount", Target: "amt", Type: diff.TypeDecimal, AbsTolerance: "0.01", RelTolerance: "0.001"},
			{Name: "booked_at", Type: diff.TypeTimestamp, TimeTolerance: 2 * time.Second, Precision: time.Millisecond},
			{Name: "memo", Trim: true, IgnoreCase: true},
			{Name: "account", Sensitive: true},
		},
		Strategy:         diff.StrategyAuto,
		MaxDiscrepancies: 500,
		MemoryBudget:     128 << 20,
	}
	if !reflect.DeepEqual(p.Spec, want) {
		t.Errorf("spec\n got %+v\nwant %+v", p.Spec, want)
	}
	if p.Job != "fin/payments" || p.RowsPerSecond != 1000 || p.Timeout != 30*time.Minute || p.CompareAll || !p.Checksum || p.TimeZone != "" {
		t.Errorf("plan %+v", p)
	}
	if p.Source.Filter != baseJob().Spec.Source.Filter || p.Target.Filter != "" || !p.Source.Ordered || !p.Target.Ordered {
		t.Errorf("sides %+v / %+v", p.Source, p.Target)
	}
	if got := strings.Join(p.Source.Columns, ","); got != "id,amount,booked_at,memo,account" {
		t.Errorf("source columns %s", got)
	}
	if got := strings.Join(p.Target.Columns, ","); got != "txn_id,amt,booked_at,memo,account" {
		t.Errorf("target columns %s", got)
	}
	// What a worker receives: the plan survives JSON, carries no status or metadata
	// beyond names, and no secret (only the Secret's name).
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"resourceVersion", "annotations", `"status":{"`, "estimatedRows"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("plan JSON carries %s: %s", leak, b)
		}
	}
	var back runner.Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("JSON round trip changed the plan\n got %+v\nwant %+v", back, p)
	}
}

// TestPlanForStrategy checks ordering and strategy per side kinds.
func TestPlanForStrategy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		strategy chv1.Strategy
		src, tgt *chv1.DataSource
		ordered  bool
		engine   diff.Strategy
		checksum bool
		err      string
	}{
		{"auto sql", chv1.StrategyAuto, sqlDS("ledger"), sqlDS("bank"), true, diff.StrategyAuto, true, ""},
		{"auto sql and sorted file", chv1.StrategyAuto, sqlDS("ledger"), fileDS("bank", true), true, diff.StrategyAuto, false, ""},
		{"auto sql and unsorted file", chv1.StrategyAuto, sqlDS("ledger"), fileDS("bank", false), false, diff.StrategyAuto, false, ""},
		{"hash", chv1.StrategyHash, sqlDS("ledger"), sqlDS("bank"), false, diff.StrategyHash, false, ""},
		{"merge", chv1.StrategyMerge, sqlDS("ledger"), fileDS("bank", true), true, diff.StrategyMerge, false, ""},
		{"checksum", chv1.StrategyChecksum, sqlDS("ledger"), sqlDS("bank"), true, diff.StrategyChecksum, true, ""},
		{"merge unsorted", chv1.StrategyMerge, sqlDS("ledger"), fileDS("bank", false), false, "", false,
			"spec.strategy: Merge needs both sides in key order, but datasource fin/bank is a file without sortedByKey"},
		{"checksum file", chv1.StrategyChecksum, sqlDS("ledger"), fileDS("bank", true), false, "", false,
			"spec.strategy: Checksum needs two PostgreSQL or MySQL sources, but datasource fin/bank is of type File"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := baseJob()
			job.Spec.Strategy = tc.strategy
			job.Spec.Compare = nil
			p, err := runner.PlanFor(job, tc.src, tc.tgt)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Source.Ordered != tc.ordered || p.Target.Ordered != tc.ordered || p.Spec.Strategy != tc.engine || p.Checksum != tc.checksum {
				t.Errorf("ordered %v/%v strategy %s checksum %v", p.Source.Ordered, p.Target.Ordered, p.Spec.Strategy, p.Checksum)
			}
		})
	}
}

// TestPlanForCompareAll: without spec.compare, the common non-key columns of both
// discovered schemas are compared, typed by declarations; without schemas the choice
// waits for the readers.
func TestPlanForCompareAll(t *testing.T) {
	job := baseJob()
	job.Spec.Compare = nil
	job.Spec.Keys = []chv1.KeyMapping{{Source: "id"}}
	src := sqlDS("ledger", chv1.ColumnSpec{Name: "amount", Type: chv1.ColumnDecimal})
	tgt := sqlDS("bank", chv1.ColumnSpec{Name: "account", Sensitive: true})
	p, err := runner.PlanFor(job, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !p.CompareAll || p.Spec.Compare != nil || p.Source.Columns != nil {
		t.Errorf("without schemas: compareAll %v compare %v columns %v", p.CompareAll, p.Spec.Compare, p.Source.Columns)
	}
	schema := func(names ...string) []chv1.DiscoveredColumn {
		var out []chv1.DiscoveredColumn
		for _, n := range names {
			out = append(out, chv1.DiscoveredColumn{Name: n, Type: chv1.ColumnString})
		}
		return out
	}
	src.Status.Schema = schema("id", "amount", "account", "source_only")
	tgt.Status.Schema = schema("account", "id", "amount", "target_only")
	if p, err = runner.PlanFor(job, src, tgt); err != nil {
		t.Fatal(err)
	}
	want := []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "account", Sensitive: true}}
	if p.CompareAll || !reflect.DeepEqual(p.Spec.Compare, want) {
		t.Errorf("with schemas: compareAll %v compare %+v", p.CompareAll, p.Spec.Compare)
	}
	if got := strings.Join(p.Target.Columns, ","); got != "id,amount,account" {
		t.Errorf("target columns %s", got)
	}
}

// TestPlanForErrors: each bad input is an error naming its field.
func TestPlanForErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(j *chv1.ReconciliationJob, src, tgt *chv1.DataSource)
		want   string
	}{
		{"absolute not a decimal", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Compare[0].Tolerance.Absolute = "x"
		}, `spec.compare[0].tolerance.absolute: "x" is not a decimal`},
		{"relative negative", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Compare[0].Tolerance.Relative = "-0.1"
		}, `spec.compare[0].tolerance.relative: "-0.1" must not be negative`},
		{"absolute on a string", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Compare[3].Tolerance = &chv1.Tolerance{Absolute: "1"}
		}, `spec.compare[3].tolerance.absolute: needs type Decimal or Integer (account is string)`},
		{"time tolerance on a string", func(j *chv1.ReconciliationJob, src, tgt *chv1.DataSource) {
			src.Spec.Columns, tgt.Spec.Columns = nil, nil
		}, `spec.compare[1].tolerance.time: needs type Timestamp or Date (booked_at is string)`},
		{"negative time tolerance", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Compare[1].Tolerance.Time.Duration = -time.Second
		}, `spec.compare[1].tolerance.time: -1s must not be negative`},
		{"trim on a decimal", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Compare[0].Trim = true
		}, `spec.compare[0].trim: trim and ignoreCase apply to type String only (amount is decimal)`},
		{"unknown type", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Keys[0].Type = "Money"
		}, `spec.keys[0].type: unknown type "Money" (want String, Integer, Decimal, Timestamp, Date, Boolean or JSON)`},
		{"no keys", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Keys = nil
		}, `spec.keys: at least one key column is required`},
		{"conflicting declarations", func(j *chv1.ReconciliationJob, src, tgt *chv1.DataSource) {
			src.Spec.Columns = append(src.Spec.Columns, chv1.ColumnSpec{Name: "account", Type: chv1.ColumnInteger})
			tgt.Spec.Columns = append(tgt.Spec.Columns, chv1.ColumnSpec{Name: "account", Type: chv1.ColumnDecimal})
		}, `spec.compare[3].type: datasource fin/ledger declares account as Integer but datasource fin/bank declares account as Decimal; set the type on the job`},
		{"bad precision", func(_ *chv1.ReconciliationJob, src, _ *chv1.DataSource) {
			src.Spec.Columns[0].Precision = "m"
		}, `datasource fin/ledger: spec.columns[0].precision: "m" is not one of s, ms, us, ns`},
		{"filter on a file", func(j *chv1.ReconciliationJob, _, tgt *chv1.DataSource) {
			j.Spec.Target.Filter = "1=1"
			tgt.Spec.PostgreSQL, tgt.Spec.Type, tgt.Spec.File = nil, chv1.DataSourceFile, &chv1.FileSource{URL: "file:///b.csv"}
		}, `spec.target.filter: datasource fin/bank is of type File; filters apply to PostgreSQL and MySQL sources only`},
		{"wrong DataSource", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Target.DataSource = "other"
		}, `spec.target.dataSource: is "other" but DataSource "bank" was given`},
		{"memory too small", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Limits.Memory = resource.NewQuantity(1024, resource.BinarySI)
		}, `spec.limits.memory: 1Ki is below the minimum of 65536 bytes`},
		{"duplicate compared column", func(j *chv1.ReconciliationJob, _, _ *chv1.DataSource) {
			j.Spec.Compare = append(j.Spec.Compare, chv1.ColumnComparison{Source: "memo"})
		}, `spec: compare[4].name: "memo" is already compare[2]`},
		{"two files in different zones", func(_ *chv1.ReconciliationJob, src, tgt *chv1.DataSource) {
			for _, ds := range []*chv1.DataSource{src, tgt} {
				ds.Spec.PostgreSQL, ds.Spec.Type, ds.Spec.File = nil, chv1.DataSourceFile, &chv1.FileSource{URL: "file:///x.csv"}
			}
			src.Spec.TimeZone, tgt.Spec.TimeZone = "Europe/Zurich", "UTC"
		}, `spec.source.filter: datasource fin/ledger is of type File; filters apply to PostgreSQL and MySQL sources only
datasource fin/bank: spec.timeZone: "UTC" differs from "Europe/Zurich" of datasource fin/ledger; two files must share a time zone`},
		{"a file in the manager host's zone", func(j *chv1.ReconciliationJob, src, tgt *chv1.DataSource) {
			j.Spec.Source.Filter = ""
			for _, ds := range []*chv1.DataSource{src, tgt} {
				ds.Spec.PostgreSQL, ds.Spec.Type, ds.Spec.File = nil, chv1.DataSourceFile, &chv1.FileSource{URL: "file:///x.csv"}
				ds.Spec.TimeZone = "Local"
			}
		}, `datasource fin/ledger: spec.timeZone: time zone "Local" is the manager host's zone; use an explicit IANA time zone such as UTC or Europe/Berlin`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := baseJob()
			src := sqlDS("ledger", chv1.ColumnSpec{Name: "booked_at", Type: chv1.ColumnTimestamp})
			tgt := sqlDS("bank")
			tc.mutate(job, src, tgt)
			_, err := runner.PlanFor(job, src, tgt)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}
