package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/clearhouse-dev/clearhouse/internal/connect"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// probeKafka asks the brokers for the topic's partitions and end offsets. A topic has
// no schema: no columns are reported, and the estimate is the records between the
// start and end offsets (an upper bound of the rows a snapshot reads).
func probeKafka(ctx context.Context, src *connect.Source) (Result, error) {
	cfg, err := src.KafkaConfig()
	if err != nil {
		return Result{}, &Error{DataSource: src.Name, Stage: StageConnect, Reason: ReasonInvalidSpec, Err: err}
	}
	info, err := kafkasource.Probe(ctx, cfg)
	if err != nil {
		return Result{}, classifyKafka(src.Name, fmt.Errorf("datasource %s: %w", src.Name, err))
	}
	ends := make([]string, len(info.Partitions))
	for i, p := range info.Partitions {
		ends[i] = fmt.Sprintf("%d", p.End)
	}
	n := info.Records
	return Result{EstimatedRows: &n,
		Detail: fmt.Sprintf("%d partitions, end offsets %s", len(info.Partitions), strings.Join(ends, ", "))}, nil
}

// classifyKafka tells a missing topic and refused credentials from unreachable brokers.
func classifyKafka(name string, err error) *Error {
	e := &Error{DataSource: name, Err: err}
	switch {
	case errors.Is(err, kafkasource.ErrTopicNotFound):
		e.Stage, e.Reason = StageDataset, ReasonNotFound
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.IllegalSaslState),
		errors.Is(err, kerr.UnsupportedSaslMechanism):
		e.Stage, e.Reason = StageConnect, ReasonAuthenticationFailed
	case strings.HasPrefix(err.Error(), "datasource "+name+": kafka: "):
		e.Stage, e.Reason = StageConnect, ReasonInvalidSpec
	default:
		e.Stage, e.Reason = StageConnect, ReasonUnreachable
	}
	return e
}
