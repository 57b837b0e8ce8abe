package v1alpha1

// SecretKeyRef names one key of a Secret in the resource's own namespace. Credentials
// reach Clearhouse only this way: never inline in a spec.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key inside the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// CredentialsSecretRef names a Secret holding a user name and a password.
type CredentialsSecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// UsernameKey is the key holding the user name.
	// +kubebuilder:default=username
	// +optional
	UsernameKey string `json:"usernameKey,omitempty"`
	// PasswordKey is the key holding the password.
	// +kubebuilder:default=password
	// +optional
	PasswordKey string `json:"passwordKey,omitempty"`
}

// LocalRef names an object of a known kind in the same namespace.
type LocalRef struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ColumnType is the type a value is parsed as before it is compared.
// +kubebuilder:validation:Enum=String;Integer;Decimal;Timestamp;Date;Boolean;JSON
type ColumnType string

// Column types.
const (
	ColumnString    ColumnType = "String"
	ColumnInteger   ColumnType = "Integer"
	ColumnDecimal   ColumnType = "Decimal"
	ColumnTimestamp ColumnType = "Timestamp"
	ColumnDate      ColumnType = "Date"
	ColumnBoolean   ColumnType = "Boolean"
	ColumnJSON      ColumnType = "JSON"
)

// Condition types shared by the kinds. Each kind documents the ones it sets.
const (
	// ConditionReady summarises whether the resource is doing its job.
	ConditionReady = "Ready"
)

// Reasons shared by the kinds.
const (
	// ReasonInvalidSpec: the spec passed the schema but cannot be honoured (bad time zone,
	// bad cron expression, a reference that does not resolve).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonNotImplemented: the controller for this part does not act yet. Honest, not Ready.
	ReasonNotImplemented = "NotImplemented"
	// ReasonReconciled: everything the spec asks for is in place.
	ReasonReconciled = "Reconciled"
)
