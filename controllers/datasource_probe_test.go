package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/freeport"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// lockedBuffer collects the manager's log.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// managerLogs is everything the suite's manager logged.
var managerLogs = &lockedBuffer{}

// dbSecret creates the Secret "db" holding user and password in ns.
func dbSecret(t *testing.T, ns, user, password string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Data: map[string][]byte{"username": []byte(user), "password": []byte(password)}}
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// newDatabase is a fresh database on the test server of kind.
func newDatabase(t *testing.T, kind testdb.Kind) *testdb.Database {
	t.Helper()
	if kind == testdb.Postgres {
		return testdb.NewPostgres(t)
	}
	return testdb.NewMariaDB(t)
}

// sqlSource is a DataSource reading table of db with the Secret "db", probed every
// interval.
func sqlSource(ns, name string, db *testdb.Database, table string, interval time.Duration, keys ...string) *chv1.DataSource {
	s := &chv1.SQLSource{Host: db.Server.Host, Port: int32(db.Server.Port), Database: db.Name, Table: table,
		SecretRef: chv1.CredentialsSecretRef{Name: "db"}, TLSMode: "disable"}
	ds := &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: chv1.DataSourceSpec{KeyColumns: keys, ProbeInterval: &metav1.Duration{Duration: interval}}}
	if db.Server.Kind == testdb.Postgres {
		ds.Spec.Type, ds.Spec.PostgreSQL = chv1.DataSourcePostgreSQL, s
	} else {
		ds.Spec.Type, ds.Spec.MySQL = chv1.DataSourceMySQL, s
	}
	return ds
}

// createDataSource creates ds and deletes it when the test ends, so that it is not
// probed after its database is gone.
func createDataSource(t *testing.T, ds *chv1.DataSource) {
	t.Helper()
	if err := env.Client.Create(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Client.Delete(context.Background(), ds); client.IgnoreNotFound(err) != nil {
			t.Error(err)
		}
	})
}

// waitLong is waitFor with room for a probe interval (10s) and a slow machine.
func waitLong(t *testing.T, obj client.Object, check func() error) {
	t.Helper()
	waitWithin(t, 90*time.Second, obj, check)
}

// exactCondition checks a condition's status, reason and whole message.
func exactCondition(obj client.Object, typ string, status metav1.ConditionStatus, reason, msg string) error {
	conds, _ := conditionsOf(obj)
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		return fmt.Errorf("no %s condition in %v", typ, conds)
	}
	if c.Status != status || c.Reason != reason || c.Message != msg {
		return fmt.Errorf("%s = %s/%s %q, want %s/%s %q", typ, c.Status, c.Reason, c.Message, status, reason, msg)
	}
	return nil
}

// eventsOf lists the events regarding the DataSource name in ns, as "Type Reason: note".
func eventsOf(t *testing.T, ns, name string) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "DataSource" && e.Regarding.Name == name {
			out = append(out, e.Type+" "+e.Reason+": "+e.Note)
		}
	}
	return out
}

