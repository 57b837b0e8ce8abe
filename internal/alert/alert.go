// Package alert decides whether a ReconciliationJob run alerts and delivers the alert to
// the job's channels: a webhook (JSON with a Slack-compatible text field) and email over
// SMTP.
//
// Delivery never fails a run: Send returns one Result per channel (attempts and error)
// for the caller to turn into an event and a metric. Secret values — the webhook URL,
// which carries a token, and the SMTP password — never appear in a Result's error: a URL
// is shown as scheme://host/… only.
//
// Discrepancy values are sent exactly as given. Pass the discrepancies of the results
// store (store.Discrepancies), which the engine masked before storing (diff.Mask): the
// sample never holds a sensitive value in clear because it never receives one. Do not
// pass discrepancies built from raw rows.
package alert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// DefaultSampleSize is how many discrepancies an alert carries when Notifier.SampleSize
// is zero.
const DefaultSampleSize = 10

// ShouldAlert reports whether a finished run alerts under alerts (nil: the job has no
// alerts):
//
//   - Failed: always (a source error, a bad secret, a timeout);
//   - Truncated: always (the run stopped at limits.maxDiscrepancies, so an unknown part of
//     the data was not compared);
//   - Discrepant: when it found more discrepancies than alerts.threshold;
//   - Balanced: never;
//   - Aborted: never. A run is aborted on purpose — the Replace concurrency policy
//     cancelled it for a newer run, or the job was deleted — and the run that replaces it
//     alerts on its own result;
//   - Interrupted: never. The manager restarted mid-run and the run is retried; the retry
//     alerts if it fails, so a restart alone does not page anyone;
//   - Running: never (not finished).
func ShouldAlert(alerts *chv1.Alerts, run chv1.RunSummary) bool {
	if alerts == nil || len(alerts.Channels) == 0 {
		return false
	}
	switch run.Result {
	case chv1.RunFailed, chv1.RunTruncated:
		return true
	case chv1.RunDiscrepant:
		return Discrepancies(run.Counts) > alerts.Threshold
	}
	return false
}

// Discrepancies is the number of outcomes other than matched in c.
func Discrepancies(c chv1.RunCounts) int64 {
	return c.MissingInTarget + c.MissingInSource + c.Mismatched + c.DuplicateKeys + c.InvalidRows
}

// Alert is what is said about one run.
type Alert struct {
	// Namespace and Job name the ReconciliationJob.
	Namespace string
	Job       string
	// Run is the finished run (status.lastRun).
	Run chv1.RunSummary
	// Threshold is the job's alerts.threshold, quoted in the message.
	Threshold int64
	// Sample holds discrepancies of the run as the results store returns them (already
	// masked). At most Notifier.SampleSize are sent, in the order given.
	Sample []diff.Discrepancy
}

// SecretReader returns the value of key in the Secret called name, in the job's
// namespace. Its errors must name the Secret and the key, never a value. FromCluster
// gives one backed by a Kubernetes client.
type SecretReader func(ctx context.Context, name, key string) (string, error)

