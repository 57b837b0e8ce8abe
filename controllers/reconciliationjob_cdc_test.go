package controllers_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/testcert"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// cdcUser and cdcPassword are the SCRAM credentials of the test Kafka cluster.
const (
	cdcUser     = "reconciler"
	cdcPassword = "s3cr3t-scram-password"
)

// cdcCluster is a kfake cluster serving TLS under a private CA and SCRAM-SHA-512, with
// topic of partitions, and a producer for it.
type cdcCluster struct {
	c     *kfake.Cluster
	certs testcert.Certs
	prod  *kgo.Client
	topic string
}

func newCDCCluster(t *testing.T, topic string, partitions int32) *cdcCluster {
	t.Helper()
	certs := testcert.New(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(certs.Server), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", cdcUser, cdcPassword), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: certs.Pool, MinVersion: tls.VersionTLS12}),
		kgo.RequestTimeoutOverhead(10*time.Second), kgo.RecordDeliveryTimeout(30*time.Second),
		kgo.SASL(scram.Auth{User: cdcUser, Pass: cdcPassword}.AsSha512Mechanism()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return &cdcCluster{c: c, certs: certs, prod: prod, topic: topic}
}

// produce writes records to their partitions (rec.Partition), in order.
func (k *cdcCluster) produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	for _, r := range recs {
		r.Topic = k.topic
	}
	if err := k.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// dataSource is a Kafka DataSource reading the topic as the table its Debezium change
// events describe, over TLS (the private CA from a Secret) with SCRAM credentials
// from another Secret, both created in ns.
func (k *cdcCluster) dataSource(t *testing.T, ns, name string, keys ...string) *chv1.DataSource {
	t.Helper()
	create(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-cluster-ca-cert"},
			Data: map[string][]byte{"ca.crt": k.certs.CAPEM}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-user"},
			Data: map[string][]byte{"username": []byte(cdcUser), "password": []byte(cdcPassword)}})
	return &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: chv1.DataSourceSpec{
		Type: chv1.DataSourceKafka, Kafka: &chv1.KafkaSource{
			BootstrapServers: k.c.ListenAddrs(), Topic: k.topic, TLS: true,
			CASecretRef:   &chv1.SecretKeyRef{Name: name + "-cluster-ca-cert", Key: "ca.crt"},
			SecretRef:     &chv1.CredentialsSecretRef{Name: name + "-user"},
			SASLMechanism: "SCRAM-SHA-512",
			ValuePath:     "after", Read: chv1.KafkaLatestPerKey},
		KeyColumns: keys, ProbeInterval: &metav1.Duration{Duration: time.Hour}}}
}

// debezium is a Debezium change event of op ("r" snapshot, "c", "u", "d") for the row
// after (nil: a delete, whose before is the key) keyed by key, in partition p, as the
// JSON converter without schemas writes it.
func debezium(t *testing.T, p int32, key string, op string, before, after map[string]any) *kgo.Record {
	t.Helper()
	v, err := json.Marshal(map[string]any{
		"before": before, "after": after, "op": op, "ts_ms": 1806400000000,
		"source": map[string]any{"connector": "postgresql", "db": "ledger", "schema": "public", "table": "accounts", "snapshot": op == "r"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Partition: p, Key: []byte(key), Value: v}
}

// tombstone is the nil-valued record Debezium writes after a delete.
func tombstone(p int32, key string) *kgo.Record {
	return &kgo.Record{Partition: p, Key: []byte(key)}
}

// runOnce creates the DataSources and the job (triggered by a run nonce) and waits
// for the run to end; it returns the job and the run's id.
func runOnce(t *testing.T, src, tgt *chv1.DataSource, job *chv1.ReconciliationJob) (*chv1.ReconciliationJob, string) {
	t.Helper()
	createDataSource(t, src)
	createDataSource(t, tgt)
	job.Spec.RunNonce = "first"
	create(t, job)
	deleteAtEnd(t, job)
	id := trigger.RunID(string(job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "first"})
	if job.Spec.Execution.Executor == chv1.ExecutorKubernetes {
		playWorkers(t, job, id)
	}
	return waitRunEnded(t, job, id), id
}

// playWorkers plays kubelet for a run's worker Job: each pod's credentials and CA
// certificates are what its environment and volumes name (read from the Secrets they
// reference), and each index runs its partition of the plan; then the Job completes.
func playWorkers(t *testing.T, job *chv1.ReconciliationJob, id string) {
	t.Helper()
	var bj batchv1.Job
	eventually(t, "worker Job", func() error {
		return env.Client.Get(context.Background(), types.NamespacedName{Namespace: job.Namespace, Name: kubejob.Name(id)}, &bj)
	})
	pod := bj.Spec.Template.Spec
	secretKey := func(name, key string) string {
		var s corev1.Secret
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: job.Namespace, Name: name}, &s); err != nil {
			t.Fatal(err)
		}
		v, ok := s.Data[key]
		if !ok {
			t.Fatalf("secret %s has no key %s", name, key)
		}
		return string(v)
	}
	for _, e := range pod.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			t.Setenv("PLAYED_"+e.Name, secretKey(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
		}
	}
	for _, v := range pod.Volumes {
		for _, m := range pod.Containers[0].VolumeMounts {
			if m.Name != v.Name || v.Secret == nil {
				continue
			}
			for _, e := range pod.Containers[0].Env {
				if e.Value == m.MountPath+"/"+v.Secret.Items[0].Path {
					t.Setenv("PLAYED_"+strings.TrimSuffix(e.Name, "_FILE"), secretKey(v.Secret.SecretName, v.Secret.Items[0].Key))
				}
			}
		}
	}
	plan, err := kubejob.DecodePlan(envValue(bj, kubejob.EnvPlan))
	if err != nil {
		t.Fatal(err)
	}
	n := int(*bj.Spec.Completions)
	for i := range n {
		if _, err := runner.Execute(context.Background(), plan, connect.FromEnv("PLAYED_"+kubejob.EnvSourcePrefix),
			connect.FromEnv("PLAYED_"+kubejob.EnvTargetPrefix), runner.Partition{RunID: id, Index: i, Count: n}, mgr.Store); err != nil {
			t.Fatal(err)
		}
	}
	finishWorkerJob(t, &bj, false)
}