// waitEvent waits for an event regarding the DataSource.
func waitEvent(t *testing.T, ns, name, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range eventsOf(t, ns, name) {
			if e == want {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no event %q for %s/%s; events: %q", want, ns, name, eventsOf(t, ns, name))
}

type dialect struct {
	kind       testdb.Kind
	create     []string
	columns    []chv1.DiscoveredColumn
	alter      []string
	drift      string
	dropKey    []string
	afterDrop  string
	keyMissing string
}

var dialects = []dialect{{
	kind: testdb.Postgres,
	create: []string{
		`CREATE TABLE entries (id bigint NOT NULL, amount numeric(12,2) NOT NULL, qty integer, memo text, booked_at timestamptz)`,
		`INSERT INTO entries (id, amount, qty) SELECT g, g, g FROM generate_series(1, 1200) g`,
		`ANALYZE entries`,
	},
	columns: []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint"},
		{Name: "amount", Type: chv1.ColumnDecimal, NativeType: "numeric(12,2)"},
		{Name: "qty", Type: chv1.ColumnInteger, NativeType: "integer", Nullable: true},
		{Name: "memo", Type: chv1.ColumnString, NativeType: "text", Nullable: true},
		{Name: "booked_at", Type: chv1.ColumnTimestamp, NativeType: "timestamp with time zone", Nullable: true},
	},
	alter:      []string{`ALTER TABLE entries ADD COLUMN note varchar(20), DROP COLUMN memo, ALTER COLUMN qty TYPE text`},
	drift:      "added columns: note (character varying(20)); removed columns: memo; retyped columns: qty (integer -> text)",
	dropKey:    []string{`ALTER TABLE entries DROP COLUMN id`},
	afterDrop:  "added columns: note (character varying(20)); removed columns: id, memo; retyped columns: qty (integer -> text)",
	keyMissing: `key column "id" is missing from the source (columns: amount, qty, booked_at, note)`,
}, {
	kind: testdb.MariaDB,
	create: []string{
		"CREATE TABLE entries (id BIGINT NOT NULL PRIMARY KEY, amount DECIMAL(12,2) NOT NULL, qty INT, memo TEXT, booked_at DATETIME(6))",
		"INSERT INTO entries (id, amount, qty) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM g WHERE n < 150) SELECT n, n, n FROM g",
		"ANALYZE TABLE entries",
	},
	columns: []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint(20)"},
		{Name: "amount", Type: chv1.ColumnDecimal, NativeType: "decimal(12,2)"},
		{Name: "qty", Type: chv1.ColumnInteger, NativeType: "int(11)", Nullable: true},
		{Name: "memo", Type: chv1.ColumnString, NativeType: "text", Nullable: true},
		{Name: "booked_at", Type: chv1.ColumnTimestamp, NativeType: "datetime(6)", Nullable: true},
	},
	alter:      []string{"ALTER TABLE entries ADD COLUMN note VARCHAR(20), DROP COLUMN memo, MODIFY COLUMN qty VARCHAR(12)"},
	drift:      "added columns: note (varchar(20)); removed columns: memo; retyped columns: qty (int(11) -> varchar(12))",
	dropKey:    []string{"ALTER TABLE entries DROP PRIMARY KEY, DROP COLUMN id"},
	afterDrop:  "added columns: note (varchar(20)); removed columns: id, memo; retyped columns: qty (int(11) -> varchar(12))",
	keyMissing: `key column "id" is missing from the source (columns: amount, qty, booked_at, note)`,
}}

