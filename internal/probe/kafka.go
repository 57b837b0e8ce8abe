package probe

import (
	"context"

	"github.com/clearhouse-dev/clearhouse/internal/connect"
)

// probeKafka asks the brokers for the topic's partitions and end offsets.
// Placeholder until internal/source/kafkasource lands.
func probeKafka(_ context.Context, src *connect.Source) (Result, error) {
	return Result{}, notSupported(src.Name, "Kafka topics")
}
