package pipeline_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/golden"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
)

// readDataSource reads testdata/<name>.yaml.
func readDataSource(t *testing.T, name string) *chv1.DataSource {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds chv1.DataSource
	if err := yaml.UnmarshalStrict(b, &ds); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &ds
}

// goldenCases are the rendered DataSources, each with and without a Kafka cluster.
var goldenCases = []struct {
	file    string
	cluster string
}{
	{"postgres-defaults", ""},
	{"postgres-defaults", "events"},
	{"postgres-full", "events"},
	{"mysql", ""},
	{"mysql", "events"},
	{"long-name", "events"},
}

func goldenName(file, cluster string) string {
	if cluster == "" {
		return file + ".golden"
	}
	return file + ".cluster-" + cluster + ".golden"
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		name := goldenName(c.file, c.cluster)
		t.Run(name, func(t *testing.T) {
			ds := readDataSource(t, c.file)
			objs, err := pipeline.Render(ds, pipeline.Options{KafkaCluster: c.cluster})
			if err != nil {
				t.Fatal(err)
			}
			got, err := pipeline.YAML(objs)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "./internal/pipeline", name, got)
			again, _ := pipeline.Render(ds.DeepCopy(), pipeline.Options{KafkaCluster: c.cluster})
			if b, _ := pipeline.YAML(again); !bytes.Equal(b, got) {
				t.Error("two renderings of the same DataSource differ")
			}
		})
	}
}

// TestInvariants checks what every rendering must hold, whatever the golden files say.
func TestInvariants(t *testing.T) {
	slot := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	for _, c := range goldenCases {
		ds := readDataSource(t, c.file)
		objs, err := pipeline.Render(ds, pipeline.Options{KafkaCluster: c.cluster})
		if err != nil {
			t.Fatal(err)
		}
		wantTopics, err := pipeline.Topics(ds)
		if err != nil {
			t.Fatal(err)
		}
		var topics []string
		for i, o := range objs {
			if o.GetNamespace() != ds.Namespace {
				t.Errorf("%s: %s in namespace %q", c.file, o.GetName(), o.GetNamespace())
			}
			if len(o.GetOwnerReferences()) != 0 {
				t.Errorf("%s: %s has owner references", c.file, o.GetName())
			}
			l := o.GetLabels()
			if l[pipeline.ManagedByLabel] != "clearhouse" || l[pipeline.DataSourceLabel] == "" {
				t.Errorf("%s: %s labels %v", c.file, o.GetName(), l)
			}
			if i == 0 {
				if o.GetKind() != "KafkaConnector" || o.GetAPIVersion() != "kafka.strimzi.io/v1" || o.GetName() != pipeline.ConnectorName(ds) {
					t.Fatalf("%s: first object %s %s", c.file, o.GetAPIVersion(), o.GetKind())
				}
				if l[pipeline.StrimziClusterLabel] != ds.Spec.Capture.KafkaConnect {
					t.Errorf("%s: connector cluster label %q", c.file, l[pipeline.StrimziClusterLabel])
				}
				cfg := o.Object["spec"].(map[string]any)["config"].(map[string]any)
				for _, k := range []string{"database.user", "database.password"} {
					if v, _ := cfg[k].(string); !strings.HasPrefix(v, "${secrets:"+ds.Namespace+"/") {
						t.Errorf("%s: %s is %q, want a secrets provider reference", c.file, k, v)
					}
				}
				for _, k := range []string{"slot.name", "publication.name"} {
					if v, ok := cfg[k].(string); ok && !slot.MatchString(v) {
						t.Errorf("%s: %s %q is not a valid replication identifier", c.file, k, v)
					}
				}
				continue
			}
			if o.GetKind() != "KafkaTopic" || l[pipeline.StrimziClusterLabel] != c.cluster {
				t.Errorf("%s: object %d is %s with cluster %q", c.file, i, o.GetKind(), l[pipeline.StrimziClusterLabel])
			}
			topic := o.GetName()
			if n, ok := o.Object["spec"].(map[string]any)["topicName"].(string); ok {
				topic = n
			}
			topics = append(topics, topic)
		}
		if c.cluster == "" && len(objs) != 1 {
			t.Errorf("%s: %d objects without a Kafka cluster, want the connector only", c.file, len(objs))
		}
		if c.cluster != "" && strings.Join(topics, ",") != strings.Join(wantTopics, ",") {
			t.Errorf("%s: topics %q, want %q", c.file, topics, wantTopics)
		}
	}
}