// TestDataSourceSchemaAndDrift: against real PostgreSQL and MariaDB, a DataSource
// becomes Ready with its discovered schema and row estimate; an ALTER TABLE that adds,
// drops and retypes columns is drift with an exact message and an event, found by the
// periodic re-probe; a dropped key column makes it Ready=False naming the column; a
// spec edit accepts the schema and the drift clears, with an event.
func TestDataSourceSchemaAndDrift(t *testing.T) {
	for _, d := range dialects {
		t.Run(string(d.kind), func(t *testing.T) {
			ctx := context.Background()
			ns := "drift-" + string(d.kind)
			namespace(t, ns)
			db := newDatabase(t, d.kind)
			db.Exec(t, d.create...)
			dbSecret(t, ns, db.Server.User, db.Server.Password)
			ds := sqlSource(ns, "entries", db, "entries", 10*time.Second, "id")
			ds.Spec.Columns = []chv1.ColumnSpec{{Name: "amount", Type: chv1.ColumnDecimal}}
			createDataSource(t, ds)
			rows := map[testdb.Kind]int64{testdb.Postgres: 1200, testdb.MariaDB: 150}[d.kind]
			waitLong(t, ds, func() error {
				if err := exactCondition(ds, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled,
					fmt.Sprintf("reachable; 5 columns; about %d rows", rows)); err != nil {
					return err
				}
				for _, c := range []struct {
					typ, reason, msg string
					status           metav1.ConditionStatus
				}{
					{"Reachable", "Reachable", "5 columns", metav1.ConditionTrue},
					{"SchemaDiscovered", "Discovered", "5 columns", metav1.ConditionTrue},
					{"SchemaDrift", "NoDrift", fmt.Sprintf("the schema matches the declared columns and the one accepted at generation %d", ds.Generation), metav1.ConditionFalse},
					{"PipelineReady", "CaptureNotRequested", "spec.capture is not set", metav1.ConditionFalse},
				} {
					if err := exactCondition(ds, c.typ, c.status, c.reason, c.msg); err != nil {
						return err
					}
				}
				if !reflect.DeepEqual(ds.Status.Schema, d.columns) {
					return fmt.Errorf("schema %+v, want %+v", ds.Status.Schema, d.columns)
				}
				if ds.Status.EstimatedRows == nil || *ds.Status.EstimatedRows != rows {
					return fmt.Errorf("estimatedRows %v, want %d", ds.Status.EstimatedRows, rows)
				}
				if ds.Status.LastProbeTime == nil {
					return fmt.Errorf("no lastProbeTime")
				}
				return nil
			})

			// The periodic re-probe (every 10s) finds the ALTER TABLE.
			db.Exec(t, d.alter...)
			waitLong(t, ds, func() error {
				if err := exactCondition(ds, "SchemaDrift", metav1.ConditionTrue, chv1.ReasonDrifted, d.drift); err != nil {
					return err
				}
				// memo was neither a key nor declared: still Ready.
				return wantCondition(ds, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 5 columns")
			})
			waitEvent(t, ns, "entries", "Warning SchemaDrift: "+d.drift)

			db.Exec(t, d.dropKey...)
			waitLong(t, ds, func() error {
				if err := exactCondition(ds, "Ready", metav1.ConditionFalse, chv1.ReasonKeyColumnMissing, d.keyMissing); err != nil {
					return err
				}
				return exactCondition(ds, "SchemaDrift", metav1.ConditionTrue, chv1.ReasonDrifted, d.afterDrop)
			})
			waitEvent(t, ns, "entries", "Warning KeyColumnMissing: "+d.keyMissing)

			// Editing the spec (a new key) accepts the schema as it is: drift clears.
			patch := client.MergeFrom(ds.DeepCopy())
			ds.Spec.KeyColumns = []string{"amount"}
			if err := env.Client.Patch(ctx, ds, patch); err != nil {
				t.Fatal(err)
			}
			waitLong(t, ds, func() error {
				if err := wantCondition(ds, "SchemaDrift", metav1.ConditionFalse, chv1.ReasonNoDrift, ""); err != nil {
					return err
				}
				if b := ds.Status.SchemaBaseline; b == nil || b.Generation != ds.Generation || len(b.Columns) != 4 {
					return fmt.Errorf("baseline %+v, want the 4 columns at generation %d", b, ds.Generation)
				}
				return wantCondition(ds, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 4 columns")
			})
			waitEvent(t, ns, "entries", fmt.Sprintf("Normal SchemaDriftCleared: the schema matches the declared columns and the one accepted at generation %d", ds.Generation))
		})
	}
}

// closedPort is a local TCP port nothing listens on.
func closedPort(t *testing.T) int32 { return int32(freeport.Port(t)) }

// noSecretAnywhere fails when secret is in the DataSource (status included), its
// events or the manager's log.
func noSecretAnywhere(t *testing.T, ds *chv1.DataSource, secret string) {
	t.Helper()
	b, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secret)) {
		t.Errorf("the password is in the DataSource: %s", b)
	}
	for _, e := range eventsOf(t, ds.Namespace, ds.Name) {
		if strings.Contains(e, secret) {
			t.Errorf("the password is in an event: %q", e)
		}
	}
	if strings.Contains(managerLogs.String(), secret) {
		t.Errorf("the password is in the manager's log")
	}
}

