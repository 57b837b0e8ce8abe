// Package kafkasource reads a Kafka topic of JSON values as a snapshot for the
// comparison engine, with franz-go: every partition from its earliest offset to the
// end offset it had when the read started (records written later are not read), then
// the reader returns io.EOF. Probe reports a topic's partitions and offsets.
//
// # Rows
//
// Each record's value is one JSON object; with Options.ValuePath ("after" for a
// Debezium change event) the row is the object at that path inside the value. A
// column is a field path into the row: "amount" is the member amount, "payment.id"
// the member id of the object payment (a member whose name holds the dot itself,
// "payment.id", is preferred when both exist). Nested objects are not flattened: a
// column naming an object or an array gets its compact JSON text. Values follow the
// JSON Lines reader of internal/source exactly:
//
//   - a missing member and JSON null are NULL (distinct from the empty string);
//   - a string is its decoded text;
//   - a number is its literal text as written ("10.50" stays "10.50");
//   - true/false are "true"/"false";
//   - an object or array is its compact JSON text.
//
// Without Options.Columns the columns are the members of the first row, in order.
// Key columns missing from Columns are added.
//
// # What is not a row
//
//   - A tombstone (a record with a nil value) deletes its key in a compacted topic and
//     is no row: it is skipped and counted (Stats).
//   - With a ValuePath, a value whose path is JSON null (a Debezium delete event,
//     "after": null) is skipped and counted as a delete.
//   - Transaction control records are skipped; only committed records are read. When
//     the records just below a partition's end offset belong to an aborted
//     transaction (the client leaves them out), the partition is done at the first
//     record past the end: while another producer keeps its transaction open, the
//     read waits for it (and the run's deadline ends it with an error).
//   - A value that is not valid JSON, not a JSON object, lacks the ValuePath, or holds
//     a string with invalid UTF-8 or a lone surrogate escape (as in JSON Lines) is a
//     *source.RowError naming the partition and offset: the engine reports an
//     invalid_row and reads on. It never ends the read.
//   - Records deleted under the read (retention, DeleteRecords) fail it: the snapshot
//     would be incomplete.
//
// By default every record is one row: a topic holding several versions of a key (a
// CDC topic with updates) gives duplicate keys, which the engine reports as
// duplicate_key.
//
// # Latest row per key
//
// With Options.LatestPerKey the topic is read as the table it describes, as log
// compaction would leave it: within a partition, a later row of a key replaces the
// earlier one, and a tombstone or a delete removes the key. The key a tombstone or
// delete removes is read from the record's key: a JSON object holding the key
// columns (Debezium's {"id": 1}), or, with a single key column, a JSON scalar or
// plain text; when it cannot be told, the record is a RowError (the row it meant to
// remove may remain). Keys are only merged within a partition: a key found in two
// partitions is two rows (which one is later cannot be known), and the engine reports
// duplicate_key; a tombstone or delete of a key whose row is in another partition is
// not applied and is a RowError naming that partition (returned after the rows), so
// that a row the topic may have deleted is never compared as current unflagged. Rows with a NULL or empty key component are never merged. A record
// that is no row (a RowError) whose record key tells the key removes that key's older
// row too: its latest version is the bad one. The whole
// snapshot is read before the first row is returned, and one row per key is held in
// memory.
//
// Rows come in no particular order across partitions; the reader is not a
// diff.OrderedReader.
package kafkasource

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultTimeout bounds connecting and listing offsets when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// SASL mechanisms.
const (
	ScramSHA512 = "SCRAM-SHA-512" // Strimzi's scram-sha-512 listeners; the default
	ScramSHA256 = "SCRAM-SHA-256"
	Plain       = "PLAIN"
)

// Config says where a topic is. The password never appears in an error.
type Config struct {
	// Brokers are bootstrap servers as host:port.
	Brokers []string
	// Topic to read.
	Topic string
	// Username and Password authenticate with SASL when Username is set.
	Username, Password string
	// SASLMechanism is SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN.
	SASLMechanism string
	// TLS connects with TLS, verifying the brokers against the system's roots (or
	// TLSConfig's).
	TLS bool
	// TLSConfig replaces the default TLS configuration (implies TLS).
	TLSConfig *tls.Config
	// Timeout bounds connecting, reading the topic's metadata and listing offsets
	// (default 10s). Reading the records is bounded by the context given to Open.
	Timeout time.Duration
	// Name is used in positions and errors; default the topic.
	Name string
	// Dialer, when set, opens the connections (tests, proxies).
	Dialer func(ctx context.Context, network, host string) (net.Conn, error)
}

func (c Config) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Topic
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// describe names the topic and brokers for errors.
func (c Config) describe() string {
	return fmt.Sprintf("kafka topic %q (brokers %s)", c.Topic, strings.Join(c.Brokers, ","))
}

func (c Config) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	if c.Topic == "" {
		return errors.New("kafka: no topic")
	}
	return nil
}

// clientOptions are the franz-go options of a connection (no consuming yet).
func (c Config) clientOptions() ([]kgo.Opt, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DialTimeout(c.timeout()),
		// A wrong address fails within the timeout instead of retrying forever.
		kgo.RetryTimeout(c.timeout()),
		// Bounds each request beyond its own wait, the connection's handshake too
		// (a listener that never answers), which the context does not reach.
		kgo.RequestTimeoutOverhead(c.timeout()),
		kgo.ClientID("clearhouse"),
	}
	if c.Dialer != nil {
		opts = append(opts, kgo.Dialer(c.Dialer))
	}
	if c.TLS || c.TLSConfig != nil {
		tc := c.TLSConfig
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.Username != "" {
		m, err := c.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(c.SASLMechanism) {
	case "", ScramSHA512:
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism(), nil
	case ScramSHA256:
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism(), nil
	case Plain:
		return plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism(), nil
	}
	return nil, fmt.Errorf("kafka: SASL mechanism %q is not one of %s, %s, %s", c.SASLMechanism, ScramSHA512, ScramSHA256, Plain)
}
