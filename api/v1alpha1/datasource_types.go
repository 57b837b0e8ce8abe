package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DataSourceType is the kind of system of record a DataSource reads.
// +kubebuilder:validation:Enum=PostgreSQL;MySQL;Kafka;File
type DataSourceType string

// Data source types.
const (
	DataSourcePostgreSQL DataSourceType = "PostgreSQL"
	DataSourceMySQL      DataSourceType = "MySQL"
	DataSourceKafka      DataSourceType = "Kafka"
	DataSourceFile       DataSourceType = "File"
)

// DataSourceSpec declares one dataset in a system of record.
// +kubebuilder:validation:XValidation:rule="[has(self.postgresql), has(self.mysql), has(self.kafka), has(self.file)].filter(x, x).size() == 1",message="exactly one of postgresql, mysql, kafka or file must be set"
// +kubebuilder:validation:XValidation:rule="self.type == 'PostgreSQL' ? has(self.postgresql) : self.type == 'MySQL' ? has(self.mysql) : self.type == 'Kafka' ? has(self.kafka) : has(self.file)",messageExpression="'type is ' + self.type + ' but the matching block spec.' + (self.type == 'PostgreSQL' ? 'postgresql' : self.type == 'MySQL' ? 'mysql' : self.type == 'Kafka' ? 'kafka' : 'file') + ' is not set'"
// +kubebuilder:validation:XValidation:rule="!has(self.capture) || self.type == 'PostgreSQL' || self.type == 'MySQL'",message="capture is only supported for PostgreSQL and MySQL sources",fieldPath=".capture"
// +kubebuilder:validation:XValidation:rule="!has(self.capture) || !(self.type in ['PostgreSQL', 'MySQL']) || (has(self.postgresql) && has(self.postgresql.table)) || (has(self.mysql) && has(self.mysql.table))",message="capture needs a table, not a query",fieldPath=".capture"
// +kubebuilder:validation:XValidation:rule="!has(self.columns) || self.columns.all(c, c.type != 'Timestamp' || !has(c.precision) || c.precision in ['s', 'ms', 'us', 'ns'])",message="column precision is one of s, ms, us, ns"
type DataSourceSpec struct {
	// Type of the system of record; the block of the same name must be set.
	Type DataSourceType `json:"type"`

	// PostgreSQL table or query.
	// +optional
	PostgreSQL *SQLSource `json:"postgresql,omitempty"`
	// MySQL or MariaDB table or query.
	// +optional
	MySQL *SQLSource `json:"mysql,omitempty"`
	// Kafka topic, read as a snapshot of JSON values.
	// +optional
	Kafka *KafkaSource `json:"kafka,omitempty"`
	// File in CSV, JSON Lines or Parquet, from a local path or http(s).
	// +optional
	File *FileSource `json:"file,omitempty"`

	// KeyColumns identify a row; several columns make a composite key (a tuple, never a
	// concatenation). For Kafka, a column is a JSON field path such as payload.id.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	KeyColumns []string `json:"keyColumns"`

	// Columns declares the type and sensitivity of columns. Columns not declared are
	// discovered from the source and compared as text.
	// +kubebuilder:validation:MaxItems=512
	// +listType=map
	// +listMapKey=name
	// +optional
	Columns []ColumnSpec `json:"columns,omitempty"`

	// TimeZone (IANA name) in which timestamps without a zone are read.
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// Module is the BusinessModule this source belongs to.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Module string `json:"module,omitempty"`

	// Capture streams the table's changes into Kafka with Debezium on a Strimzi
	// KafkaConnect cluster.
	// +optional
	Capture *CaptureSpec `json:"capture,omitempty"`

	// ProbeInterval is how often reachability and schema are checked.
	// +kubebuilder:default="5m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="probeInterval must be at least 10s"
	// +optional
	ProbeInterval *metav1.Duration `json:"probeInterval,omitempty"`
}

