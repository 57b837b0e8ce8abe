package alert

import (
	"testing"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

func TestShouldAlert(t *testing.T) {
	channels := []chv1.AlertChannel{{Name: "ops"}}
	counts := func(n int64) chv1.RunCounts { return chv1.RunCounts{Compared: 100 + n, Matched: 100, Mismatched: n} }
	for _, tc := range []struct {
		name   string
		alerts *chv1.Alerts
		result chv1.RunResult
		found  int64
		want   bool
	}{
		{"no alerts configured", nil, chv1.RunFailed, 0, false},
		{"no channels", &chv1.Alerts{}, chv1.RunFailed, 0, false},
		{"failed", &chv1.Alerts{Threshold: 100, Channels: channels}, chv1.RunFailed, 0, true},
		{"truncated", &chv1.Alerts{Threshold: 1000000, Channels: channels}, chv1.RunTruncated, 10, true},
		{"discrepant above threshold", &chv1.Alerts{Threshold: 2, Channels: channels}, chv1.RunDiscrepant, 3, true},
		{"discrepant at threshold", &chv1.Alerts{Threshold: 3, Channels: channels}, chv1.RunDiscrepant, 3, false},
		{"any discrepancy with threshold 0", &chv1.Alerts{Channels: channels}, chv1.RunDiscrepant, 1, true},
		{"balanced", &chv1.Alerts{Channels: channels}, chv1.RunBalanced, 0, false},
		{"aborted on purpose", &chv1.Alerts{Channels: channels}, chv1.RunAborted, 5, false},
		{"interrupted and retried", &chv1.Alerts{Channels: channels}, chv1.RunInterrupted, 5, false},
		{"still running", &chv1.Alerts{Channels: channels}, chv1.RunRunning, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := chv1.RunSummary{ID: "r", Result: tc.result, Counts: counts(tc.found)}
			if got := ShouldAlert(tc.alerts, run); got != tc.want {
				t.Fatalf("ShouldAlert = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSummaryText(t *testing.T) {
	n := newNotifier(nil, &waits{})
	n.ConsoleURL = "https://console.example/jobs/{namespace}/{job}/runs/{run}"
	a := sampleAlert()
	a.Run.Result = chv1.RunFailed
	a.Run.Counts = chv1.RunCounts{}
	a.Run.RowsPerSecond = 0
	a.Run.Window = "2026-11-20"
	a.Run.Message = "DataSource bank-file: open http://files.example/settle.csv:\n404 Not Found"
	got := n.message(a).text
	want := "Clearhouse payments/ledger-vs-bank: run ledger-vs-bank-20261120-1000 failed.\n" +
		"Run ledger-vs-bank-20261120-1000: Failed, trigger Schedule, window 2026-11-20, started 2026-11-20T10:00:00Z, finished 2026-11-20T10:01:30Z (took 1m30s).\n" +
		"Compared 0: matched 0, missing in target 0, missing in source 0, mismatched 0, duplicate keys 0, invalid rows 0.\n" +
		"Message: DataSource bank-file: open http://files.example/settle.csv: 404 Not Found\n" +
		"Inspect: kubectl get reconciliationjob ledger-vs-bank -n payments -o yaml\n" +
		"Console: https://console.example/jobs/payments/ledger-vs-bank/runs/ledger-vs-bank-20261120-1000\n"
	if got != want {
		t.Fatalf("text:\n%s\nwant:\n%s", got, want)
	}
}
