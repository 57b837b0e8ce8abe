package connect

import (
	"context"
	"crypto/tls"
	"fmt"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// KafkaConfig is the kafkasource configuration of a Kafka source: its brokers and
// topic, TLS (with caSecretRef's CA when it has one), and SASL (SCRAM-SHA-512, Strimzi's scram-sha-512 listeners) with the
// secretRef's user name and password when it has one. Probes use it with
// kafkasource.Probe.
func (s *Source) KafkaConfig() (kafkasource.Config, error) {
	k := s.DataSource.Spec.Kafka
	if k == nil {
		return kafkasource.Config{}, fmt.Errorf("datasource %s: type %s is not a Kafka source", s.Name, s.DataSource.Spec.Type)
	}
	cfg := kafkasource.Config{
		Brokers:       k.BootstrapServers,
		Topic:         k.Topic,
		TLS:           k.TLS,
		SASLMechanism: k.SASLMechanism,
		Name:          s.Name,
	}
	if s.cred != nil {
		cfg.Username, cfg.Password = s.cred.Username, s.cred.Password
	}
	if s.roots != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}

// openKafka reads a Kafka topic as a snapshot: every committed record up to the end
// offsets at the start of the read. Columns and keys are JSON field paths.
func (s *Source) openKafka(ctx context.Context, o OpenOptions) (diff.Reader, error) {
	if o.Filter != "" {
		// A filter silently ignored would compare more rows than asked for.
		return nil, fmt.Errorf("datasource %s: a filter is only supported on PostgreSQL and MySQL sources", s.Name)
	}
	cfg, err := s.KafkaConfig()
	if err != nil {
		return nil, err
	}
	r, err := kafkasource.Open(ctx, cfg, kafkasource.Options{
		Columns: o.Columns, Keys: o.keys(s.DataSource),
		ValuePath:    s.DataSource.Spec.Kafka.ValuePath,
		LatestPerKey: s.DataSource.Spec.Kafka.Read == chv1.KafkaLatestPerKey,
	})
	if err != nil {
		return nil, fmt.Errorf("datasource %s: %w", s.Name, err)
	}
	return r, nil
}
