package probe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/freeport"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// sqlDataSource is a DataSource for a table or query of db, with its secret named "db".
func sqlDataSource(db *testdb.Database, table, query string, keys ...string) *chv1.DataSource {
	s := &chv1.SQLSource{Host: db.Server.Host, Port: int32(db.Server.Port), Database: db.Name, Table: table, Query: query,
		SecretRef: chv1.CredentialsSecretRef{Name: "db"}, TLSMode: "disable"}
	ds := &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"}, Spec: chv1.DataSourceSpec{KeyColumns: keys}}
	if db.Server.Kind == testdb.Postgres {
		ds.Spec.Type, ds.Spec.PostgreSQL = chv1.DataSourcePostgreSQL, s
	} else {
		ds.Spec.Type, ds.Spec.MySQL = chv1.DataSourceMySQL, s
	}
	return ds
}

func creds(user, password string) connect.Credentials {
	return connect.CredentialsFunc(func(context.Context, chv1.CredentialsSecretRef) (connect.Credential, error) {
		return connect.Credential{Username: user, Password: password}, nil
	})
}

func mustProbe(t *testing.T, ds *chv1.DataSource, c connect.Credentials) probe.Result {
	t.Helper()
	res, err := probe.Run(context.Background(), ds, c)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	return res
}

func wantColumns(t *testing.T, got, want []chv1.DiscoveredColumn) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns:\n got  %+v\n want %+v", got, want)
	}
}

func wantRows(t *testing.T, res probe.Result, n int64) {
	t.Helper()
	if res.EstimatedRows == nil || *res.EstimatedRows != n {
		t.Errorf("estimated rows = %v, want %d", res.EstimatedRows, n)
	}
}

func TestPostgresTable(t *testing.T) {
	db := testdb.NewPostgres(t)
	db.Exec(t,
		`CREATE TABLE entries (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, note text, booked_at timestamptz, day date, ok boolean, doc jsonb)`,
		`INSERT INTO entries (id, amount) SELECT g, g FROM generate_series(1, 1500) g`,
		`ANALYZE entries`)
	res := mustProbe(t, sqlDataSource(db, "entries", "", "id"), creds(db.Server.User, db.Server.Password))
	wantColumns(t, res.Columns, []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint"},
		{Name: "amount", Type: chv1.ColumnDecimal, NativeType: "numeric(12,2)"},
		{Name: "note", Type: chv1.ColumnString, NativeType: "text", Nullable: true},
		{Name: "booked_at", Type: chv1.ColumnTimestamp, NativeType: "timestamp with time zone", Nullable: true},
		{Name: "day", Type: chv1.ColumnDate, NativeType: "date", Nullable: true},
		{Name: "ok", Type: chv1.ColumnBoolean, NativeType: "boolean", Nullable: true},
		{Name: "doc", Type: chv1.ColumnJSON, NativeType: "jsonb", Nullable: true},
	})
	wantRows(t, res, 1500)
}

func TestPostgresQuery(t *testing.T) {
	db := testdb.NewPostgres(t)
	db.Exec(t, `CREATE TABLE entries (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL)`)
	res := mustProbe(t, sqlDataSource(db, "", "SELECT id, amount * 2 AS doubled FROM entries", "id"), creds(db.Server.User, db.Server.Password))
	wantColumns(t, res.Columns, []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint", Nullable: true},
		{Name: "doubled", Type: chv1.ColumnDecimal, NativeType: "numeric", Nullable: true},
	})
	if res.EstimatedRows == nil {
		t.Error("no planner estimate for a query")
	}
}

func TestMariaDBTable(t *testing.T) {
	db := testdb.NewMariaDB(t)
	db.Exec(t,
		"CREATE TABLE entries (id BIGINT PRIMARY KEY, amount DECIMAL(14,4) NOT NULL, note VARCHAR(40), booked_at DATETIME(6), flag TINYINT(1), doc JSON)",
		"INSERT INTO entries (id, amount) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM g WHERE n < 120) SELECT n, n FROM g",
		"ANALYZE TABLE entries")
	res := mustProbe(t, sqlDataSource(db, "entries", "", "id"), creds(db.Server.User, db.Server.Password))
	wantColumns(t, res.Columns, []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "bigint(20)"},
		{Name: "amount", Type: chv1.ColumnDecimal, NativeType: "decimal(14,4)"},
		{Name: "note", Type: chv1.ColumnString, NativeType: "varchar(40)", Nullable: true},
		{Name: "booked_at", Type: chv1.ColumnTimestamp, NativeType: "datetime(6)", Nullable: true},
		{Name: "flag", Type: chv1.ColumnBoolean, NativeType: "tinyint(1)", Nullable: true},
		{Name: "doc", Type: chv1.ColumnJSON, NativeType: "json", Nullable: true},
	})
	wantRows(t, res, 120)
}

