package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// hookToken is the secret part of the webhook URL, as in a Slack incoming webhook.
const hookToken = "T0001/B0002/s3cr3tT0k3nXYZ"

// hook is a real HTTP server answering with the given statuses in turn (the last one
// repeats) and keeping every request.
type hook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	reqs     []hookReq
}

type hookReq struct {
	method, path string
	header       http.Header
	body         []byte
}

func newHook(t *testing.T, statuses ...int) *hook {
	h := &hook{statuses: statuses}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookReq{r.Method, r.URL.Path, r.Header.Clone(), body})
		status := h.statuses[min(len(h.reqs), len(h.statuses))-1]
		h.mu.Unlock()
		w.WriteHeader(status)
		if status != http.StatusOK {
			// A careless receiver echoing the request path (with the token) in its error.
			_, _ = io.WriteString(w, "no_service for "+r.URL.Path)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) requests() []hookReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

func (h *hook) url() string { return h.srv.URL + "/services/" + hookToken }

func webhookChannel() []chv1.AlertChannel {
	return []chv1.AlertChannel{{Name: "ops-slack", Webhook: &chv1.WebhookChannel{
		URLSecretRef: chv1.SecretKeyRef{Name: "slack", Key: "url"},
	}}}
}

const wantWebhookBody = `{
  "text": "Clearhouse payments/ledger-vs-bank: run ledger-vs-bank-20261120-1000 found 10 discrepancies, more than the threshold of 5.\nRun ledger-vs-bank-20261120-1000: Discrepant, trigger Schedule, started 2026-11-20T10:00:00Z, finished 2026-11-20T10:01:30Z (took 1m30s), 11 rows/s.\nCompared 1000: matched 990, missing in target 4, missing in source 3, mismatched 2, duplicate keys 1, invalid rows 0.\nInspect: kubectl get reconciliationjob ledger-vs-bank -n payments -o yaml\n",
  "job": {"namespace": "payments", "name": "ledger-vs-bank"},
  "run": {
    "id": "ledger-vs-bank-20261120-1000",
    "trigger": "Schedule",
    "result": "Discrepant",
    "startTime": "2026-11-20T10:00:00Z",
    "completionTime": "2026-11-20T10:01:30Z",
    "durationSeconds": 90,
    "counts": {"compared": 1000, "matched": 990, "missingInTarget": 4, "missingInSource": 3, "mismatched": 2, "duplicateKeys": 1, "invalidRows": 0},
    "discrepancies": 10,
    "rowsPerSecond": 11
  },
  "reason": "found 10 discrepancies, more than the threshold of 5",
  "threshold": 5,
  "sample": [
    {"kind": "missing_in_target", "key": {"id": "1001"}},
    {"kind": "mismatch", "key": {"id": "1002"}, "columns": [
      {"name": "amount", "source": "10.00", "target": "10.01"},
      {"name": "iban", "source": "***123af07300a373b2", "target": "***febbe7cd92e9d445"},
      {"name": "memo", "source": "a \u003cb\u003e \u0026 c", "target": null}
    ]},
    {"kind": "duplicate_key", "key": {"id": "1003"}, "side": "target", "count": 2}
  ],
  "inspect": {"command": "kubectl get reconciliationjob ledger-vs-bank -n payments -o yaml"}
}`

func TestWebhookDelivered(t *testing.T) {
	h := newHook(t, http.StatusOK)
	w := &waits{}
	n := newNotifier(map[string]string{"slack/url": h.url() + "\n"}, w)

	r := one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	if r.Err != nil || r.Attempts != 1 || r.Channel != "ops-slack" || r.Type != "webhook" {
		t.Fatalf("result = %+v", r)
	}
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	req := reqs[0]
	if req.method != http.MethodPost || req.path != "/services/"+hookToken {
		t.Fatalf("request %s %s", req.method, req.path)
	}
	if ct := req.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if got := req.header.Get("X-Clearhouse-Run"); got != "ledger-vs-bank-20261120-1000" {
		t.Fatalf("X-Clearhouse-Run %q", got)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, []byte(wantWebhookBody)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(req.body, want.Bytes()) {
		t.Fatalf("body:\n%s\nwant:\n%s", req.body, want.Bytes())
	}
	for _, raw := range []string{rawIBAN, rawIBANTarget} {
		if bytes.Contains(req.body, []byte(raw)) {
			t.Fatalf("body holds the unmasked value %s", raw)
		}
	}
	// Slack reads the text field; the body also decodes into the documented type.
	var body WebhookBody
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Sample) != 3 || body.Run.Discrepancies != 10 {
		t.Fatalf("decoded body: %+v", body)
	}
	if len(w.got()) != 0 {
		t.Fatalf("waited %v before a first success", w.got())
	}
}

