// Package connect turns a DataSource and the credentials its secretRef points at into
// a reader the engine can compare. The controllers (probes, inline runs) take the
// credentials from Secrets through the API; a Kubernetes worker takes them from the
// environment its pod was given. Credentials never appear in an error: errors name the
// DataSource, the Secret and the key.
package connect

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// Credential is a user name and password. Its String method hides the password, so
// printing one by mistake leaks nothing.
type Credential struct {
	Username string
	Password string
}

// String names the user only.
func (c Credential) String() string { return "user " + c.Username + " (password hidden)" }

// GoString hides the password from %#v too.
func (c Credential) GoString() string { return c.String() }

// Credentials looks up what a secretRef points at.
type Credentials interface {
	Credential(ctx context.Context, ref chv1.CredentialsSecretRef) (Credential, error)
}

// CredentialsFunc adapts a function to Credentials.
type CredentialsFunc func(ctx context.Context, ref chv1.CredentialsSecretRef) (Credential, error)

// Credential calls f.
func (f CredentialsFunc) Credential(ctx context.Context, ref chv1.CredentialsSecretRef) (Credential, error) {
	return f(ctx, ref)
}

// CAs looks up the CA certificates a caSecretRef points at (PEM). FromCluster and
// FromEnv implement it beside Credentials; Resolve asks for it only when a DataSource
// names a CA.
type CAs interface {
	CA(ctx context.Context, ref chv1.SecretKeyRef) ([]byte, error)
}

// FromCluster reads credentials and CA certificates from Secrets in namespace (the
// result implements CAs too). A missing Secret or key is an error naming both.
func FromCluster(c client.Reader, namespace string) Credentials {
	return clusterSecrets{c: c, namespace: namespace}
}

type clusterSecrets struct {
	c         client.Reader
	namespace string
}

func (cs clusterSecrets) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := cs.c.Get(ctx, types.NamespacedName{Namespace: cs.namespace, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret %s/%s not found", cs.namespace, name)
		}
		return nil, fmt.Errorf("read secret %s/%s: %w", cs.namespace, name, err)
	}
	return &s, nil
}

func (cs clusterSecrets) Credential(ctx context.Context, ref chv1.CredentialsSecretRef) (Credential, error) {
	s, err := cs.secret(ctx, ref.Name)
	if err != nil {
		return Credential{}, err
	}
	userKey, passKey := Keys(ref)
	var cred Credential
	if v, ok := s.Data[userKey]; ok {
		cred.Username = string(v)
	} else {
		return Credential{}, fmt.Errorf("secret %s/%s has no key %q", cs.namespace, ref.Name, userKey)
	}
	if v, ok := s.Data[passKey]; ok {
		cred.Password = string(v)
	} else {
		return Credential{}, fmt.Errorf("secret %s/%s has no key %q", cs.namespace, ref.Name, passKey)
	}
	return cred, nil
}

func (cs clusterSecrets) CA(ctx context.Context, ref chv1.SecretKeyRef) ([]byte, error) {
	s, err := cs.secret(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", cs.namespace, ref.Name, ref.Key)
	}
	return v, nil
}

// Keys returns the Secret keys of the user name and password, with the API defaults
// applied (a secretRef built in Go skips the API server's defaulting).
func Keys(ref chv1.CredentialsSecretRef) (usernameKey, passwordKey string) {
	usernameKey, passwordKey = ref.UsernameKey, ref.PasswordKey
	if usernameKey == "" {
		usernameKey = "username"
	}
	if passwordKey == "" {
		passwordKey = "password"
	}
	return usernameKey, passwordKey
}

// FromEnv reads credentials from the environment variables prefix+"_USERNAME" and
// prefix+"_PASSWORD", as a worker pod gets them from secretKeyRef env entries, and CA
// certificates from the file prefix+"_CA_FILE" names (a worker's mounted Secret key) or
// from prefix+"_CA" (the result implements CAs too). Unset variables are
// an error naming the variable (not its value).
func FromEnv(prefix string) Credentials { return envSecrets(prefix) }

type envSecrets string

func (prefix envSecrets) Credential(_ context.Context, ref chv1.CredentialsSecretRef) (Credential, error) {
	var cred Credential
	var ok bool
	if cred.Username, ok = os.LookupEnv(string(prefix) + "_USERNAME"); !ok {
		return Credential{}, fmt.Errorf("environment variable %s_USERNAME (from secret %s) is not set", prefix, ref.Name)
	}
	if cred.Password, ok = os.LookupEnv(string(prefix) + "_PASSWORD"); !ok {
		return Credential{}, fmt.Errorf("environment variable %s_PASSWORD (from secret %s) is not set", prefix, ref.Name)
	}
	return cred, nil
}

