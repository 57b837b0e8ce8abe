package v1alpha1_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// Valid base objects; each invalid case changes one thing, as a user's mistake would.
const (
	baseDataSource = `
apiVersion: clearhouse.dev/v1alpha1
kind: DataSource
spec:
  type: PostgreSQL
  postgresql:
    host: db
    database: ledger
    table: ledger.entries
    secretRef: {name: ledger-db}
  keyColumns: [id]
  columns:
    - {name: id}
    - {name: amount, type: Decimal}
`
	baseFileSource = `
apiVersion: clearhouse.dev/v1alpha1
kind: DataSource
spec:
  type: File
  file:
    url: https://files.example.com/bank.csv
  keyColumns: [id]
`
	baseJob = `
apiVersion: clearhouse.dev/v1alpha1
kind: ReconciliationJob
spec:
  source: {dataSource: ledger}
  target: {dataSource: bank}
  keys: [{source: id}]
  compare:
    - {source: amount, type: Decimal, tolerance: {absolute: "0.01"}}
    - {source: booked_at, type: Timestamp, tolerance: {time: 2s}}
`
	baseWindow = `
apiVersion: clearhouse.dev/v1alpha1
kind: SettlementWindow
spec:
  strategy: Scheduled
  schedule: "0 22 * * *"
  duration: 2h
  jobs:
    selector: {matchLabels: {settlement: daily}}
`
	baseActivityWindow = `
apiVersion: clearhouse.dev/v1alpha1
kind: SettlementWindow
spec:
  strategy: Emergency
  activityStart: "2026-11-27T00:00:00Z"
  jobs:
    selector: {matchLabels: {activity: sale}}
`
	baseModule = `
apiVersion: clearhouse.dev/v1alpha1
kind: BusinessModule
spec:
  owners: [{name: team, email: team@example.com}]
  kafkaCluster: {name: events}
  streams: [{name: payment-settled}]
  consumers: [{module: ledger, streams: [payment-settled]}]
  access: [{group: ops, role: reviewer}]
`
)

// edit is one change to a base object: set a value at a path (a.b[0].c), or delete it
// when value is deleteField.
type edit struct {
	path  string
	value any
}

var deleteField = struct{}{}