// TestNames pins the identifiers derived from namespace/name: different DataSources
// get different slots, publications, server ids and topic resource names.
func TestNames(t *testing.T) {
	seen := map[string]string{}
	for _, ns := range []string{"a", "b", "payments"} {
		for _, name := range []string{"x", "ledger", "Ledger-2"} {
			ds := readDataSource(t, "mysql")
			ds.Namespace, ds.Name = ns, strings.ToLower(name)
			pg := readDataSource(t, "postgres-defaults")
			pg.Namespace, pg.Name = ns, strings.ToLower(name)
			for _, d := range []*chv1.DataSource{ds, pg} {
				objs, err := pipeline.Render(d, pipeline.Options{})
				if err != nil {
					t.Fatal(err)
				}
				cfg := objs[0].Object["spec"].(map[string]any)["config"].(map[string]any)
				for _, k := range []string{"slot.name", "publication.name", "database.server.id"} {
					v, ok := cfg[k].(string)
					if !ok {
						continue
					}
					if prev, dup := seen[k+"="+v]; dup && prev != ns+"/"+d.Name {
						t.Errorf("%s %q for both %s and %s/%s", k, v, prev, ns, d.Name)
					}
					seen[k+"="+v] = ns + "/" + d.Name
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name   string
		modify func(ds *chv1.DataSource)
		want   string
	}{
		{"query", func(ds *chv1.DataSource) {
			ds.Spec.PostgreSQL.Table, ds.Spec.PostgreSQL.Query = "", "select 1"
		}, "datasource payments/payments-ledger: spec.capture: a query-based source cannot be captured; spec.postgresql.table must name the table"},
		{"kafka source", func(ds *chv1.DataSource) {
			ds.Spec.Type, ds.Spec.PostgreSQL = chv1.DataSourceKafka, nil
			ds.Spec.Kafka = &chv1.KafkaSource{BootstrapServers: []string{"k:9092"}, Topic: "t"}
		}, `spec.capture: capture needs a PostgreSQL or MySQL source, type is "Kafka"`},
		{"no connect", func(ds *chv1.DataSource) { ds.Spec.Capture.KafkaConnect = "" }, "spec.capture.kafkaConnect is empty"},
		{"bad connect", func(ds *chv1.DataSource) { ds.Spec.Capture.KafkaConnect = "Not_A_Name" }, `spec.capture.kafkaConnect "Not_A_Name" is not a valid name`},
		{"no namespace", func(ds *chv1.DataSource) { ds.Namespace = "" }, "datasource payments-ledger: metadata.namespace is empty"},
		{"long prefix", func(ds *chv1.DataSource) { ds.Spec.Capture.TopicPrefix = strings.Repeat("p", 240) }, "spec.capture.topicPrefix: topic \"ppp"},
		{"bad prefix", func(ds *chv1.DataSource) { ds.Spec.Capture.TopicPrefix = "a/b" }, `spec.capture.topicPrefix "a/b": only letters`},
		{"snapshot", func(ds *chv1.DataSource) { ds.Spec.Capture.SnapshotMode = "always" }, `spec.capture.snapshotMode "always"`},
		{"retention", func(ds *chv1.DataSource) {
			ds.Spec.Capture.Topic.Retention = &metav1.Duration{Duration: time.Microsecond}
		}, "spec.capture.topic.retention 1µs must be at least 1ms"},
		{"no secret", func(ds *chv1.DataSource) { ds.Spec.PostgreSQL.SecretRef.Name = "" }, "spec.postgresql.secretRef.name is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := readDataSource(t, "postgres-defaults")
			c.modify(ds)
			objs, err := pipeline.ForDataSource(ds)
			if err == nil {
				t.Fatalf("no error; rendered %d objects", len(objs))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\n does not contain %q", err, c.want)
			}
		})
	}
	t.Run("mysql other database", func(t *testing.T) {
		ds := readDataSource(t, "mysql")
		ds.Spec.MySQL.Table = "other.orders"
		_, err := pipeline.ForDataSource(ds)
		if want := `spec.mysql.table "other.orders" is in database "other" but spec.mysql.database is "shop"`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("no capture", func(t *testing.T) {
		ds := readDataSource(t, "postgres-defaults")
		ds.Spec.Capture = nil
		objs, err := pipeline.ForDataSource(ds)
		if objs != nil || err != nil {
			t.Errorf("got %v, %v; want nil, nil", objs, err)
		}
	})
}
