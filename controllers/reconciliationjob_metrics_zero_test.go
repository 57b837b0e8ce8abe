package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// TestCountersAtZeroBeforeTheFirstFailure: as soon as the manager knows a job
// (before any run), its failure counter and the alert counters of each of its channels
// are served at 0, so that a rule like increase(clearhouse_run_failures_total[1h]) > 0
// or increase(clearhouse_alert_delivery_failures_total[1h]) > 0 sees the first failure
// (a series born at 1 shows no increase). When the job is deleted, every series of it
// goes.
func TestCountersAtZeroBeforeTheFirstFailure(t *testing.T) {
	p := smallPair(t, "rj-metrics-zero")
	p.Job.Spec.Alerts = &chv1.Alerts{Channels: []chv1.AlertChannel{
		{Name: "pager", Webhook: &chv1.WebhookChannel{URLSecretRef: chv1.SecretKeyRef{Name: "hooks", Key: "pager"}}},
	}}
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	eventually(t, "first status", func() error {
		return cond(getJob(t, p.Job), chv1.JobBalanced, metav1.ConditionUnknown, chv1.ReasonNeverRun, "")
	})
	labels := `namespace="rj-metrics-zero",reconciliationjob="` + p.Job.Name + `"`
	scrape(t, map[string]float64{
		`clearhouse_run_failures_total{` + labels + `}`:                            0,
		`clearhouse_alerts_sent_total{channel="pager",` + labels + `}`:             0,
		`clearhouse_alert_delivery_failures_total{channel="pager",` + labels + `}`: 0,
	})

	if err := env.Client.Delete(context.Background(), p.Job); err != nil {
		t.Fatal(err)
	}
	eventually(t, "series gone", func() error {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, labels) {
				return fmt.Errorf("still served after deletion: %s", line)
			}
		}
		return nil
	})
}