// failure probes ds and checks the error's stage and reason ("": any), that it names the
// DataSource and that it does not contain secret.
func failure(t *testing.T, ds *chv1.DataSource, c connect.Credentials, stage probe.Stage, reason, fragment, secret string) {
	t.Helper()
	_, err := probe.Run(context.Background(), ds, c)
	var pe *probe.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want a *probe.Error", err, err)
	}
	if pe.Stage != stage || (reason != "" && pe.Reason != reason) {
		t.Errorf("stage/reason = %s/%s, want %s/%s (%v)", pe.Stage, pe.Reason, stage, reason, err)
	}
	if !strings.Contains(err.Error(), "ns/src") || !strings.Contains(err.Error(), fragment) {
		t.Errorf("error %q should name ns/src and contain %q", err, fragment)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("error contains the password: %q", err)
	}
}

// closedPort is a local TCP port nothing listens on.
func closedPort(t *testing.T) int { return freeport.Port(t) }

func TestFailures(t *testing.T) {
	const wrong = "Wr0ng-Pa55word-xyzzy"
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			var db *testdb.Database
			if kind == testdb.Postgres {
				db = testdb.NewPostgres(t)
			} else {
				db = testdb.NewMariaDB(t)
			}
			db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY)")
			ok := creds(db.Server.User, db.Server.Password)

			failure(t, sqlDataSource(db, "entries", "", "id"), creds(db.Server.User, wrong),
				probe.StageConnect, probe.ReasonAuthenticationFailed, "connecting", wrong)
			// The password as the user name too: the server echoes the user name.
			failure(t, sqlDataSource(db, "entries", "", "id"), creds(wrong, wrong),
				probe.StageConnect, probe.ReasonAuthenticationFailed, "connecting", wrong)
			failure(t, sqlDataSource(db, "missing", "", "id"), ok, probe.StageDataset, probe.ReasonNotFound, "no such table", "")

			down := sqlDataSource(db, "entries", "", "id")
			port := closedPort(t)
			if down.Spec.PostgreSQL != nil {
				down.Spec.PostgreSQL.Port = int32(port)
			} else {
				down.Spec.MySQL.Port = int32(port)
			}
			failure(t, down, ok, probe.StageConnect, probe.ReasonUnreachable, fmt.Sprintf("127.0.0.1:%d", port), db.Server.Password)

			noSecret := connect.FromEnv("CLEARHOUSE_PROBE_TEST_UNSET")
			failure(t, sqlDataSource(db, "entries", "", "id"), noSecret, probe.StageCredentials, probe.ReasonCredentialsUnavailable, "CLEARHOUSE_PROBE_TEST_UNSET_USERNAME", "")
		})
	}
}

func fileDataSource(url string, format chv1.FileFormat) *chv1.DataSource {
	return &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"}, Spec: chv1.DataSourceSpec{
		Type: chv1.DataSourceFile, File: &chv1.FileSource{URL: url, Format: format, SortedByKey: true}, KeyColumns: []string{"id"}}}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	csv := write("ledger.csv", "id;amount;ccy\n1;2.50;EUR\n")
	res := mustProbe(t, &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"}, Spec: chv1.DataSourceSpec{
		Type: chv1.DataSourceFile, File: &chv1.FileSource{URL: csv, CSV: &chv1.CSVOptions{Delimiter: ";"}}, KeyColumns: []string{"id"}}}, nil)
	wantColumns(t, res.Columns, []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnString, NativeType: "csv field", Nullable: true},
		{Name: "amount", Type: chv1.ColumnString, NativeType: "csv field", Nullable: true},
		{Name: "ccy", Type: chv1.ColumnString, NativeType: "csv field", Nullable: true},
	})

	jsonl := write("events.jsonl", `{"id": 1, "payload": {"amount": "2.50"}}`+"\nnot json at all\n")
	res = mustProbe(t, fileDataSource(jsonl, ""), nil)
	wantColumns(t, res.Columns, []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnString, NativeType: "json field", Nullable: true},
		{Name: "payload", Type: chv1.ColumnString, NativeType: "json field", Nullable: true},
	})

	type row struct {
		ID     int64   `parquet:"id"`
		Amount float64 `parquet:"amount"`
		Note   *string `parquet:"note,optional"`
	}
	pq := filepath.Join(dir, "ledger.parquet")
	if err := parquet.WriteFile(pq, []row{{ID: 1, Amount: 2.5}, {ID: 2}, {ID: 3}}); err != nil {
		t.Fatal(err)
	}
	res = mustProbe(t, fileDataSource("file://"+pq, chv1.FileParquet), nil)
	wantColumns(t, res.Columns, []chv1.DiscoveredColumn{
		{Name: "id", Type: chv1.ColumnInteger, NativeType: "int(64,true)"},
		{Name: "amount", Type: chv1.ColumnDecimal, NativeType: "double"},
		{Name: "note", Type: chv1.ColumnString, NativeType: "string", Nullable: true},
	})
	wantRows(t, res, 3)

	failure(t, fileDataSource("file://"+filepath.Join(dir, "gone.csv"), ""), nil, probe.StageDataset, probe.ReasonNotFound, "gone.csv", "")
	failure(t, fileDataSource("s3://bucket/key.csv", ""), nil, probe.StageConnect, probe.ReasonNotSupported, "s3://", "")
}