// SQLSource is a table or a query in PostgreSQL or MySQL.
// +kubebuilder:validation:XValidation:rule="has(self.table) != has(self.query)",message="exactly one of table or query must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.caSecretRef) || (has(self.tlsMode) && self.tlsMode in ['verify-ca', 'verify-full'])",message="caSecretRef needs tlsMode verify-ca or verify-full",fieldPath=".caSecretRef"
type SQLSource struct {
	// Host name or address of the server.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`
	// Port of the server; defaults to 5432 for PostgreSQL and 3306 for MySQL.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
	// Database name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Database string `json:"database"`
	// Table, optionally schema-qualified (ledger.entries).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`
	// +optional
	Table string `json:"table,omitempty"`
	// Query whose result set is the dataset (read only; no trailing semicolon).
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:XValidation:rule="!self.trim().endsWith(';')",message="query must not end with a semicolon"
	// +optional
	Query string `json:"query,omitempty"`
	// SecretRef holds the user name and password.
	SecretRef CredentialsSecretRef `json:"secretRef"`
	// TLSMode: disable, require, verify-ca or verify-full.
	// +kubebuilder:validation:Enum=disable;require;verify-ca;verify-full
	// +kubebuilder:default=require
	// +optional
	TLSMode string `json:"tlsMode,omitempty"`
	// CASecretRef names the Secret key holding the PEM certificates of the CA that
	// signed the server's certificate, for verify-ca and verify-full against a private
	// CA (default: the system's CAs). A capture's Debezium connector does not use it:
	// the Kafka Connect cluster must trust the CA itself.
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`
	// ConnectTimeout bounds connecting and each probe query.
	// +kubebuilder:default="10s"
	// +optional
	ConnectTimeout *metav1.Duration `json:"connectTimeout,omitempty"`
}

// KafkaSource is a topic of JSON values.
// +kubebuilder:validation:XValidation:rule="!has(self.caSecretRef) || (has(self.tls) && self.tls)",message="caSecretRef needs tls: true",fieldPath=".caSecretRef"
type KafkaSource struct {
	// BootstrapServers as host:port.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=3
	// +kubebuilder:validation:items:MaxLength=253
	BootstrapServers []string `json:"bootstrapServers"`
	// Topic to read.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=249
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]+$`
	Topic string `json:"topic"`
	// SecretRef holds SASL credentials, when the cluster asks for them.
	// +optional
	SecretRef *CredentialsSecretRef `json:"secretRef,omitempty"`
	// TLS connects with TLS, trusting the system's CA certificates or caSecretRef's.
	// +optional
	TLS bool `json:"tls,omitempty"`
	// CASecretRef names the Secret key holding the PEM certificates of the CA that
	// signed the brokers' certificates, for a cluster with a private CA (a Strimzi
	// cluster's is the Secret <cluster>-cluster-ca-cert, key ca.crt). The Secret is
	// read in the DataSource's namespace: a cluster in another namespace needs a copy
	// there, kept up to date when the CA is renewed. Needs tls.
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`
	// SASLMechanism used with the secretRef's credentials: SCRAM-SHA-512 (Strimzi's
	// scram-sha-512 listeners, the default), SCRAM-SHA-256 or PLAIN.
	// +kubebuilder:validation:Enum=SCRAM-SHA-512;SCRAM-SHA-256;PLAIN
	// +optional
	SASLMechanism string `json:"saslMechanism,omitempty"`
	// ValuePath is the field path of the row inside each message value: "after" for
	// Debezium change events (a null there is a delete); empty when the value is the
	// row.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`
	// +optional
	ValuePath string `json:"valuePath,omitempty"`
	// Read says how messages become rows. Snapshot: every message up to the end
	// offsets at the start of a run is a row. LatestPerKey: the topic is read as the
	// table it describes, as log compaction would leave it — per partition and key the
	// last row wins, and a tombstone or a delete removes the key (a CDC topic).
	// +kubebuilder:default=Snapshot
	// +optional
	Read KafkaRead `json:"read,omitempty"`
}

// KafkaRead is how a topic's messages become rows.
// +kubebuilder:validation:Enum=Snapshot;LatestPerKey
type KafkaRead string

// Kafka read modes.
const (
	KafkaSnapshot     KafkaRead = "Snapshot"
	KafkaLatestPerKey KafkaRead = "LatestPerKey"
)

// FileFormat is the encoding of a file source.
// +kubebuilder:validation:Enum=CSV;JSONLines;Parquet
type FileFormat string

// File formats.
const (
	FileCSV       FileFormat = "CSV"
	FileJSONLines FileFormat = "JSONLines"
	FileParquet   FileFormat = "Parquet"
)

