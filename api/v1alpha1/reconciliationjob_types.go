package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// JobSide is one side of a comparison.
type JobSide struct {
	// DataSource is the name of a DataSource in the job's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	DataSource string `json:"dataSource"`
	// Filter restricts the rows read: a SQL boolean expression for database sources
	// (pushed down as WHERE), ignored by file sources.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Filter string `json:"filter,omitempty"`
}

// KeyMapping pairs a source key column with a target key column.
type KeyMapping struct {
	// Source column.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Source string `json:"source"`
	// Target column; defaults to the source column's name.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Target string `json:"target,omitempty"`
	// Type the key is compared as; keys compare as text unless typed.
	// +kubebuilder:default=String
	// +optional
	Type ColumnType `json:"type,omitempty"`
}

// Tolerance says how far two values may be apart and still match. Bounds are inclusive.
// +kubebuilder:validation:XValidation:rule="has(self.absolute) || has(self.relative) || has(self.time)",message="tolerance needs at least one of absolute, relative or time"
type Tolerance struct {
	// Absolute numeric tolerance, a non-negative decimal (0.01).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(\\\\.[0-9]+)?$')",message="absolute tolerance must be a non-negative decimal such as 0.01"
	// +optional
	Absolute string `json:"absolute,omitempty"`
	// Relative numeric tolerance, a non-negative fraction of the larger value (0.001).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+(\\\\.[0-9]+)?$')",message="relative tolerance must be a non-negative decimal such as 0.001"
	// +optional
	Relative string `json:"relative,omitempty"`
	// Time tolerance for timestamps and dates (2s, 24h).
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="time tolerance must not be negative"
	// +optional
	Time *metav1.Duration `json:"time,omitempty"`
}

// ColumnComparison says how one column is compared.
// +kubebuilder:validation:XValidation:rule="!has(self.tolerance) || !(has(self.tolerance.absolute) || has(self.tolerance.relative)) || self.type in ['Decimal', 'Integer']",message="absolute and relative tolerances need type Decimal or Integer"
// +kubebuilder:validation:XValidation:rule="!has(self.tolerance) || !has(self.tolerance.time) || self.type in ['Timestamp', 'Date']",message="time tolerance needs type Timestamp or Date"
// +kubebuilder:validation:XValidation:rule="!(self.trim || self.ignoreCase) || self.type == 'String'",message="trim and ignoreCase apply to type String only"
type ColumnComparison struct {
	// Source column.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Source string `json:"source"`
	// Target column; defaults to the source column's name.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Target string `json:"target,omitempty"`
	// Type both values are parsed as before comparing.
	// +kubebuilder:default=String
	// +optional
	Type ColumnType `json:"type,omitempty"`
	// Tolerance within which values still match.
	// +optional
	Tolerance *Tolerance `json:"tolerance,omitempty"`
	// Trim leading and trailing white space before comparing.
	// +kubebuilder:default=false
	// +optional
	Trim bool `json:"trim"`
	// IgnoreCase compares strings case-insensitively.
	// +kubebuilder:default=false
	// +optional
	IgnoreCase bool `json:"ignoreCase"`
}

// JobMode is how a job reads its sources.
// +kubebuilder:validation:Enum=Batch;Stream
type JobMode string

// Job modes.
const (
	ModeBatch  JobMode = "Batch"
	ModeStream JobMode = "Stream"
)

// Strategy is the comparison algorithm.
// +kubebuilder:validation:Enum=Auto;Merge;Hash;Checksum
type Strategy string

// Strategies.
const (
	StrategyAuto     Strategy = "Auto"
	StrategyMerge    Strategy = "Merge"
	StrategyHash     Strategy = "Hash"
	StrategyChecksum Strategy = "Checksum"
)

// ConcurrencyPolicy says what happens when a run is due while one is still running.
// +kubebuilder:validation:Enum=Forbid;Replace
type ConcurrencyPolicy string

