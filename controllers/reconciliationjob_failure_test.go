package controllers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/alert"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

// hook is a real local webhook receiver that records the alerts it accepts.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []alert.WebhookBody
}

func serveHook(t *testing.T, status int) *hook {
	t.Helper()
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body alert.WebhookBody
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if status == http.StatusOK {
			h.mu.Lock()
			h.bodies = append(h.bodies, body)
			h.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) runs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.bodies {
		out = append(out, b.Run.ID+"="+string(b.Run.Result))
	}
	return out
}

// TestFailedRunIsRetriedWithBackoffAndAlertsOncePerRun: a source that goes down fails
// the run with a reason naming the DataSource; the run is retried (10s, then 20s on the
// fake clock) as new runs; each finished run alerts exactly once (a webhook that works
// receives each, one that refuses becomes an event and a metric), and Balanced is
// never True for a run that did not complete. The metrics endpoint shows the series.
func TestFailedRunIsRetriedWithBackoffAndAlertsOncePerRun(t *testing.T) {
	ok, refusing := serveHook(t, http.StatusOK), serveHook(t, http.StatusInternalServerError)
	p, g := gatedPair(t, "rj-fail", "")
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "rj-fail", Name: "hooks"},
		StringData: map[string]string{"ok": ok.URL + "/hook?token=s3cr3t-token", "refusing": refusing.URL + "/hook?token=s3cr3t-token"},
	})
	update(t, p.Job, func(j *chv1.ReconciliationJob) {
		j.Spec.Alerts = &chv1.Alerts{Threshold: 0, Channels: []chv1.AlertChannel{
			{Name: "ok", Webhook: &chv1.WebhookChannel{URLSecretRef: chv1.SecretKeyRef{Name: "hooks", Key: "ok"}}},
			{Name: "refusing", Webhook: &chv1.WebhookChannel{URLSecretRef: chv1.SecretKeyRef{Name: "hooks", Key: "refusing"}}},
		}}
	})
	uid := string(p.Job.UID)

	g.setFailing(true)
	setNonce(t, p.Job, "a")
	id := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	j := waitRunEnded(t, p.Job, id)
	last := j.Status.LastRun
	if last.Result != chv1.RunFailed || !strings.Contains(last.Message, "rj-fail/ledger") || !strings.Contains(last.Message, "503") {
		t.Fatalf("lastRun %+v: want Failed naming DataSource rj-fail/ledger and the 503", last)
	}
	if err := cond(j, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonFailed, id); err != nil {
		t.Error(err)
	}
	if last.Alert != chv1.AlertFailed { // the refusing channel failed
		t.Errorf("alert %q, want Failed", last.Alert)
	}

	// First retry after 10s: the source is still down.
	clk.Step(10 * time.Second)
	j = waitRunEnded(t, p.Job, id+"-r1")
	if j.Status.LastRun.Result != chv1.RunFailed || j.Status.LastRun.Trigger != "Nonce" {
		t.Fatalf("retry 1: %+v", j.Status.LastRun)
	}
	// Second retry after 20s more: the source is back.
	g.setFailing(false)
	clk.Step(20 * time.Second)
	j = waitRunEnded(t, p.Job, id+"-r2")
	if j.Status.LastRun.Result != chv1.RunDiscrepant || j.Status.LastRun.Counts != counts(p) {
		t.Fatalf("retry 2: %+v", j.Status.LastRun)
	}
	if err := cond(j, chv1.JobBalanced, metav1.ConditionFalse, chv1.ReasonDiscrepant, id+"-r2"); err != nil {
		t.Error(err)
	}

	want := []string{id + "=Failed", id + "-r1=Failed", id + "-r2=Discrepant"}
	if got := ok.runs(); !reflect.DeepEqual(got, want) {
		t.Errorf("webhook received %v, want one alert per run %v", got, want)
	}
	if got := runIDs(storeRuns(t, p.Job)); !reflect.DeepEqual(got, []string{id + "=failed", id + "-r1=failed", id + "-r2=discrepant"}) {
		t.Errorf("runs %v", got)
	}
	// Reconciles that change nothing (a label) do not alert again.
	update(t, p.Job, func(j *chv1.ReconciliationJob) { j.Labels = map[string]string{"again": "1"} })
	eventually(t, "labelled", func() error {
		if getJob(t, p.Job).Labels["again"] != "1" {
			return fmt.Errorf("label not seen")
		}
		return nil
	})
	if got := ok.runs(); len(got) != 3 {
		t.Errorf("webhook received %v after a no-op reconcile", got)
	}

	ev := jobEvents(t, p.Job)
	if !containsPrefix(ev, "AlertFailed: alert of run "+id+" to channel refusing failed after 2 attempts") ||
		!containsPrefix(ev, "RunFailed: run "+id+" failed: ") {
		t.Errorf("events %q lack the failed run and the failed delivery", ev)
	}
	for _, e := range ev {
		if strings.Contains(e, "s3cr3t") {
			t.Errorf("event leaks the webhook token: %s", e)
		}
	}

	// The metrics endpoint serves the job's series.
	labels := `namespace="rj-fail",reconciliationjob="ledger-vs-bank"`
	s := p.Expected.Summary
	scrape(t, map[string]float64{
		`clearhouse_runs_total{` + labels + `,result="Failed"}`:                                2,
		`clearhouse_runs_total{` + labels + `,result="Discrepant"}`:                            1,
		`clearhouse_run_failures_total{` + labels + `}`:                                        2,
		`clearhouse_rows_compared_total{` + labels + `}`:                                       float64(s.Compared),
		`clearhouse_discrepancies{kind="mismatch",` + labels + `}`:                             float64(s.Mismatched),
		`clearhouse_discrepancies{kind="missing_in_target",` + labels + `}`:                    float64(s.MissingInTarget),
		`clearhouse_open_cases{` + labels + `}`:                                                float64(getJob(t, p.Job).Status.OpenCases),
		`clearhouse_alerts_sent_total{channel="ok",` + labels + `}`:                            3,
		`clearhouse_alert_delivery_failures_total{channel="refusing",` + labels + `}`:          3,
		`clearhouse_run_duration_seconds_count{` + labels + `,result="Failed"}`:                2,
		`clearhouse_last_successful_run_timestamp_seconds{` + labels + `}`:                     float64(j.Status.LastRun.CompletionTime.Unix()),
		`clearhouse_run_in_progress{` + labels + `}`:                                           0,
		`clearhouse_run_duration_seconds_bucket{` + labels + `,result="Discrepant",le="+Inf"}`: 1,
	})
	if getJob(t, p.Job).Status.OpenCases == 0 {
		t.Error("no open cases after a discrepant run")
	}
}