func TestInvalidResourcesAreRejected(t *testing.T) {
	createNamespace(t, "invalid")
	cases := []invalidCase{
		{"datasource block does not match type", baseDataSource,
			[]edit{{"spec.type", "MySQL"}},
			[]string{"spec: Invalid value", "type is MySQL but the matching block spec.mysql is not set"}},
		{"datasource with two source blocks", baseDataSource,
			[]edit{{"spec.mysql", map[string]any{"host": "db", "database": "x", "table": "t", "secretRef": map[string]any{"name": "s"}}}},
			[]string{"exactly one of postgresql, mysql, kafka or file must be set"}},
		{"datasource without key columns", baseDataSource,
			[]edit{{"spec.keyColumns", []any{}}},
			[]string{"spec.keyColumns", "should have at least 1 items"}},
		{"datasource with both table and query", baseDataSource,
			[]edit{{"spec.postgresql.query", "SELECT * FROM ledger.entries"}},
			[]string{"spec.postgresql", "exactly one of table or query must be set"}},
		{"query ending with a semicolon", baseDataSource,
			[]edit{{"spec.postgresql.table", deleteField}, {"spec.postgresql.query", "SELECT id FROM t;"}},
			[]string{"spec.postgresql.query", "query must not end with a semicolon"}},
		{"unknown source type", baseDataSource,
			[]edit{{"spec.type", "Oracle"}},
			[]string{`spec.type: Unsupported value: "Oracle"`, `"PostgreSQL"`}},
		{"unknown column type", baseDataSource,
			[]edit{{"spec.columns[1].type", "Money"}},
			[]string{`spec.columns[1].type: Unsupported value: "Money"`}},
		{"port out of range", baseDataSource,
			[]edit{{"spec.postgresql.port", 70000}},
			[]string{"spec.postgresql.port", "less than or equal to 65535"}},
		{"database credentials without secretRef", baseDataSource,
			[]edit{{"spec.postgresql.secretRef", deleteField}},
			[]string{"spec.postgresql.secretRef: Required value"}},
		{"probe interval too short", baseDataSource,
			[]edit{{"spec.probeInterval", "1s"}},
			[]string{"spec.probeInterval", "probeInterval must be at least 10s"}},
		{"capture on a query", baseDataSource,
			[]edit{{"spec.postgresql.table", deleteField}, {"spec.postgresql.query", "SELECT 1 AS id"}, {"spec.capture", map[string]any{"kafkaConnect": "cdc"}}},
			[]string{"spec.capture", "capture needs a table, not a query"}},
		{"capture on a file", baseFileSource,
			[]edit{{"spec.capture", map[string]any{"kafkaConnect": "cdc"}}},
			[]string{"spec.capture", "capture is only supported for PostgreSQL and MySQL sources"}},
		{"kafka value path that is not a field path", baseDataSource,
			[]edit{{"spec.type", "Kafka"}, {"spec.postgresql", deleteField},
				{"spec.kafka", map[string]any{"bootstrapServers": []any{"kafka:9092"}, "topic": "entries", "valuePath": "after..id"}}},
			[]string{"spec.kafka.valuePath", "should match"}},
		{"kafka read mode that does not exist", baseDataSource,
			[]edit{{"spec.type", "Kafka"}, {"spec.postgresql", deleteField},
				{"spec.kafka", map[string]any{"bootstrapServers": []any{"kafka:9092"}, "topic": "entries", "read": "Latest"}}},
			[]string{`spec.kafka.read: Unsupported value: "Latest"`, `"LatestPerKey"`}},
		{"database CA without verification", baseDataSource,
			[]edit{{"spec.postgresql.caSecretRef", map[string]any{"name": "db-ca", "key": "ca.crt"}}},
			[]string{"spec.postgresql.caSecretRef", "caSecretRef needs tlsMode verify-ca or verify-full"}},
		{"kafka CA without TLS", baseDataSource,
			[]edit{{"spec.type", "Kafka"}, {"spec.postgresql", deleteField},
				{"spec.kafka", map[string]any{"bootstrapServers": []any{"kafka:9093"}, "topic": "entries",
					"caSecretRef": map[string]any{"name": "events-cluster-ca-cert", "key": "ca.crt"}}}},
			[]string{"spec.kafka.caSecretRef", "caSecretRef needs tls: true"}},
		{"file url with an unsupported scheme", baseFileSource,
			[]edit{{"spec.file.url", "ftp://bank.example.com/settlement.csv"}},
			[]string{"spec.file.url", "url must start with file:///, http://, https:// or s3://"}},
		{"file url carrying a password", baseFileSource,
			[]edit{{"spec.file.url", "https://bank:s3cret@files.example.com/bank.csv"}},
			[]string{"spec.file.url", "url must not carry credentials; use secretRef"}},
		{"file url carrying a token as its user", baseFileSource,
			[]edit{{"spec.file.url", "https://ghp_s3cretToken@files.example.com/bank.csv"}},
			[]string{"spec.file.url", "url must not carry credentials; use secretRef"}},
		{"csv options on a parquet file", baseFileSource,
			[]edit{{"spec.file.format", "Parquet"}, {"spec.file.csv", map[string]any{"delimiter": ";"}}},
			[]string{"spec.file", "csv options are only valid with format CSV"}},
		{"csv quote equal to the delimiter", baseFileSource,
			[]edit{{"spec.file.csv", map[string]any{"delimiter": ";", "quote": ";"}}},
			[]string{"spec.file.csv", "quote and delimiter must differ"}},
		{"csv quote equal to the default delimiter", baseFileSource,
			[]edit{{"spec.file.csv", map[string]any{"quote": ","}}},
			[]string{"spec.file.csv", "quote and delimiter must differ"}},
		{"csv delimiter a line break", baseFileSource,
			[]edit{{"spec.file.csv", map[string]any{"delimiter": "\n"}}},
			[]string{"spec.file.csv", "delimiter and quote are each one printable ASCII character or a tab"}},
		{"csv quote not ASCII", baseFileSource,
			[]edit{{"spec.file.csv", map[string]any{"quote": "«"}}},
			[]string{"spec.file.csv", "delimiter and quote are each one printable ASCII character or a tab"}},

		{"job without keys", baseJob,
			[]edit{{"spec.keys", []any{}}},
			[]string{"spec.keys", "should have at least 1 items"}},
		{"negative amount tolerance", baseJob,
			[]edit{{"spec.compare[0].tolerance.absolute", "-0.01"}},
			[]string{"spec.compare[0].tolerance.absolute", "absolute tolerance must be a non-negative decimal such as 0.01"}},
		{"relative tolerance that is not a number", baseJob,
			[]edit{{"spec.compare[0].tolerance", map[string]any{"relative": "1%"}}},
			[]string{"spec.compare[0].tolerance.relative", "relative tolerance must be a non-negative decimal"}},
		{"numeric tolerance on a string column", baseJob,
			[]edit{{"spec.compare[0].type", "String"}},
			[]string{"spec.compare[0]", "absolute and relative tolerances need type Decimal or Integer"}},
		{"time tolerance on a decimal column", baseJob,
			[]edit{{"spec.compare[1].type", "Decimal"}},
			[]string{"spec.compare[1]", "time tolerance needs type Timestamp or Date"}},
		{"negative time tolerance", baseJob,
			[]edit{{"spec.compare[1].tolerance.time", "-2s"}},
			[]string{"spec.compare[1].tolerance.time", "time tolerance must not be negative"}},
		{"empty tolerance", baseJob,
			[]edit{{"spec.compare[0].tolerance", map[string]any{}}},
			[]string{"spec.compare[0].tolerance", "tolerance needs at least one of absolute, relative or time"}},
		{"same column compared twice", baseJob,
			[]edit{{"spec.compare[1].source", "amount"}},
			[]string{"spec.compare[1]", "Duplicate value"}},
		{"unknown strategy", baseJob,
			[]edit{{"spec.strategy", "Fast"}},
			[]string{`spec.strategy: Unsupported value: "Fast"`}},
		{"parallel inline executor", baseJob,
			[]edit{{"spec.execution", map[string]any{"parallelism": 4}}},
			[]string{"spec.execution", "parallelism above 1 needs executor Kubernetes"}},
		{"blank schedule", baseJob,
			[]edit{{"spec.schedule", "  "}},
			[]string{"schedule must not be blank; omit it for on-demand jobs"}},
		{"time zone without a schedule", baseJob,
			[]edit{{"spec.timeZone", "Europe/London"}},
			[]string{"spec.timeZone", "timeZone needs schedule"}},
		{"comparing a source with itself", baseJob,
			[]edit{{"spec.target.dataSource", "ledger"}},
			[]string{"source and target are the same DataSource"}},
		{"alert channel with webhook and email", baseJob,
			[]edit{{"spec.alerts", map[string]any{"channels": []any{map[string]any{
				"name":    "ops",
				"webhook": map[string]any{"urlSecretRef": map[string]any{"name": "hook", "key": "url"}},
				"email":   map[string]any{"to": []any{"ops@example.com"}, "from": "ch@example.com", "smtp": map[string]any{"host": "smtp"}},
			}}}}},
			[]string{"spec.alerts.channels[0]", "exactly one of webhook or email must be set"}},
		{"zero history", baseJob,
			[]edit{{"spec.historyLimit", 0}},
			[]string{"spec.historyLimit", "greater than or equal to 1"}},
		{"zero max discrepancies", baseJob,
			[]edit{{"spec.limits", map[string]any{"maxDiscrepancies": 0}}},
			[]string{"spec.limits.maxDiscrepancies", "greater than or equal to 1"}},

		{"scheduled window without duration", baseWindow,
			[]edit{{"spec.duration", deleteField}},
			[]string{"strategy Scheduled needs schedule and duration"}},
		{"emergency window without activity start", baseActivityWindow,
			[]edit{{"spec.activityStart", deleteField}},
			[]string{"strategies Daily, Limited and Emergency need activityStart"}},
		{"lead time on a recurring window", baseWindow,
			[]edit{{"spec.leadTime", "5h"}},
			[]string{"spec.leadTime", "leadTime is only valid with activityStart"}},
		{"grace period longer than the window", baseWindow,
			[]edit{{"spec.gracePeriod", "3h"}},
			[]string{"spec.gracePeriod", "gracePeriod must be shorter than duration"}},
		{"zero lead time", baseActivityWindow,
			[]edit{{"spec.leadTime", "0s"}},
			[]string{"spec.leadTime", "leadTime must be positive"}},
		{"sign-off without approvers", baseWindow,
			[]edit{{"spec.approval", map[string]any{"required": true}}},
			[]string{"spec.approval", "approval.required needs at least one approver"}},
		{"unknown window strategy", baseWindow,
			[]edit{{"spec.strategy", "Weekly"}},
			[]string{`spec.strategy: Unsupported value: "Weekly"`}},

		{"module without owners", baseModule,
			[]edit{{"spec.owners", []any{}}},
			[]string{"spec.owners", "should have at least 1 items"}},
		{"consumer of an undeclared stream", baseModule,
			[]edit{{"spec.consumers[0].streams", []any{"refund-issued"}}},
			[]string{"every consumer stream must be one of spec.streams"}},
		{"streams without a Kafka cluster", baseModule,
			[]edit{{"spec.kafkaCluster", deleteField}},
			[]string{"streams need kafkaCluster"}},
		{"unknown access role", baseModule,
			[]edit{{"spec.access[0].role", "admin"}},
			[]string{`spec.access[0].role: Unsupported value: "admin"`}},
		{"stream name not a topic name", baseModule,
			[]edit{{"spec.streams[0].name", "Payment_Settled"}, {"spec.consumers", deleteField}},
			[]string{"spec.streams[0].name", "should match"}},
		{"owner email malformed", baseModule,
			[]edit{{"spec.owners[0].email", "payments team"}},
			[]string{"spec.owners[0].email", "should match"}},
	}
	if len(cases) < 20 {
		t.Fatalf("only %d invalid cases", len(cases))
	}
	checkRejected(t, "invalid", cases)
	// The bases themselves are valid: a mistake table is only meaningful if the
	// unchanged objects pass.
	for i, base := range []string{baseDataSource, baseFileSource, baseJob, baseWindow, baseActivityWindow, baseModule} {
		obj := parse(t, base)
		obj.SetNamespace("invalid")
		obj.SetName(fmt.Sprintf("base-%d", i))
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Errorf("base %d rejected: %v", i, err)
		}
	}
	// So are CSV dialects of a tab or a ';' and a "'" quote.
	for i, csv := range []map[string]any{{"delimiter": "\t"}, {"delimiter": ";", "quote": "'"}, {"quote": "'"}} {
		obj := parse(t, baseFileSource)
		obj.SetNamespace("invalid")
		obj.SetName(fmt.Sprintf("csv-%d", i))
		if err := apply(obj.Object, edit{"spec.file.csv", csv}); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Errorf("csv %v rejected: %v", csv, err)
		}
	}
	// So are windows of 15 minutes or less that set no grace period (a default of 15m
	// used to break the rule that it be shorter than the window), and they wait half.
	for _, d := range []string{"10m", "15m"} {
		obj := parse(t, baseWindow)
		obj.SetNamespace("invalid")
		obj.SetName("short-" + d)
		if err := apply(obj.Object, edit{"spec.duration", d}); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Errorf("a %s window without gracePeriod rejected: %v", d, err)
			continue
		}
		var sw chv1.SettlementWindow
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), &sw); err != nil {
			t.Fatal(err)
		}
		if want := sw.Spec.Duration.Duration / 2; sw.Spec.GracePeriod != nil || sw.Spec.Grace() != want {
			t.Errorf("a %s window: gracePeriod %v, grace %v; want unset and %v", d, sw.Spec.GracePeriod, sw.Spec.Grace(), want)
		}
	}
}

