package alert

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// message is an alert rendered once for every channel.
type message struct {
	namespace, job, runID string
	subject               string
	text                  string // the summary: webhook "text" (Slack-escaped there) and email body head
	table                 string // the sample as a plain-text table, for email
	webhook               []byte // the JSON body
}

// WebhookBody is the JSON a webhook receives. Field order is fixed; optional fields are
// omitted when empty.
type WebhookBody struct {
	// Text is a Slack-compatible (mrkdwn-escaped) summary of the alert.
	Text string `json:"text"`
	// Job names the ReconciliationJob.
	Job WebhookJob `json:"job"`
	// Run is the finished run.
	Run WebhookRun `json:"run"`
	// Reason says why the run alerts ("failed", "found 12 discrepancies, more than the
	// threshold of 0", "stopped early at limits.maxDiscrepancies after …").
	Reason string `json:"reason"`
	// Threshold is the job's alerts.threshold.
	Threshold int64 `json:"threshold"`
	// Sample holds at most the notifier's sample size of the run's discrepancies, masked
	// as stored, in the form of SEMANTICS.md. Never null.
	Sample []diff.Discrepancy `json:"sample"`
	// Inspect says where to look further.
	Inspect WebhookInspect `json:"inspect"`
}

// WebhookJob names the job.
type WebhookJob struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// WebhookRun describes the run.
type WebhookRun struct {
	ID              string         `json:"id"`
	Trigger         string         `json:"trigger"`
	Window          string         `json:"window,omitempty"`
	Result          chv1.RunResult `json:"result"`
	StartTime       string         `json:"startTime"`
	CompletionTime  string         `json:"completionTime,omitempty"`
	DurationSeconds float64        `json:"durationSeconds,omitempty"`
	Counts          chv1.RunCounts `json:"counts"`
	Discrepancies   int64          `json:"discrepancies"`
	RowsPerSecond   int64          `json:"rowsPerSecond"`
	Message         string         `json:"message,omitempty"`
}

// WebhookInspect points to the job.
type WebhookInspect struct {
	// Command shows the job's status with kubectl.
	Command string `json:"command"`
	// Console is a link, when the notifier has a ConsoleURL.
	Console string `json:"console,omitempty"`
}

// reason says why the run alerts, as the predicate of "run <id> …".
func reason(a Alert) string {
	d := Discrepancies(a.Run.Counts)
	switch a.Run.Result {
	case chv1.RunFailed:
		return "failed"
	case chv1.RunTruncated:
		return fmt.Sprintf("stopped early at limits.maxDiscrepancies after %d discrepancies; the rest was not compared", d)
	case chv1.RunDiscrepant:
		return fmt.Sprintf("found %d discrepancies, more than the threshold of %d", d, a.Threshold)
	case chv1.RunBalanced:
		return "found no discrepancies"
	}
	return fmt.Sprintf("ended %s", a.Run.Result)
}

