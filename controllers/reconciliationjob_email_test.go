package controllers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"reflect"
	"slices"
	"strings"
	"testing"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/alert/alerttest"
	"github.com/clearhouse-dev/clearhouse/internal/trigger"
)

const (
	smtpUser     = "alerts@clearhouse.example"
	smtpPassword = "smtp-pa55-n0t-in-status"
)

// mailedRuns lists the X-Clearhouse-Run header of each message the relay accepted.
func mailedRuns(t *testing.T, r *alerttest.Relay) []string {
	t.Helper()
	mails, _, _ := r.Received()
	var out []string
	for _, m := range mails {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg.Header.Get("X-Clearhouse-Run"))
	}
	return out
}

// TestEmailAlertThroughTheController: a job whose alerts go to a real SMTP relay
// (credentials from a Secret) mails exactly one message per alerting run through the
// manager, none for reconciles that change nothing, and the SMTP password appears in
// no status or event.
func TestEmailAlertThroughTheController(t *testing.T) {
	ns := "rj-email"
	relay := alerttest.NewRelay(t, "127.0.0.1", nil, true) // loopback: AUTH without TLS is allowed
	relay.Password = smtpPassword
	p := smallPair(t, ns)
	secret(t, ns, "smtp", smtpUser, smtpPassword)
	p.Job.Spec.Alerts = &chv1.Alerts{Threshold: 0, Channels: []chv1.AlertChannel{{Name: "ops-mail", Email: &chv1.EmailChannel{
		To: []string{"ops@bank.example"}, From: "clearhouse@bank.example",
		SMTP: chv1.SMTPServer{Host: relay.Addr.IP.String(), Port: int32(relay.Addr.Port), SecretRef: &chv1.CredentialsSecretRef{Name: "smtp"}},
	}}}}
	p.Job.Spec.RunNonce = "a"
	create(t, p.Source, p.Target, p.Job)
	deleteAtEnd(t, p.Job)
	uid := string(getJob(t, p.Job).UID)

	idA := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "a"})
	j := waitRunEnded(t, p.Job, idA)
	if l := j.Status.LastRun; l.Result != chv1.RunDiscrepant || l.Alert != chv1.AlertSent {
		t.Fatalf("lastRun %+v: want Discrepant, alert Sent", l)
	}
	if got := mailedRuns(t, relay); !reflect.DeepEqual(got, []string{idA}) {
		t.Fatalf("mails for runs %v, want exactly one for %s", got, idA)
	}
	mails, auths, _ := relay.Received()
	m := mails[0]
	if m.User != smtpUser || m.From != "clearhouse@bank.example" || !slices.Equal(m.To, []string{"ops@bank.example"}) {
		t.Errorf("mail authenticated as %q, from %q, to %q", m.User, m.From, m.To)
	}
	if !slices.Equal(auths, []string{smtpUser + ":" + smtpPassword}) {
		t.Errorf("AUTH received %q, want the Secret's credentials once", auths)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	wantSubject := fmt.Sprintf("[Clearhouse] %s/ledger-vs-bank: run %s Discrepant, %d discrepancies", ns, idA, p.Expected.Summary.Discrepancies())
	if got := msg.Header.Get("Subject"); got != wantSubject {
		t.Errorf("subject %q, want %q", got, wantSubject)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "kubectl get reconciliationjob ledger-vs-bank -n "+ns) {
		t.Errorf("body lacks the command to inspect the job:\n%s", body)
	}

	// A reconcile that changes nothing mails nothing; a new nonce mails once more.
	update(t, p.Job, func(j *chv1.ReconciliationJob) { j.Labels = map[string]string{"touched": "1"} })
	setNonce(t, p.Job, "b")
	idB := trigger.RunID(uid, trigger.Trigger{Kind: trigger.Nonce, Nonce: "b"})
	j = waitRunEnded(t, p.Job, idB)
	if got := mailedRuns(t, relay); !reflect.DeepEqual(got, []string{idA, idB}) {
		t.Errorf("mails for runs %v, want one each for %s and %s", got, idA, idB)
	}

	ev := jobEvents(t, p.Job)
	for _, id := range []string{idA, idB} {
		if !slices.Contains(ev, "AlertSent: alert of run "+id+" sent to channel ops-mail") {
			t.Errorf("events %q lack the delivery of run %s", ev, id)
		}
	}
	b, _ := json.Marshal(j.Status)
	for _, text := range append(ev, string(b)) {
		if strings.Contains(text, smtpPassword) {
			t.Errorf("the SMTP password leaks: %s", text)
		}
	}
}
