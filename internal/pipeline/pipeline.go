// Package pipeline renders the change-data-capture pipeline of a DataSource as Strimzi
// objects: one KafkaConnector running Debezium and the KafkaTopics it writes. The
// functions are pure (no I/O, no clock); the same DataSource always gives the same
// objects, byte for byte once marshalled, so they can be applied with server-side
// apply, committed to a GitOps repository (clearhouse render) and pinned by golden
// files.
//
// What the rendered connector expects of the KafkaConnect cluster it runs on:
//
//   - the Debezium PostgreSQL and/or MySQL connector plugins;
//   - the annotation strimzi.io/use-connector-resources: "true";
//   - Strimzi's Kubernetes configuration provider registered as "secrets"
//     (config.providers.secrets.class: io.strimzi.kafka.KubernetesSecretConfigProvider),
//     and, for MySQL sources, Kafka's environment provider registered as "env"
//     (org.apache.kafka.common.config.provider.EnvVarConfigProvider): the schema
//     history reads the Connect cluster's own bootstrap servers from
//     KAFKA_CONNECT_BOOTSTRAP_SERVERS, which Strimzi sets in every Connect pod;
//   - a Role and RoleBinding letting the Connect service account (<connect>-connect)
//     get the DataSource's Secret. Credentials are never inlined: the connector
//     config holds ${secrets:<namespace>/<secret>:<key>} references.
//
// Deleting a PostgreSQL capture (the DataSource, or its spec.capture) deletes the
// KafkaConnector, but Debezium leaves its replication slot (SlotName) and publication
// (PublicationName) in the database, and an inactive slot keeps the server's WAL from
// being recycled. The DataSource controller drops both (a finalizer,
// clearhouse.dev/capture-cleanup) once the connector is gone; a rendering applied by
// hand (clearhouse render) has no such cleanup.
//
// What the rendered objects do not do (yet):
//
//   - The MySQL schema history client connects to the Connect cluster's bootstrap
//     servers without TLS or SASL settings (schema.history.internal.producer.* and
//     .consumer.*): a Kafka cluster whose listeners require either needs them added.
//
// Values Debezium writes: JSON without embedded schemas (so a Kafka snapshot source
// reads the row from the envelope's "after"), decimals as strings (exact text, not
// base64 bytes).
package pipeline

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
)

// Labels every rendered object carries.
const (
	ManagedByLabel  = "app.kubernetes.io/managed-by"
	ManagedBy       = "clearhouse"
	DataSourceLabel = "clearhouse.dev/datasource"
	// StrimziClusterLabel names the KafkaConnect cluster (on a KafkaConnector) or the
	// Kafka cluster (on a KafkaTopic) that Strimzi manages the object in.
	StrimziClusterLabel = "strimzi.io/cluster"
)

// Kinds rendered. Strimzi 1.x serves kafka.strimzi.io/v1 only.
var (
	KafkaConnectorGVK = schema.GroupVersionKind{Group: "kafka.strimzi.io", Version: "v1", Kind: "KafkaConnector"}
	KafkaTopicGVK     = schema.GroupVersionKind{Group: "kafka.strimzi.io", Version: "v1", Kind: "KafkaTopic"}
)

// Debezium connector classes.
const (
	PostgresConnectorClass = "io.debezium.connector.postgresql.PostgresConnector"
	MySQLConnectorClass    = "io.debezium.connector.mysql.MySqlConnector"
)

const (
	jsonConverter       = "org.apache.kafka.connect.json.JsonConverter"
	defaultPartitions   = 3
	defaultReplicas     = 3
	defaultSnapshotMode = "initial"
	maxTopicName        = 249
	maxPGIdentifier     = 63 // NAMEDATALEN-1
)