// TestDataSourceCredentials: a wrong password (also used as the user name, which the
// servers echo) and a server that is down give Reachable=False with a reason, and the
// password is in no status, event or log line; fixing the Secret re-probes at once
// (the interval is an hour, so only the Secret's change can explain it).
func TestDataSourceCredentials(t *testing.T) {
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			ns := "creds-" + string(kind)
			namespace(t, ns)
			db := newDatabase(t, kind)
			db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
			wrong := "Zq7-wr0ng-" + string(kind) + "-pa55"
			secret := dbSecret(t, ns, wrong, wrong)
			ds := sqlSource(ns, "entries", db, "entries", time.Hour, "id")
			createDataSource(t, ds)
			waitLong(t, ds, func() error {
				if err := wantCondition(ds, "Reachable", metav1.ConditionFalse, "AuthenticationFailed", ns+"/entries on 127.0.0.1"); err != nil {
					return err
				}
				if err := wantCondition(ds, "Ready", metav1.ConditionFalse, "AuthenticationFailed", ns+"/entries"); err != nil {
					return err
				}
				return wantCondition(ds, "SchemaDiscovered", metav1.ConditionFalse, chv1.ReasonNotProbed, "")
			})
			waitEvent(t, ns, "entries", "Warning AuthenticationFailed: "+meta.FindStatusCondition(ds.Status.Conditions, "Reachable").Message)
			noSecretAnywhere(t, ds, wrong)

			// The right credentials: an immediate re-probe.
			secret.Data = map[string][]byte{"username": []byte(db.Server.User), "password": []byte(db.Server.Password)}
			if err := env.Client.Update(ctx, secret); err != nil {
				t.Fatal(err)
			}
			waitLong(t, ds, func() error {
				return wantCondition(ds, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 2 columns")
			})
			waitEvent(t, ns, "entries", "Normal Reachable: 2 columns")

			// A server that is down (nothing listens on the port).
			down := sqlSource(ns, "down", db, "entries", time.Hour, "id")
			port := closedPort(t)
			if down.Spec.PostgreSQL != nil {
				down.Spec.PostgreSQL.Port = port
			} else {
				down.Spec.MySQL.Port = port
			}
			createDataSource(t, down)
			waitLong(t, down, func() error {
				if err := wantCondition(down, "Reachable", metav1.ConditionFalse, "Unreachable", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
					return err
				}
				return wantCondition(down, "Ready", metav1.ConditionFalse, "Unreachable", ns+"/down")
			})
			for _, o := range []*chv1.DataSource{ds, down} {
				noSecretAnywhere(t, o, wrong)
				noSecretAnywhere(t, o, db.Server.Password)
			}
		})
	}
}

// TestDataSourceKafka: a Kafka topic (kfake, the real wire protocol) is probed for its
// partitions and end offsets; it has no schema to discover, and a missing topic is
// NotFound.
func TestDataSourceKafka(t *testing.T) {
	ns := "kafka"
	namespace(t, ns)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var recs []*kgo.Record
	for i, p := range []int32{0, 1, 1} {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: fmt.Appendf(nil, `{"payload":{"id":%d}}`, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	topic := func(name, topic string) *chv1.DataSource {
		return &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: chv1.DataSourceSpec{
			Type: chv1.DataSourceKafka, Kafka: &chv1.KafkaSource{BootstrapServers: c.ListenAddrs(), Topic: topic},
			KeyColumns: []string{"payload.id"}, ProbeInterval: &metav1.Duration{Duration: time.Hour}}}
	}
	orders := topic("orders", "orders")
	createDataSource(t, orders)
	waitLong(t, orders, func() error {
		if err := exactCondition(orders, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 2 partitions, end offsets 1, 2"); err != nil {
			return err
		}
		if err := wantCondition(orders, "SchemaDiscovered", metav1.ConditionFalse, "NotSupported", "no schema"); err != nil {
			return err
		}
		if orders.Status.EstimatedRows == nil || *orders.Status.EstimatedRows != 3 {
			return fmt.Errorf("estimatedRows %v, want 3", orders.Status.EstimatedRows)
		}
		return nil
	})
	missing := topic("missing", "payments")
	createDataSource(t, missing)
	waitLong(t, missing, func() error {
		return wantCondition(missing, "Ready", metav1.ConditionFalse, "NotFound", `kafka topic "payments"`)
	})
}

// TestSecretsAreCachedWithoutTheirData: the manager's cache holds Secrets' metadata for
// the DataSource controller's watch, without annotations (kubectl apply copies a
// Secret's data into one) or managed fields.
func TestSecretsAreCachedWithoutTheirData(t *testing.T) {
	ctx := context.Background()
	ns := "secret-cache"
	namespace(t, ns)
	const password = "Cached-n0t-Pa55"
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db", Labels: map[string]string{"team": "payments"},
		Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"stringData":{"password":"` + password + `"}}`}},
		StringData: map[string]string{"password": password}}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	var m metav1.PartialObjectMetadata
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(s), &m)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m.Annotations != nil || m.ManagedFields != nil || m.Labels["team"] != "payments" || m.ResourceVersion == "" {
		t.Errorf("cached metadata %+v, want labels and version without annotations or managed fields", m.ObjectMeta)
	}
}