// storedLines are the run's discrepancies in the store, as sorted JSON lines.
func storedLines(t *testing.T, id string) []string {
	t.Helper()
	got, err := mgr.Store.Discrepancies(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	diff.SortDiscrepancies(got)
	out := make([]string, len(got))
	for i, d := range got {
		out[i] = string(d.AppendJSON(nil))
	}
	return out
}

// TestCDCTopicAgainstPostgres is the use case the product sells, through the
// operator: a PostgreSQL table reconciled with the Debezium CDC topic of the same
// table (TLS under a private CA, SCRAM-SHA-512), read as the table it describes
// (LatestPerKey, valuePath after). The topic holds snapshot reads, creates, updates,
// deletes (after: null) followed by tombstones, a row re-inserted after its delete, a
// row changed after its snapshot, decimals as strings (decimal.handling.mode=string)
// and as numbers, timestamps as ISO strings in another zone. The run's summary, every
// discrepancy in the store (the sensitive column masked) and the job's status are
// exactly what the rows say.
func TestCDCTopicAgainstPostgres(t *testing.T) {
	testCDCTopicAgainstPostgres(t, "rj-cdc", chv1.Execution{Executor: chv1.ExecutorInline})
}

// TestCDCTopicAgainstPostgresOnWorkers: the same run on the Kubernetes executor, in
// three partitions: the worker pods get the Kafka side's SCRAM credentials and CA
// from the Secrets its DataSource names, and find the same discrepancies.
func TestCDCTopicAgainstPostgresOnWorkers(t *testing.T) {
	testCDCTopicAgainstPostgres(t, "rj-cdc-workers", chv1.Execution{Executor: chv1.ExecutorKubernetes, Parallelism: 3})
}

func testCDCTopicAgainstPostgres(t *testing.T, ns string, exec chv1.Execution) {
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t,
		`CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL,
			iban text NOT NULL, updated_at timestamptz NOT NULL, note text)`,
		`INSERT INTO accounts VALUES
			(1, 'alice', 100.00, 'DE01', '2027-03-01 10:00:00+00', NULL),
			(2, 'bob',   250.50, 'DE02', '2027-03-02 09:30:00.25+00', 'raised'),
			(3, 'carol',  75.25, 'DE03', '2027-03-01 10:00:00+00', NULL),
			(4, 'dave',   12.00, 'DE04', '2027-03-01 10:00:00+00', NULL),
			(7, 'gina',    5.00, 'DE07', '2027-03-03 08:00:00+00', NULL),
			(8, 'hank',   10.00, 'DE08', '2027-03-01 10:00:00+00', NULL),
			(9, 'ivy',    42.00, 'DE09', '2027-03-01 10:00:00+00', NULL)`)
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	pg := sqlSource(ns, "ledger", db, "accounts", time.Hour, "id")
	pg.Spec.Columns = []chv1.ColumnSpec{{Name: "iban", Sensitive: true}}

	k := newCDCCluster(t, "ledger.public.accounts", 1)
	row := func(id int, owner string, balance any, iban, at string, note any) map[string]any {
		return map[string]any{"id": id, "owner": owner, "balance": balance, "iban": iban, "updated_at": at, "note": note}
	}
	key := func(id int) string { return fmt.Sprintf(`{"id":%d}`, id) }
	k.produce(t,
		// The snapshot.
		debezium(t, 0, key(1), "r", nil, row(1, "alice", "100.00", "DE01", "2027-03-01T10:00:00Z", nil)),
		debezium(t, 0, key(2), "r", nil, row(2, "bob", "200.00", "DE02", "2027-03-01T10:00:00Z", nil)),
		// A decimal as a JSON number, within the tolerance; a timestamp in +01:00.
		debezium(t, 0, key(3), "r", nil, row(3, "carol", 75.26, "DE03", "2027-03-01T11:00:00+01:00", nil)),
		debezium(t, 0, key(4), "r", nil, row(4, "dave", "12.00", "DE04", "2027-03-01T10:00:00Z", nil)),
		debezium(t, 0, key(5), "r", nil, row(5, "erin", "1.00", "DE05", "2027-03-01T10:00:00Z", nil)),
		// Changes after the snapshot: bob updated (the latest row wins).
		debezium(t, 0, key(2), "u", row(2, "bob", "200.00", "DE02", "2027-03-01T10:00:00Z", nil),
			row(2, "bob", "250.50", "DE02", "2027-03-02T09:30:00.250000Z", "raised")),
		// dave deleted in the topic but not in the table.
		debezium(t, 0, key(4), "d", row(4, "dave", "12.00", "DE04", "2027-03-01T10:00:00Z", nil), nil),
		tombstone(0, key(4)),
		// frank created and deleted: in neither.
		debezium(t, 0, key(6), "c", nil, row(6, "frank", "3.00", "DE06", "2027-03-01T10:00:00Z", nil)),
		debezium(t, 0, key(6), "d", row(6, "frank", "3.00", "DE06", "2027-03-01T10:00:00Z", nil), nil),
		tombstone(0, key(6)),
		// gina created, deleted, then created again.
		debezium(t, 0, key(7), "c", nil, row(7, "gina", "4.00", "DE07", "2027-03-03T07:00:00Z", nil)),
		debezium(t, 0, key(7), "d", row(7, "gina", "4.00", "DE07", "2027-03-03T07:00:00Z", nil), nil),
		tombstone(0, key(7)),
		debezium(t, 0, key(7), "c", nil, row(7, "gina", "5.00", "DE07", "2027-03-03T08:00:00Z", nil)),
		// hank: balance beyond the tolerance and another IBAN (sensitive).
		debezium(t, 0, key(8), "c", nil, row(8, "hank", "10.05", "DE08X", "2027-03-01T10:00:00Z", nil)),
		// ivy: the timestamp beyond its tolerance, the note set in the topic only.
		debezium(t, 0, key(9), "c", nil, row(9, "ivy", "42.00", "DE09", "2027-03-01T10:00:02Z", "late")),
	)
	kafka := k.dataSource(t, ns, "accounts-cdc", "id")

	job := &chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger-vs-cdc"},
		Spec: chv1.ReconciliationJobSpec{
			Source: chv1.JobSide{DataSource: "ledger"}, Target: chv1.JobSide{DataSource: "accounts-cdc"},
			Keys: []chv1.KeyMapping{{Source: "id", Target: "id", Type: chv1.ColumnInteger}},
			Compare: []chv1.ColumnComparison{
				{Source: "owner"},
				{Source: "balance", Type: chv1.ColumnDecimal, Tolerance: &chv1.Tolerance{Absolute: "0.01"}},
				{Source: "iban"},
				{Source: "updated_at", Type: chv1.ColumnTimestamp, Tolerance: &chv1.Tolerance{Time: &metav1.Duration{Duration: time.Second}}},
				{Source: "note"},
			},
			Execution: exec,
		}}
	job, id := runOnce(t, pg, kafka, job)

	last := job.Status.LastRun
	want := chv1.RunCounts{Compared: 8, Matched: 4, MissingInTarget: 1, MissingInSource: 1, Mismatched: 2}
	if last.Result != chv1.RunDiscrepant || last.Trigger != "Nonce" || last.Message != "" || last.Counts != want {
		t.Fatalf("lastRun = %+v, want Discrepant from the nonce with %+v", last, want)
	}
	if err := cond(job, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonDiscrepant, id); err != nil {
		t.Error(err)
	}
	if err := cond(job, chv1.ConditionReady, metav1.ConditionTrue, chv1.ReasonReconciled, ""); err != nil {
		t.Error(err)
	}
	if job.Status.Discrepancies != 4 || job.Status.LastRunNonce != "first" {
		t.Errorf("status.discrepancies %d, lastRunNonce %q", job.Status.Discrepancies, job.Status.LastRunNonce)
	}

	runs := storeRuns(t, job)
	if len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("runs in the store: %v", runIDs(runs))
	}
	s := runs[0].Summary
	if s.Compared != 8 || s.Matched != 4 || s.MissingInTarget != 1 || s.MissingInSource != 1 || s.Mismatched != 2 ||
		s.DuplicateKeys != 0 || s.InvalidRows != 0 || s.Truncated || runs[0].Error != "" {
		t.Errorf("stored summary %+v, error %q", s, runs[0].Error)
	}

	storeKey, err := mgr.Store.MaskKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mask := func(s string) string { return diff.Mask(runner.NamespaceMaskKey(storeKey, ns), s) }
	wantLines := []string{
		`{"kind":"missing_in_target","key":{"id":"4"}}`,
		`{"kind":"missing_in_source","key":{"id":"5"}}`,
		`{"kind":"mismatch","key":{"id":"8"},"columns":[{"name":"balance","source":"10.00","target":"10.05"},` +
			`{"name":"iban","source":"` + mask("DE08") + `","target":"` + mask("DE08X") + `"}]}`,
		`{"kind":"mismatch","key":{"id":"9"},"columns":[{"name":"updated_at","source":"2027-03-01T10:00:00Z","target":"2027-03-01T10:00:02Z"},` +
			`{"name":"note","source":null,"target":"late"}]}`,
	}
	slices.Sort(wantLines)
	got := storedLines(t, id)
	slices.Sort(got)
	if !slices.Equal(got, wantLines) {
		t.Errorf("discrepancies in the store:\n%s\nwant:\n%s", join(got), join(wantLines))
	}
}

