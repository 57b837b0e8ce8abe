package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/manager"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// TestShutdownDuringAnAlertCountsNoFailedDelivery: a manager that stops while a run's
// alert is being delivered does not know the outcome, and leaves it for the next
// leader to send: it must not count (clearhouse_alert_delivery_failures_total, an
// AlertFailed event) a delivery failure that did not happen, which would page on every
// rolling update that meets a slow channel.
func TestShutdownDuringAnAlertCountsNoFailedDelivery(t *testing.T) {
	cp, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cp.Stop() }()
	c := cp.Client
	ctx := context.Background()

	var mu sync.Mutex
	requests := 0
	closing := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body) // so that the server sees the client go
		select {                           // never answers
		case <-r.Context().Done():
		case <-closing:
		}
	}))
	defer hook.Close()
	defer close(closing)

	reg := prometheus.NewRegistry()
	m, err := manager.New(cp.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0",
		DataDir: t.TempDir(), Clock: clocktesting.NewFakeClock(time.Now().Add(24 * time.Hour)),
		MetricsRegistry: reg, SeveralInProcess: true,
		Alerts: alert.Notifier{Backoff: alert.Backoff{Attempts: 2, Initial: 10 * time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Start(mctx) }()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		}
	}()

	ns := "alert-shutdown"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	p := runnertest.Generate(t, smallConfig(t), ns, nil)
	if err := c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks"},
		StringData: map[string]string{"held": hook.URL + "/hook"},
	}); err != nil {
		t.Fatal(err)
	}
	p.Job.Spec.Alerts = &chv1.Alerts{Threshold: 0, Channels: []chv1.AlertChannel{
		{Name: "held", Webhook: &chv1.WebhookChannel{URLSecretRef: chv1.SecretKeyRef{Name: "hooks", Key: "held"}}},
	}}
	p.Job.Spec.RunNonce = "a"
	for _, o := range []client.Object{p.Source, p.Target, p.Job} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	id := trigger.RunID(string(p.Job.UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	eventually(t, "run "+id+" ends while its alert is held", func() error {
		var j chv1.ReconciliationJob
		if err := c.Get(ctx, client.ObjectKeyFromObject(p.Job), &j); err != nil {
			return err
		}
		mu.Lock()
		n := requests
		mu.Unlock()
		if l := j.Status.LastRun; l == nil || l.ID != id || l.Result == chv1.RunRunning || n == 0 {
			return fmt.Errorf("lastRun %+v, %d requests", l, n)
		}
		return nil
	})

	stop()
	if err := <-done; err != nil {
		t.Errorf("manager: %v", err)
	}
	stopped = true

	var j chv1.ReconciliationJob
	if err := c.Get(ctx, client.ObjectKeyFromObject(p.Job), &j); err != nil {
		t.Fatal(err)
	}
	if l := j.Status.LastRun; l.Alert != "" {
		t.Errorf("lastRun %+v: a stopped manager does not know the alert's outcome; the next leader sends it", l)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "clearhouse_alert_delivery_failures_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			if v := s.GetCounter().GetValue(); v != 0 {
				t.Errorf("clearhouse_alert_delivery_failures_total %v = %v after a shutdown during the delivery, want 0: nothing failed", s.GetLabel(), v)
			}
		}
	}
}
