package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// TestRunEndShowsWhileItsAlertHangs: an alert channel that does not answer (a webhook
// during an outage) delays neither the run's end in status nor the job's other work:
// the alert is delivered in the background, its outcome shows when it is known, and
// reconciles meanwhile do not send it again. It used to be sent inside Reconcile, which
// held a worker (of four) for up to two minutes per alert.
func TestRunEndShowsWhileItsAlertHangs(t *testing.T) {
	ns := "rj-alert-async"
	release := make(chan struct{})
	var mu sync.Mutex
	requests := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()
	var once sync.Once
	defer once.Do(func() { close(release) })
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return requests
	}

	p := smallPair(t, ns)
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks"},
		StringData: map[string]string{"slow": hook.URL + "/hook"},
	})
	p.Job.Spec.Alerts = &chv1.Alerts{Threshold: 0, Channels: []chv1.AlertChannel{
		{Name: "slow", Webhook: &chv1.WebhookChannel{URLSecretRef: chv1.SecretKeyRef{Name: "hooks", Key: "slow"}}},
	}}
	p.Job.Spec.RunNonce = "a"
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	id := trigger.RunID(string(getJob(t, p.Job).UID), trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})

	// The run's end is in status while the webhook holds the alert.
	eventually(t, "run "+id+" ends in status while its alert is pending", func() error {
		l := getJob(t, p.Job).Status.LastRun
		switch {
		case l == nil || l.ID != id || l.Result == chv1.RunRunning:
			return fmt.Errorf("lastRun %+v", l)
		case count() == 0:
			return fmt.Errorf("the webhook has not been called yet")
		}
		return nil
	})
	if l := getJob(t, p.Job).Status.LastRun; l.Result != chv1.RunDiscrepant || l.Alert != "" {
		t.Fatalf("lastRun %+v: want Discrepant with no alert outcome yet", l)
	}

	// A reconcile meanwhile (an edit of the spec) does not send the alert again.
	update(t, p.Job, func(j *chv1.ReconciliationJob) { j.Spec.HistoryLimit = 5 })
	eventually(t, "the edit is observed", func() error {
		if j := getJob(t, p.Job); j.Status.ObservedGeneration != j.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", j.Status.ObservedGeneration, j.Generation)
		}
		return nil
	})

	once.Do(func() { close(release) })
	j := waitRunEnded(t, p.Job, id)
	if l := j.Status.LastRun; l.Alert != chv1.AlertSent {
		t.Fatalf("lastRun %+v: want alert Sent once the webhook answered", l)
	}
	if n := count(); n != 1 {
		t.Errorf("the webhook was called %d times, want once", n)
	}
}
