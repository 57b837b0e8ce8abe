package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WindowStrategy says how windows are placed in time.
// +kubebuilder:validation:Enum=Scheduled;Daily;Limited;Emergency
type WindowStrategy string

// Window strategies. Scheduled windows recur on a cron schedule; the others clear data
// before an activity starts, opening a lead time ahead of it.
const (
	WindowScheduled WindowStrategy = "Scheduled"
	WindowDaily     WindowStrategy = "Daily"
	WindowLimited   WindowStrategy = "Limited"
	WindowEmergency WindowStrategy = "Emergency"
)

// DefaultLeadTime is the lead time of an activity window when spec.leadTime is empty.
func DefaultLeadTime(s WindowStrategy) time.Duration {
	switch s {
	case WindowDaily:
		return 24 * time.Hour
	case WindowLimited:
		return 5 * time.Hour
	case WindowEmergency:
		return 12 * time.Hour
	}
	return 0
}

// JobDependency orders a job after others in a window.
// +kubebuilder:validation:XValidation:rule="!has(self.after) || !(self.job in self.after)",message="a job cannot run after itself"
type JobDependency struct {
	// Job is the name of a ReconciliationJob.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Job string `json:"job"`
	// After lists jobs that must settle before this one runs.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	After []string `json:"after,omitempty"`
}

// WindowJobs selects the jobs a window settles and their order.
type WindowJobs struct {
	// Selector picks ReconciliationJobs in the window's namespace by label.
	Selector metav1.LabelSelector `json:"selector"`
	// Order declares dependencies; jobs not named run first, in parallel.
	// +kubebuilder:validation:MaxItems=128
	// +listType=map
	// +listMapKey=job
	// +optional
	Order []JobDependency `json:"order,omitempty"`
}

// CarryForward says what happens to discrepancies a window could not resolve.
type CarryForward struct {
	// Enabled carries unresolved cases into the next window (T+1, T+2, ...). A pointer,
	// so that a client that leaves it unset (a Go client included) gets the default.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// EscalateAfter: a case open longer than this is escalated to the module owners.
	// +kubebuilder:default="72h0m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="escalateAfter must be positive"
	// +optional
	EscalateAfter *metav1.Duration `json:"escalateAfter,omitempty"`
}

// IsEnabled says whether unresolved cases are carried forward: Enabled, true when unset.
func (c *CarryForward) IsEnabled() bool {
	return c.Enabled == nil || *c.Enabled
}

// Approval requires a person to sign a window off.
type Approval struct {
	// Required: a window is Settled only after sign-off.
	// +optional
	Required bool `json:"required,omitempty"`
	// Approvers: groups or users allowed to sign off.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Approvers []string `json:"approvers,omitempty"`
}