func TestWebhookSlackEscaping(t *testing.T) {
	h := newHook(t, http.StatusOK)
	n := newNotifier(map[string]string{"slack/url": h.url()}, &waits{})
	a := sampleAlert()
	a.Run.Result = chv1.RunFailed
	a.Run.Message = "DataSource <bank> & co: connection refused"
	if r := one(t, n.Send(context.Background(), webhookChannel(), a)); r.Err != nil {
		t.Fatal(r.Err)
	}
	var body WebhookBody
	if err := json.Unmarshal(h.requests()[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body.Text, "Message: DataSource &lt;bank&gt; &amp; co: connection refused\n") {
		t.Fatalf("text not escaped for Slack:\n%s", body.Text)
	}
	if body.Run.Message != "DataSource <bank> & co: connection refused" || body.Reason != "failed" {
		t.Fatalf("run message %q, reason %q", body.Run.Message, body.Reason)
	}
}

func TestWebhookRetriedAfterServerError(t *testing.T) {
	h := newHook(t, http.StatusInternalServerError, http.StatusBadGateway, http.StatusOK)
	w := &waits{}
	n := newNotifier(map[string]string{"slack/url": h.url()}, w)
	r := one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	if r.Err != nil || r.Attempts != 3 {
		t.Fatalf("result = %+v", r)
	}
	if got := w.got(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("waits %v", got)
	}
	reqs := h.requests()
	if len(reqs) != 3 || !bytes.Equal(reqs[0].body, reqs[2].body) {
		t.Fatalf("%d requests, or the retry sent another body", len(reqs))
	}
}

func TestWebhookGivesUpWithRedactedError(t *testing.T) {
	h := newHook(t, http.StatusServiceUnavailable)
	w := &waits{}
	n := newNotifier(map[string]string{"slack/url": h.url()}, w)
	n.Backoff.Attempts = 4
	r := one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	if r.Attempts != 4 || len(h.requests()) != 4 {
		t.Fatalf("attempts %d, requests %d, want 4", r.Attempts, len(h.requests()))
	}
	// Doubling from 1s, capped at 4s.
	if got := w.got(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}) {
		t.Fatalf("waits %v", got)
	}
	want := `alert channel "ops-slack" (webhook), attempt 4 of 4: POST ` + h.srv.URL + `/…: 503 Service Unavailable: no_service for …`
	if r.Err == nil || r.Err.Error() != want {
		t.Fatalf("error %v\nwant %s", r.Err, want)
	}
	if strings.Contains(r.Err.Error(), "s3cr3t") {
		t.Fatal("the error leaks the webhook token")
	}
}

func TestWebhookClientErrorIsNotRetried(t *testing.T) {
	h := newHook(t, http.StatusNotFound)
	w := &waits{}
	n := newNotifier(map[string]string{"slack/url": h.url()}, w)
	r := one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	want := `alert channel "ops-slack" (webhook), attempt 1 of 3: POST ` + h.srv.URL + `/…: 404 Not Found: no_service for …`
	if r.Attempts != 1 || r.Err == nil || r.Err.Error() != want {
		t.Fatalf("result = %+v\nwant error %s", r, want)
	}
	if len(w.got()) != 0 {
		t.Fatalf("waited %v before giving up on a 404", w.got())
	}
}

func TestWebhookUnreachableIsRedacted(t *testing.T) {
	// A port nothing listens on: take one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	n := newNotifier(map[string]string{"slack/url": "http://" + addr + "/services/" + hookToken + "?token=abc123"}, &waits{})
	r := one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	if r.Attempts != 3 || r.Err == nil {
		t.Fatalf("result = %+v", r)
	}
	msg := r.Err.Error()
	if !strings.HasPrefix(msg, `alert channel "ops-slack" (webhook), attempt 3 of 3: POST http://`+addr+`/…: dial tcp `+addr+`: `) ||
		strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "abc123") {
		t.Fatalf("error %q", msg)
	}
}

func TestWebhookBadSecret(t *testing.T) {
	n := newNotifier(map[string]string{"slack/url": "hooks.slack.com/services/" + hookToken}, &waits{})
	r := one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	want := `alert channel "ops-slack" (webhook), attempt 1 of 3: secret slack key url does not hold an http(s) URL`
	if r.Err == nil || r.Err.Error() != want || r.Attempts != 1 {
		t.Fatalf("result %+v\nwant error %s", r, want)
	}

	// A missing key is retried (the Secret may be being written), then reported by name.
	n = newNotifier(map[string]string{}, &waits{})
	r = one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	want = `alert channel "ops-slack" (webhook), attempt 3 of 3: read webhook URL from secret slack key url: secret slack has no key "url"`
	if r.Err == nil || r.Err.Error() != want {
		t.Fatalf("error %v\nwant %s", r.Err, want)
	}
}

func TestSendStopsWaitingWhenContextEnds(t *testing.T) {
	h := newHook(t, http.StatusServiceUnavailable)
	n := newNotifier(map[string]string{"slack/url": h.url()}, &waits{})
	ctx, cancel := context.WithCancel(context.Background())
	n.Backoff.Sleep = func(ctx context.Context, _ time.Duration) error {
		cancel() // the manager shuts down during the first wait
		<-ctx.Done()
		return ctx.Err()
	}
	r := one(t, n.Send(ctx, webhookChannel(), sampleAlert()))
	if r.Attempts != 1 || r.Err == nil || !strings.HasSuffix(r.Err.Error(), "gave up waiting to retry: context canceled") {
		t.Fatalf("result = %+v", r)
	}
}

func TestInvalidChannel(t *testing.T) {
	n := newNotifier(nil, &waits{})
	rs := n.Send(context.Background(), []chv1.AlertChannel{{Name: "both"}}, sampleAlert())
	if r := one(t, rs); r.Attempts != 0 || r.Err == nil || r.Err.Error() != `alert channel "both": exactly one of webhook or email must be set` {
		t.Fatalf("result = %+v", r)
	}
}

func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	h := newHook(t, http.StatusFound)
	n := newNotifier(map[string]string{"slack/url": h.url()}, &waits{})
	r := one(t, n.Send(context.Background(), webhookChannel(), sampleAlert()))
	want := `alert channel "ops-slack" (webhook), attempt 1 of 3: POST ` + h.srv.URL + `/…: 302 Found: no_service for …`
	if r.Attempts != 1 || r.Err == nil || r.Err.Error() != want || len(h.requests()) != 1 {
		t.Fatalf("result = %+v, %d requests\nwant error %s", r, len(h.requests()), want)
	}
}
