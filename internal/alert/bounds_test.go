package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clearhouse-dev/clearhouse/internal/alert/alerttest"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// A run over a table with large text columns (a memo, a JSON document, a blob read as
// text) or a failure quoting a long statement must still give an alert a receiver
// accepts: the webhook sample's values are bounded like the email table's, and so are
// the invalid-row reason and the run message. Unbounded, ten 1 MiB values make a
// 10 MiB POST that Slack and most gateways answer 413 — a 4xx, final: the alert is lost.
func TestWebhookBoundsLargeValues(t *testing.T) {
	h := newHook(t, http.StatusOK)
	n := newNotifier(map[string]string{"slack/url": h.url()}, &waits{})
	big := strings.Repeat("x", 1<<20)
	a := sampleAlert()
	a.Run.Message = "source query failed: " + big
	a.Sample = []diff.Discrepancy{
		{Kind: diff.KindMismatch, Key: []diff.KeyValue{{Name: "id", Value: diff.Cell{Text: big}}}, Columns: []diff.ColumnDiff{
			{Name: "memo", Source: diff.Cell{Text: big}, Target: diff.Cell{Text: big + "y"}},
		}},
		{Kind: diff.KindInvalidRow, Side: diff.SideSource, Position: "line " + big, Reason: "column amount: " + big + " is not a valid decimal"},
	}
	orig := a.Sample[0].Columns[0].Source.Text
	res := one(t, n.Send(context.Background(), webhookChannel(), a))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if got := len(reqs[0].body); got > 16<<10 {
		t.Fatalf("webhook body is %d bytes, want at most 16 KiB", got)
	}
	var body struct {
		Sample []struct {
			Key     map[string]*string `json:"key"`
			Columns []struct {
				Source, Target *string
			} `json:"columns"`
			Reason   string `json:"reason"`
			Position string `json:"position"`
		} `json:"sample"`
	}
	if err := json.Unmarshal(reqs[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if got := *body.Sample[0].Columns[0].Source; utf8.RuneCountInString(got) != maxCell || !strings.HasSuffix(got, "…") {
		t.Fatalf("sample value of %d runes, want %d ending in …", utf8.RuneCountInString(got), maxCell)
	}
	if got := *body.Sample[0].Key["id"]; utf8.RuneCountInString(got) != maxCell {
		t.Fatalf("sample key of %d runes, want %d", utf8.RuneCountInString(got), maxCell)
	}
	// The caller's sample is not modified.
	if a.Sample[0].Columns[0].Source.Text != orig {
		t.Fatal("the caller's sample was truncated in place")
	}

	// The email carries the same bounded texts.
	r := alerttest.NewRelay(t, "127.0.0.1", nil, false)
	if res := one(t, n.Send(context.Background(), emailChannel(r, false), a)); res.Err != nil {
		t.Fatal(res.Err)
	}
	mails, _, _ := r.Received()
	if len(mails) != 1 || len(mails[0].Data) > 16<<10 {
		t.Fatalf("%d mails, first %d bytes; want 1 of at most 16 KiB", len(mails), len(mails[0].Data))
	}
}

// A list of recipients with one address the relay refuses for good (550: a colleague
// who left) must not keep the alert from everyone else: the others get it, and the
// result still fails, naming the refused address, so the event and the metric say so.
func TestEmailOneRefusedRecipientDoesNotBlockTheOthers(t *testing.T) {
	r := alerttest.NewRelay(t, "127.0.0.1", nil, false)
	n := newNotifier(nil, &waits{})
	res := one(t, n.Send(context.Background(), emailChannel(r, false, "nobody@bank.example", "ops@bank.example"), sampleAlert()))
	mails, _, _ := r.Received()
	if len(mails) != 1 || strings.Join(mails[0].To, ",") != "ops@bank.example" {
		t.Fatalf("relay received %d mails (%+v), want 1 to ops@bank.example", len(mails), mails)
	}
	want := `alert channel "ops-mail" (email), attempt 1 of 3: smtp ` + r.Addr.String() + ` RCPT TO nobody@bank.example: 550 5.1.1 no such mailbox`
	if res.Err == nil || res.Err.Error() != want || res.Attempts != 1 {
		t.Fatalf("result %+v\nwant error %s", res, want)
	}

	// Every recipient refused: nothing is sent, the error names the first.
	res = one(t, n.Send(context.Background(), emailChannel(r, false, "nobody@bank.example"), sampleAlert()))
	if mails, _, _ := r.Received(); len(mails) != 1 || res.Err == nil || res.Attempts != 1 {
		t.Fatalf("%d mails, result %+v", len(mails), res)
	}
}