// Backoff is the retry policy of one delivery: up to Attempts tries, waiting Initial
// after the first failure and doubling up to Max. There is no jitter: each run sends
// one alert per channel, so there is no herd to spread.
type Backoff struct {
	Attempts int           // tries in all; 0 means 4
	Initial  time.Duration // first wait; 0 means 2s
	Max      time.Duration // longest wait; 0 means 30s
	// Sleep waits d or until ctx is done; nil means a timer. Tests pass one that records
	// the waits and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (b Backoff) withDefaults() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = 4
	}
	if b.Initial <= 0 {
		b.Initial = 2 * time.Second
	}
	if b.Max <= 0 {
		b.Max = 30 * time.Second
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Sleep == nil {
		b.Sleep = sleep
	}
	return b
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Notifier delivers alerts. The zero value is not usable: Secrets is required. A
// Notifier is safe for concurrent use once configured.
type Notifier struct {
	// Secrets reads the webhook URL and the SMTP credentials.
	Secrets SecretReader
	// HTTPClient posts webhooks; nil means a client that follows no redirects (a redirect
	// is reported as a failure rather than sending the alert somewhere unexpected).
	HTTPClient *http.Client
	// TLS is the base TLS configuration for SMTP (RootCAs for a private CA, or a test's
	// self-signed certificate); nil means the system roots. ServerName is set to the
	// relay's host on a copy.
	TLS *tls.Config
	// Backoff is the retry policy of each delivery.
	Backoff Backoff
	// AttemptTimeout bounds one attempt; 0 means 30s.
	AttemptTimeout time.Duration
	// SampleSize is how many discrepancies an alert carries; 0 means DefaultSampleSize.
	SampleSize int
	// ConsoleURL, when set, is a link to the job in a console; "{namespace}", "{job}"
	// and "{run}" are replaced by the path-escaped values.
	ConsoleURL string
	// Now gives the email Date header; nil means time.Now.
	Now func() time.Time
}

// Result is the outcome of one channel's delivery.
type Result struct {
	// Channel is the channel's name, Type "webhook" or "email".
	Channel string
	Type    string
	// Attempts is how many tries were made (0 when the channel was not valid).
	Attempts int
	// Err is nil when the alert was delivered. It never holds a secret value.
	Err error
}

// Send delivers a to every channel, concurrently, retrying each per n.Backoff within
// ctx, and returns one Result per channel in the order of channels. It never returns
// early on a failed channel.
func (n *Notifier) Send(ctx context.Context, channels []chv1.AlertChannel, a Alert) []Result {
	msg := n.message(a)
	results := make([]Result, len(channels))
	var wg sync.WaitGroup
	for i, ch := range channels {
		wg.Go(func() { results[i] = n.deliver(ctx, ch, msg) })
	}
	wg.Wait()
	return results
}

// deliver sends msg to one channel with retries.
func (n *Notifier) deliver(ctx context.Context, ch chv1.AlertChannel, msg *message) Result {
	var attempt func(context.Context) error
	res := Result{Channel: ch.Name}
	switch {
	case ch.Webhook != nil && ch.Email == nil:
		res.Type = "webhook"
		attempt = func(ctx context.Context) error { return n.postWebhook(ctx, ch.Webhook, msg) }
	case ch.Email != nil && ch.Webhook == nil:
		res.Type = "email"
		attempt = func(ctx context.Context) error { return n.sendEmail(ctx, ch.Name, ch.Email, msg) }
	default:
		res.Err = fmt.Errorf("alert channel %q: exactly one of webhook or email must be set", ch.Name)
		return res
	}
	if n.Secrets == nil {
		res.Err = fmt.Errorf("alert channel %q: no secret reader configured", ch.Name)
		return res
	}
	b := n.Backoff.withDefaults()
	timeout := n.AttemptTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	wait := b.Initial
	for {
		res.Attempts++
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := attempt(actx)
		cancel()
		if err == nil {
			res.Err = nil
			return res
		}
		res.Err = fmt.Errorf("alert channel %q (%s), attempt %d of %d: %w", ch.Name, res.Type, res.Attempts, b.Attempts, err)
		var p permanent
		if errors.As(err, &p) || res.Attempts >= b.Attempts || ctx.Err() != nil {
			return res
		}
		if err := b.Sleep(ctx, wait); err != nil {
			res.Err = fmt.Errorf("%w; gave up waiting to retry: %w", res.Err, err)
			return res
		}
		wait = min(2*wait, b.Max)
	}
}

// permanent marks an error retrying cannot fix (a 4xx answer, a rejected recipient, a
// bad certificate, credentials the relay refuses).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// redacted is an error whose text has been checked for secrets. It keeps the cause for
// errors.Is (context deadlines) but shows only its own text.
type redacted struct {
	text  string
	cause error
}

func (r redacted) Error() string { return r.text }
func (r redacted) Unwrap() error { return r.cause }

// scrub replaces every occurrence of the secrets in s with "…". Empty and one-character
// secrets (a "/" path) are skipped.
func scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) > 1 {
			s = strings.ReplaceAll(s, sec, "…")
		}
	}
	return s
}