func (prefix envSecrets) CA(_ context.Context, ref chv1.SecretKeyRef) ([]byte, error) {
	if path, ok := os.LookupEnv(string(prefix) + "_CA_FILE"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("environment variable %s_CA_FILE (key %q of secret %s): %w", prefix, ref.Key, ref.Name, err)
		}
		return b, nil
	}
	v, ok := os.LookupEnv(string(prefix) + "_CA")
	if !ok {
		return nil, fmt.Errorf("environment variable %s_CA_FILE or %s_CA (from secret %s) is not set", prefix, prefix, ref.Name)
	}
	return []byte(v), nil
}

// Source is a DataSource with its credentials resolved, ready to open.
type Source struct {
	// Name is namespace/name of the DataSource, for errors and positions.
	Name string
	// DataSource is the spec it was resolved from.
	DataSource *chv1.DataSource
	cred       *Credential    // nil when the source takes none
	roots      *x509.CertPool // caSecretRef's certificates; nil: the system's
}

// SecretRef returns the secretRef a DataSource's connection uses, nil when none.
func SecretRef(ds *chv1.DataSource) *chv1.CredentialsSecretRef {
	switch {
	case ds.Spec.PostgreSQL != nil:
		return &ds.Spec.PostgreSQL.SecretRef
	case ds.Spec.MySQL != nil:
		return &ds.Spec.MySQL.SecretRef
	case ds.Spec.Kafka != nil:
		return ds.Spec.Kafka.SecretRef
	case ds.Spec.File != nil:
		return ds.Spec.File.SecretRef
	}
	return nil
}

// CASecretRef returns the caSecretRef of a DataSource's connection, nil when none.
func CASecretRef(ds *chv1.DataSource) *chv1.SecretKeyRef {
	switch {
	case ds.Spec.PostgreSQL != nil:
		return ds.Spec.PostgreSQL.CASecretRef
	case ds.Spec.MySQL != nil:
		return ds.Spec.MySQL.CASecretRef
	case ds.Spec.Kafka != nil:
		return ds.Spec.Kafka.CASecretRef
	}
	return nil
}

// SecretNames returns the names of the Secrets a DataSource's connection reads
// (credentials, CA certificates), each once.
func SecretNames(ds *chv1.DataSource) []string {
	var names []string
	if ref := SecretRef(ds); ref != nil {
		names = append(names, ref.Name)
	}
	if ref := CASecretRef(ds); ref != nil && (len(names) == 0 || names[0] != ref.Name) {
		names = append(names, ref.Name)
	}
	return names
}

// Resolve fetches the credentials and CA certificates ds needs. The error names the
// DataSource.
func Resolve(ctx context.Context, ds *chv1.DataSource, creds Credentials) (*Source, error) {
	s := &Source{Name: ds.Namespace + "/" + ds.Name, DataSource: ds}
	if ref := SecretRef(ds); ref != nil {
		if creds == nil {
			return nil, fmt.Errorf("datasource %s: needs secret %s but no credentials were given", s.Name, ref.Name)
		}
		c, err := creds.Credential(ctx, *ref)
		if err != nil {
			return nil, fmt.Errorf("datasource %s: %w", s.Name, err)
		}
		s.cred = &c
	}
	if ref := CASecretRef(ds); ref != nil {
		cas, ok := creds.(CAs)
		if !ok {
			return nil, fmt.Errorf("datasource %s: needs the CA certificates of secret %s but they cannot be read here", s.Name, ref.Name)
		}
		pem, err := cas.CA(ctx, *ref)
		if err != nil {
			return nil, fmt.Errorf("datasource %s: caSecretRef: %w", s.Name, err)
		}
		s.roots = x509.NewCertPool()
		if !s.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("datasource %s: caSecretRef: key %q of secret %s holds no PEM certificate", s.Name, ref.Key, ref.Name)
		}
	}
	return s, nil
}

// OpenOptions say what to read of a source.
type OpenOptions struct {
	// Columns to read, by name, in this order (nil: every column). Keys not listed
	// are added by SQL sources.
	Columns []string
	// Keys are the key columns (default the DataSource's keyColumns).
	Keys []string
	// KeyTypes are the engine types of Keys (SQL ordering follows them).
	KeyTypes []diff.Type
	// Ordered asks a SQL source to sort by the keys; a file is ordered when its spec
	// says sortedByKey.
	Ordered bool
	// Filter is a SQL boolean expression (SQL sources only).
	Filter string
	// HTTPClient for http(s) files; default a client that refuses link-local addresses.
	HTTPClient *http.Client
	// TempDir for spooling; default os.TempDir.
	TempDir string
}

func (o OpenOptions) keys(ds *chv1.DataSource) []string {
	if len(o.Keys) > 0 {
		return o.Keys
	}
	return ds.Spec.KeyColumns
}

