package kafkasource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Errors that Probe and Open wrap, for errors.Is (the message names the topic and
// brokers).
var (
	ErrTopicNotFound = errors.New("kafka topic does not exist")
	ErrUnreachable   = errors.New("kafka brokers not reachable")
)

// kindError is err, also matching kind.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Unwrap() error        { return e.err }
func (e *kindError) Is(target error) bool { return target == e.kind }

// Partition is one partition's offsets: records [Start, End) are readable now.
type Partition struct {
	Partition int32 `json:"partition"`
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
}

// Info is what Probe learns of a topic.
type Info struct {
	Topic string `json:"topic"`
	// Partitions by number.
	Partitions []Partition `json:"partitions"`
	// Records is the sum of End-Start: an upper bound of the rows a snapshot reads
	// (tombstones, control records and compacted-away offsets count too).
	Records int64 `json:"records"`
}

// Probe connects to the brokers and reports the topic's partitions with their start
// and end offsets (end: the last stable offset, what a committed read reaches).
// Everything is bounded by cfg.Timeout. A missing topic and unreachable brokers are
// errors naming the topic and the brokers.
func Probe(ctx context.Context, cfg Config) (Info, error) {
	opts, err := cfg.clientOptions()
	if err != nil {
		return Info{}, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", cfg.describe(), err)
	}
	defer cl.Close()
	return offsets(ctx, cfg, kadm.NewClient(cl))
}

// offsets lists the topic's partitions and offsets within cfg.Timeout.
func offsets(ctx context.Context, cfg Config, adm *kadm.Client) (Info, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	fail := func(what string, err error) (Info, error) {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return Info{}, &kindError{kind: ErrUnreachable, err: fmt.Errorf("%s: %s: brokers not reachable within %s: %w", cfg.describe(), what, cfg.timeout(), err)}
		}
		return Info{}, fmt.Errorf("%s: %s: %w", cfg.describe(), what, err)
	}
	topics, err := adm.ListTopics(ctx, cfg.Topic)
	if err != nil {
		return fail("read metadata", err)
	}
	td, ok := topics[cfg.Topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return Info{}, &kindError{kind: ErrTopicNotFound, err: fmt.Errorf("%s does not exist", cfg.describe())}
	}
	if td.Err != nil {
		return fail("read metadata", td.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, cfg.Topic)
	if err != nil {
		return fail("list start offsets", err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, cfg.Topic)
	if err != nil {
		return fail("list end offsets", err)
	}
	info := Info{Topic: cfg.Topic}
	for p := range td.Partitions {
		s, ok1 := starts.Lookup(cfg.Topic, p)
		e, ok2 := ends.Lookup(cfg.Topic, p)
		switch {
		case !ok1 || !ok2:
			return Info{}, fmt.Errorf("%s: partition %d: no offsets listed", cfg.describe(), p)
		case s.Err != nil:
			return fail(fmt.Sprintf("partition %d start offset", p), s.Err)
		case e.Err != nil:
			return fail(fmt.Sprintf("partition %d end offset", p), e.Err)
		}
		info.Partitions = append(info.Partitions, Partition{Partition: p, Start: s.Offset, End: e.Offset})
		info.Records += max(e.Offset-s.Offset, 0)
	}
	slices.SortFunc(info.Partitions, func(a, b Partition) int { return int(a.Partition - b.Partition) })
	return info, nil
}