// Options complete what a DataSource alone does not say.
type Options struct {
	// KafkaCluster is the Strimzi Kafka cluster the topics live in (the label
	// strimzi.io/cluster of a KafkaTopic); typically the kafkaCluster of the
	// DataSource's BusinessModule. When empty no KafkaTopic is rendered: the
	// connector then has Kafka Connect create its topics, with the same partitions,
	// replicas and retention (topic.creation.default.*).
	KafkaCluster string
}

// OptionsFor completes a DataSource's rendering from its BusinessModule (nil when
// ds names none, or it does not exist): the module's kafkaCluster, when it lives in
// the DataSource's namespace (topics are rendered there; a Topic Operator watching
// another namespace would not see them). note says, when KafkaCluster stays empty
// for a capture, why no KafkaTopic will be rendered.
func OptionsFor(ds *chv1.DataSource, module *chv1.BusinessModule) (opts Options, note string) {
	if ds.Spec.Capture == nil {
		return Options{}, ""
	}
	switch {
	case ds.Spec.Module == "":
		return Options{}, "spec.module is empty, so the Kafka cluster of the topics is unknown"
	case module == nil:
		return Options{}, fmt.Sprintf("BusinessModule %q (spec.module) not found, so the Kafka cluster of the topics is unknown", ds.Spec.Module)
	case module.Spec.KafkaCluster == nil:
		return Options{}, fmt.Sprintf("BusinessModule %q has no spec.kafkaCluster", ds.Spec.Module)
	case module.Spec.KafkaCluster.Namespace != "" && module.Spec.KafkaCluster.Namespace != ds.Namespace:
		return Options{}, fmt.Sprintf("the Kafka cluster of BusinessModule %q is in namespace %q; topics are only rendered in the DataSource's namespace", ds.Spec.Module, module.Spec.KafkaCluster.Namespace)
	}
	return Options{KafkaCluster: module.Spec.KafkaCluster.Name}, ""
}

// ForDataSource renders the capture pipeline of ds without a known Kafka cluster
// (see Options.KafkaCluster): Render(ds, Options{}).
func ForDataSource(ds *chv1.DataSource) ([]*unstructured.Unstructured, error) {
	return Render(ds, Options{})
}

// Render returns the KafkaConnector and then the KafkaTopics (by name) of ds's
// capture, in ds's namespace, labelled managed-by clearhouse and with the DataSource's
// name, without owner references (the caller adds them). It returns nil, nil when
// spec.capture is unset. Errors name the field at fault.
func Render(ds *chv1.DataSource, opts Options) ([]*unstructured.Unstructured, error) {
	capture := ds.Spec.Capture
	if capture == nil {
		return nil, nil
	}
	id := ds.Namespace + "/" + ds.Name
	if ds.Namespace == "" {
		return nil, fmt.Errorf("datasource %s: metadata.namespace is empty", ds.Name)
	}
	if capture.KafkaConnect == "" {
		return nil, fmt.Errorf("datasource %s: spec.capture.kafkaConnect is empty", id)
	}
	if errs := validation.IsDNS1123Subdomain(capture.KafkaConnect); len(errs) > 0 {
		return nil, fmt.Errorf("datasource %s: spec.capture.kafkaConnect %q is not a valid name: %s", id, capture.KafkaConnect, strings.Join(errs, "; "))
	}
	if opts.KafkaCluster != "" {
		if errs := validation.IsValidLabelValue(opts.KafkaCluster); len(errs) > 0 {
			return nil, fmt.Errorf("datasource %s: Kafka cluster %q is not a valid label value: %s", id, opts.KafkaCluster, strings.Join(errs, "; "))
		}
	}
	p, err := plan(ds)
	if err != nil {
		return nil, fmt.Errorf("datasource %s: %w", id, err)
	}
	labels := map[string]any{}
	for k, v := range Selector(ds) {
		labels[k] = v
	}
	out := []*unstructured.Unstructured{p.connector(ds, labels)}
	if opts.KafkaCluster != "" {
		topics := p.topics(ds, labels, opts.KafkaCluster)
		slices.SortFunc(topics, func(a, b *unstructured.Unstructured) int { return strings.Compare(a.GetName(), b.GetName()) })
		out = append(out, topics...)
	}
	return out, nil
}