// message renders a. Time stamps are UTC RFC 3339.
func (n *Notifier) message(a Alert) *message {
	r := a.Run
	sampleSize := n.SampleSize
	if sampleSize <= 0 {
		sampleSize = DefaultSampleSize
	}
	sample := make([]diff.Discrepancy, 0, min(len(a.Sample), sampleSize))
	for _, d := range a.Sample[:min(len(a.Sample), sampleSize)] {
		sample = append(sample, bounded(d))
	}
	total := Discrepancies(r.Counts)

	inspect := WebhookInspect{Command: fmt.Sprintf("kubectl get reconciliationjob %s -n %s -o yaml", a.Job, a.Namespace)}
	if n.ConsoleURL != "" {
		inspect.Console = strings.NewReplacer(
			"{namespace}", url.PathEscape(a.Namespace), "{job}", url.PathEscape(a.Job), "{run}", url.PathEscape(r.ID),
		).Replace(n.ConsoleURL)
	}

	run := WebhookRun{
		ID: r.ID, Trigger: r.Trigger, Window: r.Window, Result: r.Result,
		StartTime: stamp(r.StartTime.Time), Counts: r.Counts, Discrepancies: total,
		RowsPerSecond: r.RowsPerSecond, Message: clip(oneLine(r.Message), maxMessage),
	}
	var took time.Duration
	if r.CompletionTime != nil {
		run.CompletionTime = stamp(r.CompletionTime.Time)
		if took = r.CompletionTime.Sub(r.StartTime.Time); took > 0 {
			run.DurationSeconds = took.Seconds()
		}
	}

	// The summary, one fact a line.
	var b strings.Builder
	fmt.Fprintf(&b, "Clearhouse %s/%s: run %s %s.\n", a.Namespace, a.Job, oneLine(r.ID), reason(a))
	fmt.Fprintf(&b, "Run %s: %s, trigger %s", oneLine(r.ID), r.Result, r.Trigger)
	if r.Window != "" {
		fmt.Fprintf(&b, ", window %s", oneLine(r.Window))
	}
	fmt.Fprintf(&b, ", started %s", run.StartTime)
	if run.CompletionTime != "" {
		fmt.Fprintf(&b, ", finished %s (took %s)", run.CompletionTime, took)
	}
	if r.RowsPerSecond > 0 {
		fmt.Fprintf(&b, ", %d rows/s", r.RowsPerSecond)
	}
	b.WriteString(".\n")
	c := r.Counts
	fmt.Fprintf(&b, "Compared %d: matched %d, missing in target %d, missing in source %d, mismatched %d, duplicate keys %d, invalid rows %d.\n",
		c.Compared, c.Matched, c.MissingInTarget, c.MissingInSource, c.Mismatched, c.DuplicateKeys, c.InvalidRows)
	if run.Message != "" {
		fmt.Fprintf(&b, "Message: %s\n", run.Message)
	}
	fmt.Fprintf(&b, "Inspect: %s\n", inspect.Command)
	if inspect.Console != "" {
		fmt.Fprintf(&b, "Console: %s\n", inspect.Console)
	}
	text := b.String()

	body := WebhookBody{
		Text: slackEscape(text), Job: WebhookJob{Namespace: a.Namespace, Name: a.Job}, Run: run,
		Reason: reason(a), Threshold: a.Threshold, Sample: sample, Inspect: inspect,
	}
	js, err := json.Marshal(body)
	if err != nil { // only plain strings and numbers: cannot happen
		panic(fmt.Sprintf("alert: encode webhook body: %v", err))
	}

	subject := fmt.Sprintf("[Clearhouse] %s/%s: run %s %s", a.Namespace, a.Job, oneLine(r.ID), r.Result)
	if r.Result == chv1.RunDiscrepant || r.Result == chv1.RunTruncated {
		subject += fmt.Sprintf(", %d discrepancies", total)
	}
	return &message{
		namespace: a.Namespace, job: a.Job, runID: r.ID, subject: subject, text: text,
		table: sampleTable(sample, total), webhook: js,
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// sampleTable renders the sample as aligned columns KIND, KEY, DETAIL.
func sampleTable(sample []diff.Discrepancy, total int64) string {
	if len(sample) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Sample: %d of %d discrepancies (sensitive values are masked).\n\n", len(sample), total)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "KIND\tKEY\tDETAIL")
	for _, d := range sample {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Kind, keyText(d.Key), detail(d))
	}
	_ = tw.Flush()
	// tabwriter pads the last column's cell too when it is empty; trim line ends.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func keyText(key []diff.KeyValue) string {
	parts := make([]string, len(key))
	for i, kv := range key {
		parts[i] = kv.Name + "=" + cellText(kv.Value)
	}
	return strings.Join(parts, ", ")
}

func detail(d diff.Discrepancy) string {
	switch d.Kind {
	case diff.KindMismatch:
		parts := make([]string, len(d.Columns))
		for i, c := range d.Columns {
			parts[i] = fmt.Sprintf("%s: %s vs %s", c.Name, cellText(c.Source), cellText(c.Target))
		}
		return strings.Join(parts, "; ")
	case diff.KindDuplicateKey:
		return fmt.Sprintf("%d rows on the %s side", d.Count, d.Side)
	case diff.KindInvalidRow:
		s := string(d.Side)
		if d.Position != "" {
			s += " " + oneLine(d.Position)
		}
		return s + ": " + oneLine(d.Reason)
	}
	return ""
}

// maxCell bounds a value (and a position) in the sample and the table, so one long
// text does not drown the rest; maxReason bounds an invalid row's reason, maxMessage
// the run's message. Bounded, an alert stays a few KiB whatever the data: a receiver
// answering 413 to a large body (a 4xx, not retried) would lose it.
const (
	maxCell    = 64
	maxReason  = 256
	maxMessage = 1024
)

// clip cuts s to at most n runes, the last one "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// bounded returns a copy of d with its texts clipped (the caller's d is unchanged).
func bounded(d diff.Discrepancy) diff.Discrepancy {
	cell := func(c diff.Cell) diff.Cell {
		c.Text = clip(c.Text, maxCell)
		return c
	}
	key := make([]diff.KeyValue, len(d.Key))
	for i, kv := range d.Key {
		key[i] = diff.KeyValue{Name: kv.Name, Value: cell(kv.Value)}
	}
	d.Key = key
	if d.Columns != nil {
		cols := make([]diff.ColumnDiff, len(d.Columns))
		for i, c := range d.Columns {
			cols[i] = diff.ColumnDiff{Name: c.Name, Source: cell(c.Source), Target: cell(c.Target)}
		}
		d.Columns = cols
	}
	d.Reason = clip(d.Reason, maxReason)
	d.Position = clip(d.Position, maxCell)
	return d
}

func cellText(c diff.Cell) string {
	if c.Null {
		return "NULL"
	}
	return clip(oneLine(c.Text), maxCell)
}

// oneLine replaces control characters (line breaks, tabs) with spaces, so a value
// cannot break the table or inject a header.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// slackEscape escapes the three characters Slack's mrkdwn gives a meaning to.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