// scrape reads the suite manager's metrics endpoint and checks exact values of series.
func scrape(t *testing.T, want map[string]float64) {
	t.Helper()
	eventually(t, "metrics", func() error {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		got := map[string]float64{}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			var v float64
			if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
				got[line[:i]] = v
			}
		}
		for series, v := range want {
			g, ok := got[series]
			if !ok {
				return fmt.Errorf("no series %s", series)
			}
			if g != v {
				return fmt.Errorf("%s = %v, want %v", series, g, v)
			}
		}
		return nil
	})
}

// TestBadSecretNeverShowsBalanced: a PostgreSQL DataSource whose Secret holds a wrong
// password keeps the job from a balanced result: the job reports the DataSource by name
// (Ready=False SourceNotReady, or a failed run naming it), never the password.
func TestBadSecretNeverShowsBalanced(t *testing.T) {
	ns := "rj-badsecret"
	p := smallPair(t, ns)
	db := testdb.NewPostgres(t)
	p.OnPostgres(t, db, "pg")
	secret(t, ns, "pg", db.Server.User, "wr0ng-pa55word")
	p.Job.Spec.RunNonce = "go"
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	eventually(t, "the job names the DataSource", func() error {
		j := getJob(t, p.Job)
		if l := j.Status.LastRun; l != nil && l.Result == chv1.RunFailed && strings.Contains(l.Message, "ledger") {
			return nil
		}
		return cond(j, chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonSourceError, `DataSource "ledger"`)
	})
	j := getJob(t, p.Job)
	if c := j.Status.Conditions; cond(j, chv1.JobBalanced, metav1.ConditionTrue, chv1.ReasonBalanced, "") == nil {
		t.Errorf("Balanced with a bad secret: %v", c)
	}
	b, _ := json.Marshal(j.Status)
	for _, text := range append(jobEvents(t, p.Job), string(b)) {
		if strings.Contains(text, "wr0ng-pa55word") {
			t.Errorf("the password leaks: %s", text)
		}
	}
}