// Selector is the labels every object rendered for ds carries, to list or delete them.
// A name longer than a label value allows is cut and given a hash suffix.
func Selector(ds *chv1.DataSource) map[string]string {
	return map[string]string{ManagedByLabel: ManagedBy, DataSourceLabel: labelValue(ds.Name)}
}

// ConnectorName is the name of the KafkaConnector (and of the connector in Kafka
// Connect) of a DataSource.
func ConnectorName(ds *chv1.DataSource) string {
	return boundedName(ds.Name, "-cdc", validation.DNS1123SubdomainMaxLength)
}

// SlotName is the logical replication slot (slot.name) the PostgreSQL connector of ds
// creates. It depends on the namespace and name only, so it is known after capture is
// removed from the spec, when the slot is to be dropped.
func SlotName(ds *chv1.DataSource) string {
	return pgIdentifier("clearhouse", ds.Namespace, ds.Name)
}

// PublicationName is the publication (publication.name) the PostgreSQL connector of
// ds creates; like SlotName, it depends on the namespace and name only.
func PublicationName(ds *chv1.DataSource) string {
	return pgIdentifier("clearhouse_pub", ds.Namespace, ds.Name)
}

// Topics returns the names of the Kafka topics the capture of ds writes: the change
// topic <prefix>.<schema>.<table>, and for MySQL the schema history topic
// <prefix>.schema-history, sorted. It is nil when capture is unset.
func Topics(ds *chv1.DataSource) ([]string, error) {
	if ds.Spec.Capture == nil {
		return nil, nil
	}
	p, err := plan(ds)
	if err != nil {
		return nil, fmt.Errorf("datasource %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return p.topicNames(), nil
}

// pipeline is what the objects are made of, checked.
type pipeline struct {
	mysql        bool
	sql          *chv1.SQLSource
	schema       string // PostgreSQL schema or MySQL database of the table
	table        string
	prefix       string
	partitions   int64
	replicas     int64
	retentionMS  int64 // 0: cluster default
	snapshotMode string
}

func plan(ds *chv1.DataSource) (*pipeline, error) {
	c := ds.Spec.Capture
	p := &pipeline{}
	field := "spec.postgresql"
	switch ds.Spec.Type {
	case chv1.DataSourcePostgreSQL:
		p.sql = ds.Spec.PostgreSQL
	case chv1.DataSourceMySQL:
		p.sql, p.mysql, field = ds.Spec.MySQL, true, "spec.mysql"
	default:
		return nil, fmt.Errorf("spec.capture: capture needs a PostgreSQL or MySQL source, type is %q", ds.Spec.Type)
	}
	if p.sql == nil {
		return nil, fmt.Errorf("%s: not set for type %s", field, ds.Spec.Type)
	}
	if p.sql.Table == "" {
		return nil, fmt.Errorf("spec.capture: a query-based source cannot be captured; %s.table must name the table (CDC streams a table's changes)", field)
	}
	schemaName, table, qualified := strings.Cut(p.sql.Table, ".")
	if !qualified {
		schemaName, table = "public", p.sql.Table
		if p.mysql {
			schemaName = p.sql.Database
		}
	}
	p.schema, p.table = schemaName, table
	if p.mysql && qualified && schemaName != p.sql.Database {
		// The binlog names tables by database; a table of another database is a
		// different source than the one connected to.
		return nil, fmt.Errorf("%s.table %q is in database %q but %s.database is %q", field, p.sql.Table, schemaName, field, p.sql.Database)
	}
	if p.sql.SecretRef.Name == "" {
		return nil, fmt.Errorf("%s.secretRef.name is empty", field)
	}

	p.prefix = c.TopicPrefix
	if p.prefix == "" {
		p.prefix = ds.Namespace + "." + ds.Name
	}
	if !topicChars.MatchString(p.prefix) {
		return nil, fmt.Errorf("spec.capture.topicPrefix %q: only letters, digits, '.', '_' and '-' are allowed", p.prefix)
	}
	for _, t := range p.topicNames() {
		if len(t) > maxTopicName {
			return nil, fmt.Errorf("spec.capture.topicPrefix: topic %q is %d characters, Kafka allows %d; set a shorter topicPrefix", t, len(t), maxTopicName)
		}
		if !topicChars.MatchString(t) {
			return nil, fmt.Errorf("%s.table %q: topic %q may only hold letters, digits, '.', '_' and '-'", field, p.sql.Table, t)
		}
	}

	p.partitions, p.replicas = int64(c.Topic.Partitions), int64(c.Topic.Replicas)
	if p.partitions == 0 {
		p.partitions = defaultPartitions
	}
	if p.replicas == 0 {
		p.replicas = defaultReplicas
	}
	if p.partitions < 1 {
		return nil, fmt.Errorf("spec.capture.topic.partitions is %d, must be at least 1", p.partitions)
	}
	if p.replicas < 1 {
		return nil, fmt.Errorf("spec.capture.topic.replicas is %d, must be at least 1", p.replicas)
	}
	if r := c.Topic.Retention; r != nil {
		if r.Duration <= 0 || r.Milliseconds() == 0 {
			return nil, fmt.Errorf("spec.capture.topic.retention %s must be at least 1ms", r.Duration)
		}
		p.retentionMS = r.Milliseconds()
	}
	p.snapshotMode = c.SnapshotMode
	if p.snapshotMode == "" {
		p.snapshotMode = defaultSnapshotMode
	}
	switch p.snapshotMode {
	case "initial", "no_data", "when_needed":
	default:
		return nil, fmt.Errorf("spec.capture.snapshotMode %q: must be initial, no_data or when_needed", p.snapshotMode)
	}
	return p, nil
}

var topicChars = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

func (p *pipeline) changeTopic() string { return p.prefix + "." + p.schema + "." + p.table }

func (p *pipeline) historyTopic() string { return p.prefix + ".schema-history" }

func (p *pipeline) topicNames() []string {
	names := []string{p.changeTopic()}
	if p.mysql {
		names = append(names, p.historyTopic())
		slices.Sort(names)
	}
	return names
}

func (p *pipeline) port() int32 {
	switch {
	case p.sql.Port != 0:
		return p.sql.Port
	case p.mysql:
		return 3306
	}
	return 5432
}

// messageKeyColumns is Debezium's message.key.columns for the table keyed by keys
// (anchored regular expressions: "schema\.table:id,region"), or "" when a name holds
// one of its separators.
func messageKeyColumns(schema, table string, keys []string) string {
	if len(keys) == 0 || strings.ContainsAny(schema+table+strings.Join(keys, ""), ",;:") {
		return ""
	}
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = regexp.QuoteMeta(k)
	}
	return regexp.QuoteMeta(schema) + `\.` + regexp.QuoteMeta(table) + ":" + strings.Join(quoted, ",")
}

// secretRef is Strimzi's KubernetesSecretConfigProvider reference to a Secret key.
func secretRef(namespace, secret, key string) string {
	return "${secrets:" + namespace + "/" + secret + ":" + key + "}"
}

func (p *pipeline) connector(ds *chv1.DataSource, labels map[string]any) *unstructured.Unstructured {
	userKey, passKey := connect.Keys(p.sql.SecretRef)
	cfg := map[string]any{
		"database.hostname":            p.sql.Host,
		"database.port":                strconv.Itoa(int(p.port())),
		"database.user":                secretRef(ds.Namespace, p.sql.SecretRef.Name, userKey),
		"database.password":            secretRef(ds.Namespace, p.sql.SecretRef.Name, passKey),
		"topic.prefix":                 p.prefix,
		"table.include.list":           regexp.QuoteMeta(p.schema) + `\.` + regexp.QuoteMeta(p.table),
		"snapshot.mode":                p.snapshotMode,
		"decimal.handling.mode":        "string",
		"key.converter":                jsonConverter,
		"key.converter.schemas.enable": "false",
		"value.converter":              jsonConverter,
		// Without embedded schemas a value is the bare envelope {before, after, op, ...}.
		"value.converter.schemas.enable":            "false",
		"topic.creation.default.partitions":         strconv.FormatInt(p.partitions, 10),
		"topic.creation.default.replication.factor": strconv.FormatInt(p.replicas, 10),
	}
	if keys := messageKeyColumns(p.schema, p.table, ds.Spec.KeyColumns); keys != "" {
		// Events keyed by the reconciliation key, whatever the table's primary key (or
		// without one: a compacted topic refuses a record without a key), so that
		// compaction and LatestPerKey keep the latest event per key.
		cfg["message.key.columns"] = keys
	}
	if p.retentionMS > 0 {
		cfg["topic.creation.default.retention.ms"] = strconv.FormatInt(p.retentionMS, 10)
	} else {
		// Kept as the table it describes (see topics).
		cfg["topic.creation.default.cleanup.policy"] = "compact"
	}
	class := PostgresConnectorClass
	if p.mysql {
		class = MySQLConnectorClass
		cfg["database.server.id"] = strconv.FormatUint(uint64(serverID(ds.Namespace, ds.Name)), 10)
		cfg["database.include.list"] = regexp.QuoteMeta(p.schema)
		cfg["database.ssl.mode"] = mysqlSSLMode(p.sql.TLSMode)
		cfg["include.schema.changes"] = "false"
		cfg["schema.history.internal.kafka.topic"] = p.historyTopic()
		cfg["schema.history.internal.kafka.bootstrap.servers"] = "${env:KAFKA_CONNECT_BOOTSTRAP_SERVERS}"
		cfg["schema.history.internal.store.only.captured.tables.ddl"] = "true"
	} else {
		cfg["database.dbname"] = p.sql.Database
		cfg["database.sslmode"] = pgSSLMode(p.sql.TLSMode)
		cfg["plugin.name"] = "pgoutput"
		cfg["slot.name"] = SlotName(ds)
		cfg["publication.name"] = PublicationName(ds)
		// filtered: the connector creates a publication for the captured table only,
		// which needs no superuser (all_tables does).
		cfg["publication.autocreate.mode"] = "filtered"
	}
	labels = cloneLabels(labels)
	labels[StrimziClusterLabel] = ds.Spec.Capture.KafkaConnect
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{
			"name":      ConnectorName(ds),
			"namespace": ds.Namespace,
			"labels":    labels,
		},
		"spec": map[string]any{
			"class":    class,
			"tasksMax": int64(1), // Debezium PostgreSQL and MySQL connectors run one task
			"config":   cfg,
		},
	}}
	u.SetGroupVersionKind(KafkaConnectorGVK)
	return u
}