// SQLConfig is the sqlsource configuration of a PostgreSQL or MySQL source.
func (s *Source) SQLConfig(o OpenOptions) (sqlsource.Config, error) {
	spec := s.DataSource.Spec
	sq, driver := spec.PostgreSQL, sqlsource.Postgres
	if spec.MySQL != nil {
		sq, driver = spec.MySQL, sqlsource.MySQL
	}
	if sq == nil {
		return sqlsource.Config{}, fmt.Errorf("datasource %s: type %s is not a SQL source", s.Name, spec.Type)
	}
	cfg := sqlsource.Config{
		Driver:   driver,
		Host:     sq.Host,
		Port:     int(sq.Port),
		Database: sq.Database,
		TLS:      sqlsource.TLSMode(sq.TLSMode),
		Table:    sq.Table,
		Query:    sq.Query,
		Filter:   o.Filter,
		Columns:  o.Columns,
		Keys:     o.keys(s.DataSource),
		KeyTypes: o.KeyTypes,
		Ordered:  o.Ordered,
		TimeZone: spec.TimeZone,
		Name:     s.Name,
	}
	if sq.ConnectTimeout != nil {
		cfg.ConnectTimeout = sq.ConnectTimeout.Duration
	}
	if s.cred != nil {
		cfg.User, cfg.Password = s.cred.Username, s.cred.Password
	}
	cfg.RootCAs = s.roots
	return cfg, nil
}

// FileOptions are the source.Open options and the URI of a file source.
func (s *Source) FileOptions(o OpenOptions) (string, source.Options, error) {
	f := s.DataSource.Spec.File
	if f == nil {
		return "", source.Options{}, fmt.Errorf("datasource %s: type %s is not a file source", s.Name, s.DataSource.Spec.Type)
	}
	if err := checkFileURL(s.Name, f.URL); err != nil {
		return "", source.Options{}, err
	}
	client := o.HTTPClient
	if client == nil {
		client = guardedClient()
	}
	opts := source.Options{Columns: o.Columns, Name: s.Name, HTTPClient: client, TempDir: o.TempDir}
	switch f.Format {
	case chv1.FileCSV:
		opts.Format = source.FormatCSV
	case chv1.FileJSONLines:
		opts.Format = source.FormatJSONL
	case chv1.FileParquet:
		opts.Format = source.FormatParquet
	}
	if f.CSV != nil {
		if f.CSV.Delimiter != "" {
			opts.Delimiter = []rune(f.CSV.Delimiter)[0]
		}
		if f.CSV.Quote != "" {
			opts.Quote = []rune(f.CSV.Quote)[0]
		}
		opts.NullMarker = f.CSV.NullValue
	}
	if f.SortedByKey {
		opts.OrderedBy = o.keys(s.DataSource)
	}
	uri := f.URL
	if s.cred != nil && (strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://")) {
		u, err := url.Parse(uri)
		if err != nil {
			return "", source.Options{}, fmt.Errorf("datasource %s: url: %w", s.Name, err)
		}
		if u.Scheme == "http" && !loopback(u.Hostname()) {
			return "", source.Options{}, fmt.Errorf("datasource %s: credentials would travel in clear over http:// to %s: use https://", s.Name, u.Hostname())
		}
		u.User = url.UserPassword(s.cred.Username, s.cred.Password)
		uri = u.String()
	}
	return uri, opts, nil
}

// Open opens the source for reading.
func (s *Source) Open(ctx context.Context, o OpenOptions) (diff.Reader, error) {
	switch {
	case s.DataSource.Spec.PostgreSQL != nil || s.DataSource.Spec.MySQL != nil:
		cfg, err := s.SQLConfig(o)
		if err != nil {
			return nil, err
		}
		return sqlsource.Open(ctx, cfg)
	case s.DataSource.Spec.File != nil:
		if strings.HasPrefix(s.DataSource.Spec.File.URL, "s3://") {
			return nil, fmt.Errorf("datasource %s: s3:// files are not supported yet", s.Name)
		}
		uri, opts, err := s.FileOptions(o)
		if err != nil {
			return nil, err
		}
		r, err := source.Open(ctx, uri, opts)
		if err != nil {
			return nil, fmt.Errorf("datasource %s: %w", s.Name, err)
		}
		return r, nil
	case s.DataSource.Spec.Kafka != nil:
		return s.openKafka(ctx, o)
	}
	return nil, fmt.Errorf("datasource %s: no connection block for type %s", s.Name, s.DataSource.Spec.Type)
}

// Credential returns the resolved credential (nil when the source takes none), for
// connectors such as Kafka that build their own clients.
func (s *Source) Credential() *Credential { return s.cred }
