package probe

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// TestClassifyKafka pins what kfake cannot show: a broker's SASL refusal is
// AuthenticationFailed, a silent broker Unreachable, a missing topic NotFound.
func TestClassifyKafka(t *testing.T) {
	for _, tc := range []struct {
		err    error
		stage  Stage
		reason string
	}{
		{fmt.Errorf(`datasource ns/src: kafka topic "t" (brokers b:9092): read metadata: %w`, kerr.SaslAuthenticationFailed), StageConnect, ReasonAuthenticationFailed},
		{fmt.Errorf(`datasource ns/src: kafka topic "t" (brokers b:9092): read metadata: %w`, kerr.TopicAuthorizationFailed), StageConnect, ReasonAuthenticationFailed},
		{errors.New(`datasource ns/src: kafka topic "t" (brokers b:9092): read metadata: brokers not reachable within 10s: context deadline exceeded`), StageConnect, ReasonUnreachable},
		{fmt.Errorf("datasource ns/src: %w", kafkasource.ErrTopicNotFound), StageDataset, ReasonNotFound},
		{errors.New(`datasource ns/src: kafka: no brokers`), StageConnect, ReasonInvalidSpec},
	} {
		e := classifyKafka("ns/src", tc.err)
		if e.Stage != tc.stage || e.Reason != tc.reason {
			t.Errorf("%v: %s/%s, want %s/%s", tc.err, e.Stage, e.Reason, tc.stage, tc.reason)
		}
	}
}