func kafkaDataSource(brokers []string, topic string, secret bool) *chv1.DataSource {
	k := &chv1.KafkaSource{BootstrapServers: brokers, Topic: topic}
	if secret {
		k.SecretRef = &chv1.CredentialsSecretRef{Name: "kafka"}
	}
	return &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "src"}, Spec: chv1.DataSourceSpec{
		Type: chv1.DataSourceKafka, Kafka: k, KeyColumns: []string{"payload.id"}}}
}

func TestKafka(t *testing.T) {
	const user, pass = "clearhouse", "Kafka-s3cret-Pa55"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", user, pass),
		kfake.SeedTopics(3, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var recs []*kgo.Record
	for i, p := range []int32{0, 0, 2, 2, 2} {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: fmt.Appendf(nil, `{"payload":{"id":%d}}`, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	res := mustProbe(t, kafkaDataSource(c.ListenAddrs(), "orders", true), creds(user, pass))
	if res.Columns != nil || res.Detail != "3 partitions, end offsets 2, 0, 3" {
		t.Errorf("result %+v", res)
	}
	wantRows(t, res, 5)

	failure(t, kafkaDataSource(c.ListenAddrs(), "missing", true), creds(user, pass), probe.StageDataset, probe.ReasonNotFound, `kafka topic "missing"`, "")
	// kfake drops the connection on a failed SASL exchange where Kafka answers
	// SASL_AUTHENTICATION_FAILED (AuthenticationFailed): the reason is not pinned here.
	failure(t, kafkaDataSource(c.ListenAddrs(), "orders", true), creds(user, "Wr0ng-kafka-Pa55"), probe.StageConnect, "", `kafka topic "orders"`, "Wr0ng-kafka-Pa55")
}

func TestHTTPFiles(t *testing.T) {
	const user, pass = "bank", "Http-s3cret-Pa55"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/settlement.csv" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "end_to_end_id,amount\nE1,1.00\n")
	}))
	t.Cleanup(srv.Close)
	ds := func(path string) *chv1.DataSource {
		d := fileDataSource(srv.URL+path, chv1.FileCSV)
		d.Spec.File.SecretRef = &chv1.CredentialsSecretRef{Name: "bank"}
		return d
	}
	res := mustProbe(t, ds("/settlement.csv"), creds(user, pass))
	wantColumns(t, res.Columns, []chv1.DiscoveredColumn{
		{Name: "end_to_end_id", Type: chv1.ColumnString, NativeType: "csv field", Nullable: true},
		{Name: "amount", Type: chv1.ColumnString, NativeType: "csv field", Nullable: true},
	})
	failure(t, ds("/settlement.csv"), creds(user, "Wr0ng-http-Pa55"), probe.StageConnect, probe.ReasonAuthenticationFailed, "401 Unauthorized", "Wr0ng-http-Pa55")
	failure(t, ds("/missing.csv"), creds(user, pass), probe.StageDataset, probe.ReasonNotFound, "404 Not Found", pass)
	srv.Close()
	failure(t, ds("/settlement.csv"), creds(user, pass), probe.StageConnect, probe.ReasonUnreachable, "GET http://127.0.0.1", pass)
}