// SettlementWindowSpec declares when a body of data must be proven consistent.
// +kubebuilder:validation:XValidation:rule="self.strategy != 'Scheduled' || (has(self.schedule) && has(self.duration))",message="strategy Scheduled needs schedule and duration"
// +kubebuilder:validation:XValidation:rule="self.strategy == 'Scheduled' || has(self.activityStart)",message="strategies Daily, Limited and Emergency need activityStart"
// +kubebuilder:validation:XValidation:rule="self.strategy != 'Scheduled' || !has(self.activityStart)",message="activityStart is for Daily, Limited and Emergency windows, not Scheduled"
// +kubebuilder:validation:XValidation:rule="!has(self.leadTime) || has(self.activityStart)",message="leadTime is only valid with activityStart",fieldPath=".leadTime"
// +kubebuilder:validation:XValidation:rule="!has(self.schedule) || self.strategy == 'Scheduled'",message="schedule is only valid with strategy Scheduled",fieldPath=".schedule"
// +kubebuilder:validation:XValidation:rule="!has(self.duration) || self.strategy == 'Scheduled'",message="duration is only valid with strategy Scheduled (an activity window ends at activityStart)",fieldPath=".duration"
// +kubebuilder:validation:XValidation:rule="!has(self.duration) || !has(self.gracePeriod) || duration(self.gracePeriod) < duration(self.duration)",message="gracePeriod must be shorter than duration",fieldPath=".gracePeriod"
// +kubebuilder:validation:XValidation:rule="!has(self.approval) || !self.approval.required || (has(self.approval.approvers) && size(self.approval.approvers) > 0)",message="approval.required needs at least one approver",fieldPath=".approval"
type SettlementWindowSpec struct {
	// Strategy: Scheduled (recurring) or an activity window (Daily 24h, Limited 5h,
	// Emergency 12h lead time by default).
	Strategy WindowStrategy `json:"strategy"`

	// Schedule of recurring windows, in cron format.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// TimeZone (IANA name) of the schedule and of reports.
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
	// Duration of a recurring window.
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="duration must be positive"
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// ActivityStart is when the activity (a promotion, a launch) starts; data must be
	// cleared before it.
	// +optional
	ActivityStart *metav1.Time `json:"activityStart,omitempty"`
	// LeadTime before activityStart at which the window opens; defaults by strategy.
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="leadTime must be positive"
	// +optional
	LeadTime *metav1.Duration `json:"leadTime,omitempty"`

	// GracePeriod after a window's end during which late events are still awaited. Unset:
	// 15m, or half the duration when that is shorter (see Grace); set, it must be shorter
	// than the duration.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="gracePeriod must not be negative"
	// +optional
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`

	// Jobs the window settles.
	Jobs WindowJobs `json:"jobs"`
	// CarryForward policy for unresolved cases.
	// +kubebuilder:default={}
	// +optional
	CarryForward CarryForward `json:"carryForward,omitempty"`
	// Approval (sign-off) of settled windows.
	// +optional
	Approval *Approval `json:"approval,omitempty"`
	// Suspend stops opening new windows.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// HistoryLimit is how many past windows status keeps.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	// +optional
	HistoryLimit int32 `json:"historyLimit,omitempty"`
}

// SettlementWindow condition types.
const (
	WindowOpen    = "Open"
	WindowSettled = "Settled"
)

// WindowState is where a window is in its life.
// +kubebuilder:validation:Enum=Pending;Open;Settling;AwaitingApproval;Settled;Unsettled
type WindowState string

// Window states.
const (
	WindowPending          WindowState = "Pending"
	WindowStateOpen        WindowState = "Open"
	WindowSettling         WindowState = "Settling"
	WindowAwaitingApproval WindowState = "AwaitingApproval"
	WindowStateSettled     WindowState = "Settled"
	WindowUnsettled        WindowState = "Unsettled"
)

// WindowJobResult is one job's result in a window.
type WindowJobResult struct {
	// Job name.
	Job string `json:"job"`
	// RunID of the run that settled it.
	// +optional
	RunID string `json:"runID,omitempty"`
	// Result of that run.
	// +optional
	Result RunResult `json:"result,omitempty"`
	// Discrepancies that run found.
	// +optional
	Discrepancies int64 `json:"discrepancies,omitempty"`
}

// WindowSummary is one window.
type WindowSummary struct {
	// Start of the window.
	Start metav1.Time `json:"start"`
	// End of the window (before the grace period).
	End metav1.Time `json:"end"`
	// State of the window.
	State WindowState `json:"state"`
	// Jobs and their results.
	// +optional
	Jobs []WindowJobResult `json:"jobs,omitempty"`
	// CarriedForward: unresolved cases carried into this window.
	// +optional
	CarriedForward int64 `json:"carriedForward,omitempty"`
	// Escalated: cases escalated in this window.
	// +optional
	Escalated int64 `json:"escalated,omitempty"`
}

// SettlementWindowStatus is what the operator knows of a window.
type SettlementWindowStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Open, Settled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Current window.
	// +optional
	Current *WindowSummary `json:"current,omitempty"`
	// NextWindowStart is when the next window opens.
	// +optional
	NextWindowStart *metav1.Time `json:"nextWindowStart,omitempty"`
	// History of past windows, newest first.
	// +optional
	History []WindowSummary `json:"history,omitempty"`
}

// SettlementWindow says when data must be proven consistent and settles the jobs in it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sw,categories=clearhouse
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.current.state`
// +kubebuilder:printcolumn:name="Window Start",type=date,JSONPath=`.status.current.start`
// +kubebuilder:printcolumn:name="Window End",type=date,JSONPath=`.status.current.end`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SettlementWindow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SettlementWindowSpec   `json:"spec,omitempty"`
	Status SettlementWindowStatus `json:"status,omitempty"`
}

// SettlementWindowList is a list of SettlementWindows.
// +kubebuilder:object:root=true
type SettlementWindowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SettlementWindow `json:"items"`
}

// DefaultGracePeriod is the grace period of a window that sets none (at most half its
// duration).
const DefaultGracePeriod = 15 * time.Minute

// Grace is the window's grace period: GracePeriod when set, else DefaultGracePeriod or
// half the duration, whichever is shorter. (Not a CRD default: a default of 15m would
// make the API server reject windows of 15m or less, whose spec never set it, by the
// rule that it be shorter than the duration.)
func (s *SettlementWindowSpec) Grace() time.Duration {
	if s.GracePeriod != nil {
		return s.GracePeriod.Duration
	}
	if s.Duration != nil && s.Duration.Duration/2 < DefaultGracePeriod {
		return s.Duration.Duration / 2
	}
	return DefaultGracePeriod
}