func parse(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

var segment = regexp.MustCompile(`^([A-Za-z]+)(?:\[(\d+)\])?$`)

// apply sets or deletes the value at a dotted path with optional list indexes.
func apply(obj map[string]any, e edit) error {
	parts := strings.Split(e.path, ".")
	cur := obj
	for i, p := range parts {
		m := segment.FindStringSubmatch(p)
		if m == nil {
			return fmt.Errorf("bad path segment %q", p)
		}
		last := i == len(parts)-1
		if m[2] == "" {
			if last {
				if e.value == deleteField {
					delete(cur, m[1])
				} else {
					cur[m[1]] = e.value
				}
				return nil
			}
			next, ok := cur[m[1]].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[m[1]] = next
			}
			cur = next
			continue
		}
		list, ok := cur[m[1]].([]any)
		idx, _ := strconv.Atoi(m[2])
		if !ok || idx >= len(list) {
			return fmt.Errorf("path %s: no element %d", e.path, idx)
		}
		if last {
			list[idx] = e.value
			return nil
		}
		cur = list[idx].(map[string]any)
	}
	return nil
}

// invalidCase is a base object with edits the API server must reject.
type invalidCase struct {
	name  string
	base  string
	edits []edit
	// want are substrings of the API server's message: the field and what is wrong.
	want []string
}

// checkRejected creates each case in namespace ns: the API server must reject it as
// invalid, its message naming every want and echoing no password.
func checkRejected(t *testing.T, ns string, cases []invalidCase) {
	t.Helper()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, tc.base)
			obj.SetNamespace(ns)
			obj.SetName(fmt.Sprintf("case-%d", i))
			for _, e := range tc.edits {
				if err := apply(obj.Object, e); err != nil {
					t.Fatal(err)
				}
			}
			err := env.Client.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted it; want a rejection mentioning %q", tc.want)
			}
			t.Logf("rejected: %v", err)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("rejected, but not as invalid: %v", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("message echoes a password: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
