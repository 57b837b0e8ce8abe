package alert

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// rawIBAN is a sensitive value as it sits in the source rows; the engine stores only
// its mask, and the alert must carry only what it was given.
const (
	rawIBAN       = "DE89370400440532013000"
	rawIBANTarget = "DE89370400440532013001"
)

func sampleAlert() Alert {
	end := metav1.NewTime(t0.Add(90 * time.Second))
	cell := func(s string) diff.Cell { return diff.Cell{Text: s} }
	key := func(id string) []diff.KeyValue { return []diff.KeyValue{{Name: "id", Value: cell(id)}} }
	return Alert{
		Namespace: "payments",
		Job:       "ledger-vs-bank",
		Threshold: 5,
		Run: chv1.RunSummary{
			ID: "ledger-vs-bank-20261120-1000", Trigger: "Schedule",
			StartTime: metav1.NewTime(t0), CompletionTime: &end, Result: chv1.RunDiscrepant,
			Counts: chv1.RunCounts{
				Compared: 1000, Matched: 990, MissingInTarget: 4, MissingInSource: 3, Mismatched: 2, DuplicateKeys: 1,
			},
			RowsPerSecond: 11,
		},
		Sample: []diff.Discrepancy{
			{Kind: diff.KindMissingInTarget, Key: key("1001")},
			{Kind: diff.KindMismatch, Key: key("1002"), Columns: []diff.ColumnDiff{
				{Name: "amount", Source: cell("10.00"), Target: cell("10.01")},
				{Name: "iban", Source: cell(diff.Mask(testMaskKey, rawIBAN)), Target: cell(diff.Mask(testMaskKey, rawIBANTarget))},
				{Name: "memo", Source: cell("a <b> & c"), Target: diff.Cell{Null: true}},
			}},
			{Kind: diff.KindDuplicateKey, Key: key("1003"), Side: diff.SideTarget, Count: 2},
			{Kind: diff.KindMissingInSource, Key: key("1004")}, // beyond the sample size of 3
		},
	}
}

// secretMap serves Secret keys from a map ("secret/key" -> value), as FromCluster does
// from the API (tested against a real apiserver in secrets_test.go).
func secretMap(m map[string]string) SecretReader {
	return func(_ context.Context, name, key string) (string, error) {
		v, ok := m[name+"/"+key]
		if !ok {
			return "", fmt.Errorf("secret %s has no key %q", name, key)
		}
		return v, nil
	}
}

// waits records the backoff's waits and returns at once.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return nil
}

func (w *waits) got() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration{}, w.d...)
}

func newNotifier(secrets map[string]string, w *waits) *Notifier {
	return &Notifier{
		Secrets:    secretMap(secrets),
		Backoff:    Backoff{Attempts: 3, Initial: time.Second, Max: 4 * time.Second, Sleep: w.sleep},
		SampleSize: 3,
		Now:        func() time.Time { return t0.Add(2 * time.Minute) },
	}
}

func one(t *testing.T, rs []Result) Result {
	t.Helper()
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	return rs[0]
}

// testMaskKey masks the sample's IBANs as a run would.
var testMaskKey = []byte("clearhouse alert test mask key, 32+ bytes")