// FileSource is a file read from a local path or http(s).
// The credentials rule sits on the object, not on url, so that the API server's error
// does not echo the URL, and with it the password, back into responses and audit logs.
// Any user info is refused, a token given as the user name too (https://TOKEN@host/…).
// +kubebuilder:validation:XValidation:rule="!self.url.matches('^[a-z0-9]+://[^/?#]*@')",message="url must not carry credentials; use secretRef",fieldPath=".url"
// +kubebuilder:validation:XValidation:rule="!has(self.csv) || !has(self.format) || self.format == 'CSV'",message="csv options are only valid with format CSV"
type FileSource struct {
	// URL of the file: file:///abs/path or https://host/path (s3://bucket/key is
	// accepted but not read yet: the DataSource is not Reachable, saying so).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('file:///') || self.startsWith('https://') || self.startsWith('http://') || self.startsWith('s3://')",message="url must start with file:///, http://, https:// or s3://"
	URL string `json:"url"`
	// Format; inferred from the extension (.csv, .jsonl, .parquet) when empty.
	// +optional
	Format FileFormat `json:"format,omitempty"`
	// CSV options.
	// +optional
	CSV *CSVOptions `json:"csv,omitempty"`
	// SortedByKey promises the file is sorted by the key columns (byte order; keys typed
	// integer or decimal by value), so a streaming merge can be used. The engine verifies
	// it while reading.
	// +optional
	SortedByKey bool `json:"sortedByKey,omitempty"`
	// SecretRef holds credentials for http(s) basic auth.
	// +optional
	SecretRef *CredentialsSecretRef `json:"secretRef,omitempty"`
}

// CSVOptions describe a CSV dialect.
// +kubebuilder:validation:XValidation:rule="!has(self.quote) || self.quote != (has(self.delimiter) ? self.delimiter : ',')",message="quote and delimiter must differ"
// +kubebuilder:validation:XValidation:rule="[has(self.delimiter) ? self.delimiter : ',', has(self.quote) ? self.quote : '\"'].all(c, c.matches('^[\\x20-\\x7e\\t]$'))",message="delimiter and quote are each one printable ASCII character or a tab"
type CSVOptions struct {
	// Delimiter between fields.
	// +kubebuilder:default=","
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1
	// +optional
	Delimiter string `json:"delimiter,omitempty"`
	// Quote encloses a field that holds the delimiter, a quote (doubled) or a line
	// break. Default '"'.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1
	// +optional
	Quote string `json:"quote,omitempty"`
	// NullValue is the text that stands for NULL; an unquoted empty field is NULL when
	// this is empty, and a quoted empty field is always the empty string.
	// +kubebuilder:validation:MaxLength=16
	// +optional
	NullValue string `json:"nullValue,omitempty"`
}

// ColumnSpec declares a column.
type ColumnSpec struct {
	// Name of the column (or JSON field path for Kafka and JSON Lines).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Type the values are parsed as.
	// +kubebuilder:default=String
	// +optional
	Type ColumnType `json:"type,omitempty"`
	// Sensitive columns are masked in every output (status, events, store, alerts).
	// +optional
	Sensitive bool `json:"sensitive,omitempty"`
	// Precision of timestamps: s, ms, us or ns.
	// +kubebuilder:validation:MaxLength=2
	// +optional
	Precision string `json:"precision,omitempty"`
}

