package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Owner is a person or team answerable for a module.
type Owner struct {
	// Name of the owner.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// Email of the owner.
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	// +kubebuilder:validation:MaxLength=254
	// +optional
	Email string `json:"email,omitempty"`
	// WebhookSecretRef is a Secret key holding a chat webhook URL to reach the owner.
	// +optional
	WebhookSecretRef *SecretKeyRef `json:"webhookSecretRef,omitempty"`
}

// KafkaClusterRef names a Strimzi Kafka cluster.
type KafkaClusterRef struct {
	// Name of the Kafka resource.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace of the Kafka resource; the module's namespace when empty. The topic and
	// user resources are created there.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// SchemaRef points at a JSON Schema in a ConfigMap.
type SchemaRef struct {
	// ConfigMap name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ConfigMap string `json:"configMap"`
	// Key in the ConfigMap.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// Stream is an event stream a module publishes, rendered as a Strimzi KafkaTopic.
type Stream struct {
	// Name of the stream; the topic is <module>.<name>.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`
	Name string `json:"name"`
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
	// Retention of messages (168h).
	// +kubebuilder:default="168h0m0s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="retention must be positive"
	// +optional
	Retention *metav1.Duration `json:"retention,omitempty"`
	// Schema of the events.
	// +optional
	Schema *SchemaRef `json:"schema,omitempty"`
}

// Consumer is another module allowed to read some of this module's streams.
type Consumer struct {
	// Module is the consuming BusinessModule's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Module string `json:"module"`
	// Streams it may read.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=100
	// +listType=set
	Streams []string `json:"streams"`
}

// AccessRole is what a group may do with a module's reconciliations.
// +kubebuilder:validation:Enum=viewer;reviewer;editor
type AccessRole string

// Access roles.
const (
	AccessViewer   AccessRole = "viewer"
	AccessReviewer AccessRole = "reviewer"
	AccessEditor   AccessRole = "editor"
)

// Access grants a group a role on the module's resources.
type Access struct {
	// Group name as the cluster's authenticator reports it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group"`
	// Role: viewer reads, reviewer resolves cases, editor changes jobs and sources.
	Role AccessRole `json:"role"`
}

// BusinessModuleSpec declares a business domain.
// +kubebuilder:validation:XValidation:rule="!has(self.streams) || size(self.streams) == 0 || has(self.kafkaCluster)",message="streams need kafkaCluster"
// +kubebuilder:validation:XValidation:rule="!has(self.consumers) || self.consumers.all(c, has(self.streams) && c.streams.all(s, self.streams.exists(x, x.name == s)))",message="every consumer stream must be one of spec.streams"
type BusinessModuleSpec struct {
	// DisplayName for people.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// Description of the domain.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Description string `json:"description,omitempty"`
	// Owners answerable for the module.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Owners []Owner `json:"owners"`
	// KafkaCluster the streams live in.
	// +optional
	KafkaCluster *KafkaClusterRef `json:"kafkaCluster,omitempty"`
	// Streams the module publishes.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Streams []Stream `json:"streams,omitempty"`
	// Consumers: other modules allowed to read streams.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=module
	// +optional
	Consumers []Consumer `json:"consumers,omitempty"`
	// Access: groups and their roles.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=group
	// +optional
	Access []Access `json:"access,omitempty"`
}

// BusinessModule condition types.
const (
	ModuleTopicsReady = "TopicsReady"
	ModuleAccessReady = "AccessReady"
)

// TopicStatus is one stream's topic.
type TopicStatus struct {
	// Stream name.
	Stream string `json:"stream"`
	// Topic name in Kafka.
	Topic string `json:"topic"`
	// Ready as Strimzi reports it.
	Ready bool `json:"ready"`
}

// BusinessModuleStatus is what the operator knows of a module.
type BusinessModuleStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, TopicsReady, AccessReady.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Topics of the streams.
	// +optional
	Topics []TopicStatus `json:"topics,omitempty"`
	// DataSources belonging to the module.
	// +optional
	DataSources int32 `json:"dataSources,omitempty"`
	// Jobs comparing the module's sources.
	// +optional
	Jobs int32 `json:"jobs,omitempty"`
	// OpenCases across the module's jobs.
	// +optional
	OpenCases int64 `json:"openCases,omitempty"`
}

// BusinessModule is a business domain: its owners, streams, consumers and reviewers.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bm,categories=clearhouse
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Sources",type=integer,JSONPath=`.status.dataSources`
// +kubebuilder:printcolumn:name="Jobs",type=integer,JSONPath=`.status.jobs`
// +kubebuilder:printcolumn:name="Open Cases",type=integer,JSONPath=`.status.openCases`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BusinessModule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BusinessModuleSpec   `json:"spec,omitempty"`
	Status BusinessModuleStatus `json:"status,omitempty"`
}

// BusinessModuleList is a list of BusinessModules.
// +kubebuilder:object:root=true
type BusinessModuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BusinessModule `json:"items"`
}