func (p *pipeline) topics(ds *chv1.DataSource, labels map[string]any, cluster string) []*unstructured.Unstructured {
	labels = cloneLabels(labels)
	labels[StrimziClusterLabel] = cluster
	var out []*unstructured.Unstructured
	for _, name := range p.topicNames() {
		spec := map[string]any{"partitions": p.partitions, "replicas": p.replicas}
		config := map[string]any{}
		if name == p.historyTopic() {
			// Debezium's schema history must be one partition, kept forever.
			spec["partitions"] = int64(1)
			config["retention.ms"] = int64(-1)
			config["retention.bytes"] = int64(-1)
			config["cleanup.policy"] = "delete"
		} else if p.retentionMS > 0 {
			config["retention.ms"] = p.retentionMS
		} else {
			// Compacted: the latest event of every key stays, so that the topic can be
			// read as the table (kafkasource's LatestPerKey). Under the cluster's default
			// retention the snapshot's events would go after a week, and every row not
			// changed since would read as missing.
			config["cleanup.policy"] = "compact"
		}
		if len(config) > 0 {
			spec["config"] = config
		}
		resName := topicResourceName(name)
		if resName != name {
			spec["topicName"] = name
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"metadata": map[string]any{
				"name":      resName,
				"namespace": ds.Namespace,
				"labels":    cloneLabels(labels),
			},
			"spec": spec,
		}}
		u.SetGroupVersionKind(KafkaTopicGVK)
		out = append(out, u)
	}
	return out
}