// Concurrency policies.
const (
	ConcurrencyForbid  ConcurrencyPolicy = "Forbid"
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// Limits bound a run.
type Limits struct {
	// MaxDiscrepancies stops a run early once this many discrepancies are found; the
	// run is then reported Truncated.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=100000
	// +optional
	MaxDiscrepancies int64 `json:"maxDiscrepancies,omitempty"`
	// RowsPerSecond caps the read rate on each side, to spare production databases;
	// zero means no cap.
	// +kubebuilder:validation:Minimum=0
	// +optional
	RowsPerSecond int64 `json:"rowsPerSecond,omitempty"`
	// Timeout of a run.
	// +kubebuilder:default="1h0m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="timeout must be positive"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Memory budget of the comparison (hash partitions spill to disk beyond it).
	// +kubebuilder:default="256Mi"
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// Executor runs a job.
// +kubebuilder:validation:Enum=Inline;Kubernetes
type Executor string

// Executors.
const (
	ExecutorInline     Executor = "Inline"
	ExecutorKubernetes Executor = "Kubernetes"
)

// Execution says where and how wide a run executes.
// +kubebuilder:validation:XValidation:rule="!has(self.parallelism) || self.parallelism == 1 || (has(self.executor) && self.executor == 'Kubernetes')",message="parallelism above 1 needs executor Kubernetes"
type Execution struct {
	// Executor: Inline runs in the manager; Kubernetes runs an Indexed Job.
	// +kubebuilder:default=Inline
	// +optional
	Executor Executor `json:"executor,omitempty"`
	// Parallelism is the number of partitions (pods of the Indexed Job).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +kubebuilder:default=1
	// +optional
	Parallelism int32 `json:"parallelism,omitempty"`
	// Resources of each worker pod.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// ServiceAccountName of the worker pods.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// TTLSecondsAfterFinished removes finished worker Jobs.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=3600
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// BackoffLimitPerIndex retries a failed partition this many times.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:default=2
	// +optional
	BackoffLimitPerIndex *int32 `json:"backoffLimitPerIndex,omitempty"`
}

// AlertChannel is one place alerts go. Exactly one of webhook or email is set.
// +kubebuilder:validation:XValidation:rule="has(self.webhook) != has(self.email)",message="exactly one of webhook or email must be set"
type AlertChannel struct {
	// Name of the channel, for events and metrics.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Webhook posts a JSON body (with a Slack-compatible text field).
	// +optional
	Webhook *WebhookChannel `json:"webhook,omitempty"`
	// Email sends over SMTP.
	// +optional
	Email *EmailChannel `json:"email,omitempty"`
}

// WebhookChannel posts alerts to a URL kept in a Secret (webhook URLs carry tokens).
type WebhookChannel struct {
	// URLSecretRef is the Secret key holding the URL.
	URLSecretRef SecretKeyRef `json:"urlSecretRef"`
}

// EmailChannel sends alerts by email.
type EmailChannel struct {
	// To: recipients.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:Pattern=`^[^@\s]+@[^@\s]+$`
	To []string `json:"to"`
	// From address.
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	From string `json:"from"`
	// SMTP server.
	SMTP SMTPServer `json:"smtp"`
}

// SMTPServer is a mail relay.
type SMTPServer struct {
	// Host of the relay.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`
	// Port of the relay.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=587
	// +optional
	Port int32 `json:"port,omitempty"`
	// SecretRef holds the SMTP user name and password, when the relay asks for them.
	// +optional
	SecretRef *CredentialsSecretRef `json:"secretRef,omitempty"`
}

// Alerts say when and where to tell people about a run.
type Alerts struct {
	// Threshold: alert when a run finds more discrepancies than this. Failed and
	// truncated runs always alert.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=0
	// +optional
	Threshold int64 `json:"threshold"`
	// Channels to alert.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Channels []AlertChannel `json:"channels"`
}

// ReconciliationJobSpec declares a comparison of a source with a target.
// +kubebuilder:validation:XValidation:rule="!has(self.schedule) || size(self.schedule.trim()) > 0",message="schedule must not be blank; omit it for on-demand jobs"
// +kubebuilder:validation:XValidation:rule="!has(self.timeZone) || has(self.schedule)",message="timeZone needs schedule",fieldPath=".timeZone"
// +kubebuilder:validation:XValidation:rule="!has(self.startingDeadlineSeconds) || has(self.schedule)",message="startingDeadlineSeconds needs schedule",fieldPath=".startingDeadlineSeconds"
// +kubebuilder:validation:XValidation:rule="self.source.dataSource != self.target.dataSource || (has(self.source.filter) && has(self.target.filter) && self.source.filter != self.target.filter)",message="source and target are the same DataSource; give them different filters to compare two slices of it"
// +kubebuilder:validation:XValidation:rule="self.mode == 'Batch' || self.strategy in ['Auto', 'Merge']",message="mode Stream supports strategy Auto or Merge only"
// +kubebuilder:validation:XValidation:rule="self.keys.all(k, self.keys.exists_one(j, (has(j.target) && size(j.target) > 0 ? j.target : j.source) == (has(k.target) && size(k.target) > 0 ? k.target : k.source)))",message="each key must map to a different target column",fieldPath=".keys"
// +kubebuilder:validation:XValidation:rule="!has(self.compare) || self.compare.all(c, !self.keys.exists(k, k.source == c.source || (has(k.target) && size(k.target) > 0 ? k.target : k.source) == (has(c.target) && size(c.target) > 0 ? c.target : c.source)))",message="a key column cannot also be a compared column",fieldPath=".compare"
type ReconciliationJobSpec struct {
	// Source side (the system of record considered right).
	Source JobSide `json:"source"`
	// Target side (the system checked against it).
	Target JobSide `json:"target"`

	// Keys pairs the key columns of both sides; several make a composite key.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=source
	Keys []KeyMapping `json:"keys"`

	// Compare lists the columns compared, with their rules. When empty, every non-key
	// column present on both sides is compared as text.
	// +kubebuilder:validation:MaxItems=512
	// +listType=map
	// +listMapKey=source
	// +optional
	Compare []ColumnComparison `json:"compare,omitempty"`

	// Mode: Batch compares snapshots; Stream compares continuously (not implemented by
	// this version: such a job is Ready=False, NotImplemented, and does not run).
	// +kubebuilder:default=Batch
	// +optional
	Mode JobMode `json:"mode,omitempty"`
	// Strategy: Auto picks Checksum when both sides are SQL, Merge when both are
	// ordered, else Hash.
	// +kubebuilder:default=Auto
	// +optional
	Strategy Strategy `json:"strategy,omitempty"`

	// Schedule in cron format (5 fields, or @hourly, @daily...). Without a schedule the
	// job runs on demand (runNonce) or from a SettlementWindow.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// TimeZone (IANA name) of the schedule; UTC when empty.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
	// StartingDeadlineSeconds: a scheduled run missed by more than this is skipped.
	// +kubebuilder:validation:Minimum=0
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
	// ConcurrencyPolicy when a run is due while one runs: Forbid skips it, Replace
	// cancels the running one.
	// +kubebuilder:default=Forbid
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	// Suspend stops scheduled runs; a running run finishes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// RunNonce: change it to run now (a GitOps commit triggers a run). Each value starts
	// one run: setting a value used before (a revert) starts none, with a Warning event
	// RunNonceReused.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	RunNonce string `json:"runNonce,omitempty"`

	// Limits bound each run.
	// +kubebuilder:default={}
	// +optional
	Limits Limits `json:"limits,omitempty"`
	// Execution says where runs execute.
	// +kubebuilder:default={}
	// +optional
	Execution Execution `json:"execution,omitempty"`
	// Alerts to send after a run.
	// +optional
	Alerts *Alerts `json:"alerts,omitempty"`
	// HistoryLimit is how many recent runs status keeps (the store keeps all).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	// +optional
	HistoryLimit int32 `json:"historyLimit,omitempty"`
}

// ReconciliationJob condition types and reasons.
const (
	JobRunning  = "Running"
	JobBalanced = "Balanced"

	ReasonDiscrepant  = "Discrepant"
	ReasonFailed      = "Failed"
	ReasonAborted     = "Aborted"
	ReasonTruncated   = "Truncated"
	ReasonBalanced    = "Balanced"
	ReasonNeverRun    = "NeverRun"
	ReasonSourceError = "SourceNotReady"

	// Running reasons: RunInProgress (True), Idle (False).
	ReasonRunInProgress = "RunInProgress"
	ReasonIdle          = "Idle"
)

// AlertOutcome is what became of a finished run's alert.
// +kubebuilder:validation:Enum=Sent;Failed;None
type AlertOutcome string

// Alert outcomes.
const (
	// AlertSent: every channel accepted the alert.
	AlertSent AlertOutcome = "Sent"
	// AlertFailed: at least one channel failed after its retries (an event names it).
	AlertFailed AlertOutcome = "Failed"
	// AlertNone: no alert was due (or the job has no channels).
	AlertNone AlertOutcome = "None"
)

// RunResult is how a run ended.
// +kubebuilder:validation:Enum=Running;Balanced;Discrepant;Truncated;Failed;Aborted;Interrupted
type RunResult string

// Run results.
const (
	RunRunning     RunResult = "Running"
	RunBalanced    RunResult = "Balanced"
	RunDiscrepant  RunResult = "Discrepant"
	RunTruncated   RunResult = "Truncated"
	RunFailed      RunResult = "Failed"
	RunAborted     RunResult = "Aborted"
	RunInterrupted RunResult = "Interrupted"
)

// RunCounts counts the outcomes of a run.
type RunCounts struct {
	Compared        int64 `json:"compared"`
	Matched         int64 `json:"matched"`
	MissingInTarget int64 `json:"missingInTarget"`
	MissingInSource int64 `json:"missingInSource"`
	Mismatched      int64 `json:"mismatched"`
	DuplicateKeys   int64 `json:"duplicateKeys"`
	InvalidRows     int64 `json:"invalidRows"`
}

// RunSummary is one run as status shows it.
type RunSummary struct {
	// ID of the run in the results store.
	ID string `json:"id"`
	// Trigger: Schedule, Nonce, Window or Manual.
	// +kubebuilder:validation:Enum=Schedule;Nonce;Window;Manual
	Trigger string `json:"trigger"`
	// Window the run settles, when a SettlementWindow triggered it.
	// +optional
	Window string `json:"window,omitempty"`
	// StartTime of the run.
	StartTime metav1.Time `json:"startTime"`
	// CompletionTime of the run.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Result of the run.
	Result RunResult `json:"result"`
	// Counts per outcome.
	// +optional
	Counts RunCounts `json:"counts,omitempty"`
	// RowsPerSecond achieved.
	// +optional
	RowsPerSecond int64 `json:"rowsPerSecond,omitempty"`
	// Message explains a failure (never containing credentials).
	// +optional
	Message string `json:"message,omitempty"`
	// Alert is what became of the run's alert once the run finished; the operator sends
	// one alert per run, and this field is how it remembers that it has.
	// +optional
	Alert AlertOutcome `json:"alert,omitempty"`
}

// ReconciliationJobStatus is what the operator knows of a job.
type ReconciliationJobStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Running, Balanced.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastRun is the latest run.
	// +optional
	LastRun *RunSummary `json:"lastRun,omitempty"`
	// RecentRuns, newest first, up to spec.historyLimit.
	// +optional
	RecentRuns []RunSummary `json:"recentRuns,omitempty"`
	// Discrepancies found by the last completed run.
	// +optional
	Discrepancies int64 `json:"discrepancies,omitempty"`
	// LastScheduleTime is when a scheduled run last started.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`
	// NextScheduleTime is when the next scheduled run is due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
	// LastRunNonce is the spec.runNonce last acted on: it triggered a run, or was used
	// before (see spec.runNonce).
	// +optional
	LastRunNonce string `json:"lastRunNonce,omitempty"`
	// OpenCases is the number of discrepancy cases still open for this job.
	// +optional
	OpenCases int64 `json:"openCases,omitempty"`
	// SkippedRuns counts the triggers skipped because a run was still in progress
	// (concurrencyPolicy Forbid); an event records each one.
	// +optional
	SkippedRuns int64 `json:"skippedRuns,omitempty"`
}

// ReconciliationJob compares a source with a target, key by key and column by column.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rj,categories=clearhouse
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source.dataSource`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.target.dataSource`
// +kubebuilder:printcolumn:name="Last Run",type=date,JSONPath=`.status.lastRun.startTime`
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.status.lastRun.result`
// +kubebuilder:printcolumn:name="Discrepancies",type=integer,JSONPath=`.status.discrepancies`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`,priority=1
// +kubebuilder:printcolumn:name="Open Cases",type=integer,JSONPath=`.status.openCases`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReconciliationJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ReconciliationJobSpec   `json:"spec,omitempty"`
	Status ReconciliationJobStatus `json:"status,omitempty"`
}

// ReconciliationJobList is a list of ReconciliationJobs.
// +kubebuilder:object:root=true
type ReconciliationJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReconciliationJob `json:"items"`
}
