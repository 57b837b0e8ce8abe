package connect

import (
	"context"
	"fmt"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// openKafka reads a Kafka topic as a snapshot. Placeholder until the Kafka snapshot
// source lands (issue 6).
func (s *Source) openKafka(_ context.Context, _ OpenOptions) (diff.Reader, error) {
	return nil, fmt.Errorf("datasource %s: Kafka sources are not supported yet", s.Name)
}