func cloneLabels(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func pgSSLMode(mode string) string {
	if mode == "" {
		return "require"
	}
	return mode // disable, require, verify-ca, verify-full: the same words
}

func mysqlSSLMode(mode string) string {
	switch mode {
	case "disable":
		return "disabled"
	case "verify-ca":
		return "verify_ca"
	case "verify-full":
		return "verify_identity"
	}
	return "required"
}

// hash32 is a stable hash of a namespace/name, for suffixes and ids.
func hash32(parts ...string) uint32 {
	h := fnv.New32a()
	for i, s := range parts {
		if i > 0 {
			_, _ = h.Write([]byte{0})
		}
		_, _ = h.Write([]byte(s))
	}
	return h.Sum32()
}

// serverID is the MySQL replica id of a DataSource's connector: stable, and spread
// over [100000, 2^32-1] so it stays clear of the small ids servers are usually given.
func serverID(namespace, name string) uint32 {
	const low = 100000
	return low + hash32(namespace, name)%(1<<32-1-low)
}

// pgIdentifier makes a replication slot or publication name: lower-case letters,
// digits and '_' (slots allow nothing else), at most 63 bytes, unique per
// namespace/name through a hash suffix (the readable part may be truncated or
// collapse different names).
func pgIdentifier(prefix, namespace, name string) string {
	suffix := fmt.Sprintf("_%08x", hash32(namespace, name))
	var b strings.Builder
	for _, r := range strings.ToLower(namespace + "_" + name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	body := b.String()
	if room := maxPGIdentifier - len(prefix) - 1 - len(suffix); len(body) > room {
		body = body[:room]
	}
	return prefix + "_" + body + suffix
}

// topicResourceName is a valid Kubernetes name for a topic: the topic itself when it
// is one, else a lower-cased, '_'-free form with a hash of the real name (the real
// name then goes in spec.topicName).
func topicResourceName(topic string) string {
	if len(validation.IsDNS1123Subdomain(topic)) == 0 {
		return topic
	}
	var b strings.Builder
	for _, r := range strings.ToLower(topic) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	body := strings.Trim(b.String(), ".-")
	if body == "" {
		body = "topic"
	}
	return boundedName(body, fmt.Sprintf("-%08x", hash32(topic)), validation.DNS1123SubdomainMaxLength)
}

// boundedName is base+suffix, base truncated so that the whole fits max.
func boundedName(base, suffix string, max int) string {
	if room := max - len(suffix); len(base) > room {
		base = strings.TrimRight(base[:room], ".-")
	}
	return base + suffix
}

// labelValue is name when it is a valid label value (63 characters at most), else a
// truncated form with a hash suffix. Names over 63 characters are rare.
func labelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	s := boundedName(name, fmt.Sprintf("-%08x", hash32(name)), validation.LabelValueMaxLength)
	return strings.TrimLeft(s, ".-_")
}

// YAML marshals objects as one YAML stream, each document led by "---". Keys are
// sorted, so the same objects always give the same bytes.
func YAML(objs []*unstructured.Unstructured) ([]byte, error) {
	var out []byte
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("marshal %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		out = append(out, "---\n"...)
		out = append(out, b...)
	}
	return out, nil
}