func join(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}

// TestCDCTopicColumnAddedLater: a column added to the table after the topic's first
// thousand events (Debezium then sends it in every event) does not make those events
// invalid rows when the job names the columns it compares: the topic is read for the
// job's columns, not for the members its first rows happened to have.
func TestCDCTopicColumnAddedLater(t *testing.T) {
	ns := "rj-cdc-added"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t,
		`CREATE TABLE accounts (id bigint PRIMARY KEY, balance numeric(12,2) NOT NULL)`,
		`INSERT INTO accounts SELECT g, g FROM generate_series(1, 1000) g`,
		`ALTER TABLE accounts ADD COLUMN region text`,
		`UPDATE accounts SET balance = 5.50, region = 'eu' WHERE id = 5`)
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	pg := sqlSource(ns, "ledger", db, "accounts", time.Hour, "id")

	k := newCDCCluster(t, "ledger.public.accounts", 1)
	var recs []*kgo.Record
	for id := 1; id <= 1000; id++ {
		recs = append(recs, debezium(t, 0, fmt.Sprintf(`{"id":%d}`, id), "r", nil,
			map[string]any{"id": id, "balance": fmt.Sprintf("%d.00", id)}))
	}
	recs = append(recs, debezium(t, 0, `{"id":5}`, "u", map[string]any{"id": 5, "balance": "5.00", "region": nil},
		map[string]any{"id": 5, "balance": "5.50", "region": "eu"}))
	k.produce(t, recs...)
	kafka := k.dataSource(t, ns, "accounts-cdc", "id")

	job := &chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger-vs-cdc"},
		Spec: chv1.ReconciliationJobSpec{
			Source: chv1.JobSide{DataSource: "ledger"}, Target: chv1.JobSide{DataSource: "accounts-cdc"},
			Keys:    []chv1.KeyMapping{{Source: "id", Type: chv1.ColumnInteger}},
			Compare: []chv1.ColumnComparison{{Source: "balance", Type: chv1.ColumnDecimal}},
		}}
	job, id := runOnce(t, pg, kafka, job)
	want := chv1.RunCounts{Compared: 1000, Matched: 1000}
	if last := job.Status.LastRun; last.Result != chv1.RunBalanced || last.Counts != want {
		t.Errorf("lastRun = %+v, want Balanced with %+v; discrepancies:\n%s", last, want, join(storedLines(t, id)))
	}
}
