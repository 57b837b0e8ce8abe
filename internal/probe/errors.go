package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/connect"
)

// Stage is how far a probe got before it failed.
type Stage string

// Stages, in order. A failure before StageSchema means the dataset could not be
// reached; a failure at StageSchema means it was reached but not understood.
const (
	// StageCredentials: the Secret the DataSource references could not be read.
	StageCredentials Stage = "Credentials"
	// StageConnect: the server, the broker or the file could not be reached, or refused
	// the credentials.
	StageConnect Stage = "Connect"
	// StageDataset: the server answered, but the table, topic or file is not there.
	StageDataset Stage = "Dataset"
	// StageSchema: the dataset is there but its columns could not be learned.
	StageSchema Stage = "Schema"
)

// Reasons of a failed probe: a closed set, used as condition reasons.
const (
	ReasonCredentialsUnavailable = "CredentialsUnavailable"
	ReasonUnreachable            = "Unreachable"
	ReasonTimeout                = "Timeout"
	ReasonAuthenticationFailed   = "AuthenticationFailed"
	ReasonNotFound               = "NotFound"
	ReasonInvalidSpec            = chv1.ReasonInvalidSpec
	ReasonNotSupported           = "NotSupported"
	ReasonDiscoveryFailed        = "DiscoveryFailed"
)

// Error is a failed probe.
type Error struct {
	// DataSource is namespace/name.
	DataSource string
	Stage      Stage
	Reason     string
	// Err is the cause; its text names the server or file and never a credential.
	Err error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	// The layers below already name the DataSource in most messages.
	if strings.Contains(msg, e.DataSource) {
		return msg
	}
	return "datasource " + e.DataSource + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

// Reached reports whether the dataset itself was reached (only its schema failed).
func (e *Error) Reached() bool { return e.Stage == StageSchema }

// Run resolves the credentials of ds and probes it. A Secret that cannot be read is
// an *Error at StageCredentials.
func Run(ctx context.Context, ds *chv1.DataSource, creds connect.Credentials) (Result, error) {
	src, err := connect.Resolve(ctx, ds, creds)
	if err != nil {
		return Result{}, &Error{DataSource: ds.Namespace + "/" + ds.Name, Stage: StageCredentials, Reason: ReasonCredentialsUnavailable, Err: err}
	}
	return Probe(ctx, src)
}

// PostgreSQL SQLSTATE classes and codes, MySQL error numbers.
const (
	pgInvalidPassword   = "28P01"
	pgInvalidAuthSpec   = "28000"
	pgInvalidCatalog    = "3D000"
	pgUndefinedTable    = "42P01"
	pgNoPrivilege       = "42501"
	myAccessDenied      = 1045
	myDBAccessDenied    = 1044
	myBadDB             = 1049
	myNoSuchTable       = 1146
	myTableAccessDenied = 1142
)

var (
	reSQLState    = regexp.MustCompile(`\(SQLSTATE ([0-9A-Z]{5})\)`)
	reMySQLNumber = regexp.MustCompile(`Error ([0-9]{4,5}) \([0-9A-Z]{5}\)`)
	// reHTTPUnavailable is source.Open's error for a 5xx or 429 answer ("GET url: 503 ...").
	reHTTPUnavailable = regexp.MustCompile(`GET \S+: (5[0-9][0-9]|429) `)
)

// classifySQL tells from a sqlsource error how far the probe got. sqlsource keeps the
// drivers' errors in the chain (unless their text held the password, in which case only
// the message is left, and the last rules decide).
func classifySQL(name string, err error) *Error {
	e := &Error{DataSource: name, Err: err}
	var pgErr *pgconn.PgError
	var myErr *mysql.MySQLError
	var netErr net.Error
	// A redacted error keeps only its text: recover the server's code from it.
	if !errors.As(err, &pgErr) && !errors.As(err, &myErr) {
		if m := reSQLState.FindStringSubmatch(err.Error()); m != nil {
			pgErr = &pgconn.PgError{Code: m[1]}
			err = fmt.Errorf("%w%w", err, pgErr)
		} else if m := reMySQLNumber.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			myErr = &mysql.MySQLError{Number: uint16(n)}
			err = fmt.Errorf("%w%w", err, myErr)
		}
	}
	switch {
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case pgInvalidPassword, pgInvalidAuthSpec, pgNoPrivilege:
			// Refused credentials, or ones that may not read the table (as Kafka's
			// topic authorization).
			e.Stage, e.Reason = StageConnect, ReasonAuthenticationFailed
		case pgInvalidCatalog, pgUndefinedTable:
			e.Stage, e.Reason = StageDataset, ReasonNotFound
		default:
			e.Stage, e.Reason = StageSchema, ReasonDiscoveryFailed
		}
	case errors.As(err, &myErr):
		switch myErr.Number {
		case myAccessDenied, myDBAccessDenied:
			e.Stage, e.Reason = StageConnect, ReasonAuthenticationFailed
		case myBadDB, myNoSuchTable, myTableAccessDenied:
			e.Stage, e.Reason = StageDataset, ReasonNotFound
		default:
			e.Stage, e.Reason = StageSchema, ReasonDiscoveryFailed
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.Stage, e.Reason = StageConnect, ReasonTimeout
	case errors.As(err, &netErr):
		e.Stage, e.Reason = StageConnect, ReasonUnreachable
	case strings.Contains(err.Error(), "no such table or view"):
		e.Stage, e.Reason = StageDataset, ReasonNotFound
	case strings.Contains(err.Error(), ": connecting: "):
		e.Stage, e.Reason = StageConnect, ReasonUnreachable
	case strings.HasPrefix(err.Error(), "sqlsource:"):
		e.Stage, e.Reason = StageConnect, ReasonInvalidSpec
	default:
		e.Stage, e.Reason = StageSchema, ReasonDiscoveryFailed
	}
	return e
}

// classifyFile tells a missing file from an unreachable server.
func classifyFile(name string, err error) *Error {
	e := &Error{DataSource: name, Err: err}
	var netErr net.Error
	msg := err.Error()
	switch {
	case errors.Is(err, os.ErrNotExist) || strings.Contains(msg, ": 404 ") || strings.Contains(msg, ": 410 "):
		e.Stage, e.Reason = StageDataset, ReasonNotFound
	case errors.Is(err, os.ErrPermission) || strings.Contains(msg, ": 401 ") || strings.Contains(msg, ": 403 "):
		e.Stage, e.Reason = StageConnect, ReasonAuthenticationFailed
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "context deadline exceeded") || strings.Contains(msg, "Client.Timeout"):
		e.Stage, e.Reason = StageConnect, ReasonTimeout
	case errors.As(err, &netErr) || strings.Contains(msg, "dial tcp") || strings.Contains(msg, "no such host") || strings.Contains(msg, "connection refused") ||
		reHTTPUnavailable.MatchString(msg):
		// A server error or a refusal to serve now (5xx, 429): the file was not reached.
		// source.Open formats http errors with %v: only their text is left.
		e.Stage, e.Reason = StageConnect, ReasonUnreachable
	default:
		e.Stage, e.Reason = StageSchema, ReasonDiscoveryFailed
	}
	return e
}

// notSupported is the error of a source this version cannot probe.
func notSupported(name, what string) *Error {
	return &Error{DataSource: name, Stage: StageConnect, Reason: ReasonNotSupported, Err: fmt.Errorf("%s cannot be probed yet", what)}
}