// CaptureSpec asks for a change-data-capture pipeline into Kafka.
type CaptureSpec struct {
	// KafkaConnect is the name of the Strimzi KafkaConnect cluster that runs Debezium.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	KafkaConnect string `json:"kafkaConnect"`
	// TopicPrefix names the topics: <prefix>.<schema>.<table>. Defaults to the
	// namespace and name of the DataSource.
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]+$`
	// +optional
	TopicPrefix string `json:"topicPrefix,omitempty"`
	// Topic settings for the topics the connector writes.
	// +optional
	Topic TopicSettings `json:"topic,omitempty"`
	// SnapshotMode: initial, no_data or when_needed.
	// +kubebuilder:validation:Enum=initial;no_data;when_needed
	// +kubebuilder:default=initial
	// +optional
	SnapshotMode string `json:"snapshotMode,omitempty"`
}

// TopicSettings sizes a Kafka topic.
type TopicSettings struct {
	// Partitions of the topic.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=3
	// +optional
	Partitions int32 `json:"partitions,omitempty"`
	// Replicas of each partition.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:default=3
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// Retention of messages, as a duration (168h). Empty: the change topic is compacted
	// instead (cleanup.policy compact): the latest event of each key is kept, so that
	// the topic can be read as the table it describes.
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="retention must be positive"
	// +optional
	Retention *metav1.Duration `json:"retention,omitempty"`
}

// DataSource condition types and reasons.
const (
	DataSourceReachable        = "Reachable"
	DataSourceSchemaDiscovered = "SchemaDiscovered"
	DataSourceSchemaDrift      = "SchemaDrift"
	DataSourcePipelineReady    = "PipelineReady"
)

// Reasons of DataSource conditions (besides the probe's failure reasons on Reachable:
// CredentialsUnavailable, Unreachable, Timeout, AuthenticationFailed, NotFound,
// NotSupported, which Ready repeats).
const (
	// ReasonReachable: the last probe reached the dataset.
	ReasonReachable = "Reachable"
	// ReasonDiscovered: the columns were learned.
	ReasonDiscovered = "Discovered"
	// ReasonDiscoveryFailed: the dataset was reached but its columns were not learned.
	ReasonDiscoveryFailed = "DiscoveryFailed"
	// ReasonNotProbed: the source has not been probed successfully yet.
	ReasonNotProbed = "NotProbed"
	// ReasonNoDrift: the discovered schema matches the declarations and the baseline.
	ReasonNoDrift = "NoDrift"
	// ReasonDrifted: columns were added, removed or retyped.
	ReasonDrifted = "Drifted"
	// ReasonKeyColumnMissing: a key column is not in the source (Ready=False).
	ReasonKeyColumnMissing = "KeyColumnMissing"
	// ReasonColumnMissing: a declared column is not in the source (Ready=False).
	ReasonColumnMissing = "ColumnMissing"
	// ReasonCaptureNotRequested: spec.capture is not set (PipelineReady=False).
	ReasonCaptureNotRequested = "CaptureNotRequested"
	// ReasonStrimziNotInstalled: the Strimzi CRDs are not in the cluster.
	ReasonStrimziNotInstalled = "StrimziNotInstalled"
	// ReasonPipelineNotReady: the connector or a topic is not Ready yet.
	ReasonPipelineNotReady = "PipelineNotReady"
	// ReasonPipelineFailed: the pipeline could not be rendered or applied.
	ReasonPipelineFailed = "PipelineFailed"
	// ReasonPipelineReady: the connector runs and its topics are Ready.
	ReasonPipelineReady = "PipelineReady"
)

// DiscoveredColumn is a column as the source reports it.
type DiscoveredColumn struct {
	// Name of the column.
	Name string `json:"name"`
	// Type mapped to a Clearhouse column type.
	Type ColumnType `json:"type"`
	// NativeType as the source names it (numeric(12,2), DATETIME, ...).
	// +optional
	NativeType string `json:"nativeType,omitempty"`
	// Nullable is true when the column accepts NULL.
	// +optional
	Nullable bool `json:"nullable,omitempty"`
}

// SchemaBaseline is a schema accepted at a generation of the spec.
type SchemaBaseline struct {
	// Generation of the spec when this schema was accepted.
	Generation int64 `json:"generation"`
	// Columns of the accepted schema.
	// +listType=map
	// +listMapKey=name
	// +optional
	Columns []DiscoveredColumn `json:"columns,omitempty"`
}

// PipelineStatus reports the CDC pipeline of a DataSource.
type PipelineStatus struct {
	// Connector is the name of the KafkaConnector.
	// +optional
	Connector string `json:"connector,omitempty"`
	// ConnectorState as Strimzi reports it (RUNNING, PAUSED, FAILED, ...).
	// +optional
	ConnectorState string `json:"connectorState,omitempty"`
	// Topics the connector writes.
	// +optional
	Topics []string `json:"topics,omitempty"`
}

// DataSourceStatus is what the operator knows of a DataSource.
type DataSourceStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reachable, SchemaDiscovered, SchemaDrift, PipelineReady.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Schema as last discovered.
	// +listType=map
	// +listMapKey=name
	// +optional
	Schema []DiscoveredColumn `json:"schema,omitempty"`
	// SchemaBaseline is what drift is measured against: the schema of the first
	// successful probe of that generation. Editing the spec accepts the schema of the
	// next probe as the new baseline.
	// +optional
	SchemaBaseline *SchemaBaseline `json:"schemaBaseline,omitempty"`
	// EstimatedRows from catalog statistics (not a count).
	// +optional
	EstimatedRows *int64 `json:"estimatedRows,omitempty"`
	// LastProbeTime is when the source was last probed.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
	// Pipeline is the CDC pipeline, when capture is set.
	// +optional
	Pipeline *PipelineStatus `json:"pipeline,omitempty"`
}

// DataSource is one dataset in a system of record: probed, schema discovered, drift
// detected, optionally captured into Kafka.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ds,categories=clearhouse
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reachable",type=string,JSONPath=`.status.conditions[?(@.type=="Reachable")].status`
// +kubebuilder:printcolumn:name="Drift",type=string,JSONPath=`.status.conditions[?(@.type=="SchemaDrift")].status`
// +kubebuilder:printcolumn:name="Rows",type=integer,JSONPath=`.status.estimatedRows`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DataSourceSpec   `json:"spec,omitempty"`
	Status DataSourceStatus `json:"status,omitempty"`
}

// DataSourceList is a list of DataSources.
// +kubebuilder:object:root=true
type DataSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataSource `json:"items"`
}
