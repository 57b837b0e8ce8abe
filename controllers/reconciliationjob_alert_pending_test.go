package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// heldHook is a webhook that holds every request until released.
type heldHook struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	release  chan struct{}
	once     sync.Once
}

func serveHeldHook(t *testing.T) *heldHook {
	t.Helper()
	h := &heldHook{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.requests++
		h.mu.Unlock()
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(func() {
		h.open()
		h.Close()
	})
	return h
}

func (h *heldHook) open() { h.once.Do(func() { close(h.release) }) }

func (h *heldHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests
}

// heldAlertJob creates a job whose only alert channel is h, and starts its nonce run;
// it returns the run's id once its end is in status and its alert is held.
func heldAlertJob(t *testing.T, ns string, h *heldHook) (*runnertest.Pair, string) {
	t.Helper()
	p := smallPair(t, ns)
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks"},
		StringData: map[string]string{"held": h.URL + "/hook"},
	})
	p.Job.Spec.Alerts = &chv1.Alerts{Threshold: 0, Channels: []chv1.AlertChannel{
		{Name: "held", Webhook: &chv1.WebhookChannel{URLSecretRef: chv1.SecretKeyRef{Name: "hooks", Key: "held"}}},
	}}
	p.Job.Spec.RunNonce = "a"
	create(t, p.Source, p.Target, p.Job)
	id := trigger.RunID(string(getJob(t, p.Job).UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	eventually(t, "run "+id+" ends in status while its alert is held", func() error {
		l := getJob(t, p.Job).Status.LastRun
		switch {
		case l == nil || l.ID != id || l.Result == chv1.RunRunning:
			return fmt.Errorf("lastRun %+v", l)
		case h.count() == 0:
			return fmt.Errorf("the webhook has not been called yet")
		}
		return nil
	})
	return p, id
}

// TestOpenCasesShowWithTheRunWhileItsAlertIsPending: the open cases of a discrepant
// run are counted when its end is reported, not when its alert's outcome is known:
// status (and `kubectl get -o wide`) never shows a discrepant last run with the open
// cases of before it while a channel hangs.
func TestOpenCasesShowWithTheRunWhileItsAlertIsPending(t *testing.T) {
	h := serveHeldHook(t)
	p, id := heldAlertJob(t, "rj-alert-cases", h)
	deleteAtEnd(t, p.Job)
	// Within a few seconds, well before alertTimeout gives the held alert up.
	deadline := time.Now().Add(20 * time.Second)
	for {
		j := getJob(t, p.Job)
		if l := j.Status.LastRun; l.Alert != "" {
			t.Fatalf("lastRun %+v: the alert is no longer pending; the test proves nothing", l)
		}
		if j.Status.OpenCases > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lastRun %s is %s with %d discrepancies but status shows %d open cases while its alert is pending",
				id, j.Status.LastRun.Result, j.Status.Discrepancies, j.Status.OpenCases)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.open()
	waitRunEnded(t, p.Job, id)
}
