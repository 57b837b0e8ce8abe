package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) // 1795168800

func run(id string, result chv1.RunResult, took time.Duration, c chv1.RunCounts) chv1.RunSummary {
	end := metav1.NewTime(t0.Add(took))
	return chv1.RunSummary{ID: id, Trigger: "Schedule", StartTime: metav1.NewTime(t0), CompletionTime: &end, Result: result, Counts: c}
}

// serve exposes reg over a real HTTP server, as the manager's metrics endpoint does.
func serve(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var names = []string{
	"clearhouse_run_duration_seconds", "clearhouse_runs_total", "clearhouse_run_failures_total",
	"clearhouse_rows_compared_total", "clearhouse_discrepancies", "clearhouse_open_cases",
	"clearhouse_last_successful_run_timestamp_seconds", "clearhouse_last_run_timestamp_seconds",
	"clearhouse_run_in_progress", "clearhouse_alerts_sent_total", "clearhouse_alert_delivery_failures_total",
}

func TestScrapeAfterRuns(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, reg)

	discrepant := run("r1", chv1.RunDiscrepant, 90*time.Second, chv1.RunCounts{
		Compared: 1000, Matched: 990, MissingInTarget: 4, MissingInSource: 3, Mismatched: 2, DuplicateKeys: 1,
	})
	m.RecordRun("pay", "ledger", discrepant)
	m.RecordRun("pay", "ledger", discrepant) // a second reconcile of the same run counts nothing
	m.RecordRun("pay", "ledger", chv1.RunSummary{ID: "r2", Result: chv1.RunRunning, StartTime: metav1.NewTime(t0)})
	m.SetRunning("pay", "ledger", true)
	// A failed run after it: counted, but the discrepancy gauge keeps the last completed run's
	// values (a failure is never "zero discrepancies") and the last success stays at r1.
	m.RecordRun("pay", "ledger", run("r2", chv1.RunFailed, 3*time.Second, chv1.RunCounts{Compared: 10, Matched: 10}))
	m.SetRunning("pay", "ledger", false)
	m.SetOpenCases("pay", "ledger", 7)
	m.RecordAlert("pay", "ledger", "ops-slack", nil)
	m.RecordAlert("pay", "ledger", "ops-mail", errors.New("smtp: 451"))
	m.RecordRun("shop", "orders", run("o1", chv1.RunBalanced, 2*time.Hour, chv1.RunCounts{Compared: 5, Matched: 5}))

	want := `
# HELP clearhouse_alert_delivery_failures_total Alerts that could not be delivered after every retry, by channel.
# TYPE clearhouse_alert_delivery_failures_total counter
clearhouse_alert_delivery_failures_total{channel="ops-mail",namespace="pay",reconciliationjob="ledger"} 1
clearhouse_alert_delivery_failures_total{channel="ops-slack",namespace="pay",reconciliationjob="ledger"} 0
# HELP clearhouse_alerts_sent_total Alerts delivered, by channel.
# TYPE clearhouse_alerts_sent_total counter
clearhouse_alerts_sent_total{channel="ops-mail",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_alerts_sent_total{channel="ops-slack",namespace="pay",reconciliationjob="ledger"} 1
# HELP clearhouse_discrepancies Discrepancies found by the last completed run (Balanced, Discrepant or Truncated), by kind.
# TYPE clearhouse_discrepancies gauge
clearhouse_discrepancies{kind="duplicate_key",namespace="pay",reconciliationjob="ledger"} 1
clearhouse_discrepancies{kind="invalid_row",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_discrepancies{kind="mismatch",namespace="pay",reconciliationjob="ledger"} 2
clearhouse_discrepancies{kind="missing_in_source",namespace="pay",reconciliationjob="ledger"} 3
clearhouse_discrepancies{kind="missing_in_target",namespace="pay",reconciliationjob="ledger"} 4
clearhouse_discrepancies{kind="duplicate_key",namespace="shop",reconciliationjob="orders"} 0
clearhouse_discrepancies{kind="invalid_row",namespace="shop",reconciliationjob="orders"} 0
clearhouse_discrepancies{kind="mismatch",namespace="shop",reconciliationjob="orders"} 0
clearhouse_discrepancies{kind="missing_in_source",namespace="shop",reconciliationjob="orders"} 0
clearhouse_discrepancies{kind="missing_in_target",namespace="shop",reconciliationjob="orders"} 0
# HELP clearhouse_last_run_timestamp_seconds Completion time of the last finished run, whatever its result, in Unix seconds.
# TYPE clearhouse_last_run_timestamp_seconds gauge
clearhouse_last_run_timestamp_seconds{namespace="pay",reconciliationjob="ledger"} 1.795168803e+09
clearhouse_last_run_timestamp_seconds{namespace="shop",reconciliationjob="orders"} 1.7951760e+09
# HELP clearhouse_last_successful_run_timestamp_seconds Completion time of the last run that compared every row (Balanced or Discrepant), in Unix seconds.
# TYPE clearhouse_last_successful_run_timestamp_seconds gauge
clearhouse_last_successful_run_timestamp_seconds{namespace="pay",reconciliationjob="ledger"} 1.79516889e+09
clearhouse_last_successful_run_timestamp_seconds{namespace="shop",reconciliationjob="orders"} 1.795176e+09
# HELP clearhouse_open_cases Discrepancy cases of the job still unresolved in the results store.
# TYPE clearhouse_open_cases gauge
clearhouse_open_cases{namespace="pay",reconciliationjob="ledger"} 7
# HELP clearhouse_rows_compared_total Outcomes (matched rows and discrepancies) produced by finished runs.
# TYPE clearhouse_rows_compared_total counter
clearhouse_rows_compared_total{namespace="pay",reconciliationjob="ledger"} 1010
clearhouse_rows_compared_total{namespace="shop",reconciliationjob="orders"} 5
# HELP clearhouse_run_duration_seconds Duration of finished reconciliation runs, by result.
# TYPE clearhouse_run_duration_seconds histogram
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="1"} 0
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="5"} 0
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="15"} 0
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="30"} 0
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="60"} 0
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="120"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="300"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="600"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="1200"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="1800"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="3600"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="7200"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="14400"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Discrepant",le="+Inf"} 1
clearhouse_run_duration_seconds_sum{namespace="pay",reconciliationjob="ledger",result="Discrepant"} 90
clearhouse_run_duration_seconds_count{namespace="pay",reconciliationjob="ledger",result="Discrepant"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="1"} 0
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="5"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="15"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="30"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="60"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="120"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="300"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="600"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="1200"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="1800"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="3600"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="7200"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="14400"} 1
clearhouse_run_duration_seconds_bucket{namespace="pay",reconciliationjob="ledger",result="Failed",le="+Inf"} 1
clearhouse_run_duration_seconds_sum{namespace="pay",reconciliationjob="ledger",result="Failed"} 3
clearhouse_run_duration_seconds_count{namespace="pay",reconciliationjob="ledger",result="Failed"} 1
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="1"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="5"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="15"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="30"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="60"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="120"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="300"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="600"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="1200"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="1800"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="3600"} 0
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="7200"} 1
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="14400"} 1
clearhouse_run_duration_seconds_bucket{namespace="shop",reconciliationjob="orders",result="Balanced",le="+Inf"} 1
clearhouse_run_duration_seconds_sum{namespace="shop",reconciliationjob="orders",result="Balanced"} 7200
clearhouse_run_duration_seconds_count{namespace="shop",reconciliationjob="orders",result="Balanced"} 1
# HELP clearhouse_run_failures_total Reconciliation runs that failed (result Failed: a source error, a bad secret or a timeout).
# TYPE clearhouse_run_failures_total counter
clearhouse_run_failures_total{namespace="pay",reconciliationjob="ledger"} 1
clearhouse_run_failures_total{namespace="shop",reconciliationjob="orders"} 0
# HELP clearhouse_run_in_progress 1 while a run of the job is in progress, else 0.
# TYPE clearhouse_run_in_progress gauge
clearhouse_run_in_progress{namespace="pay",reconciliationjob="ledger"} 0
# HELP clearhouse_runs_total Finished reconciliation runs, by result (Balanced, Discrepant, Truncated, Failed, Aborted, Interrupted).
# TYPE clearhouse_runs_total counter
clearhouse_runs_total{namespace="pay",reconciliationjob="ledger",result="Discrepant"} 1
clearhouse_runs_total{namespace="pay",reconciliationjob="ledger",result="Failed"} 1
clearhouse_runs_total{namespace="shop",reconciliationjob="orders",result="Balanced"} 1
`
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	// Forget removes every series of the deleted job and nothing of the others.
	m.Forget("pay", "ledger")
	body := scrape(t, url)
	if strings.Contains(body, `reconciliationjob="ledger"`) {
		t.Fatalf("series of a forgotten job are still exposed:\n%s", body)
	}
	if !strings.Contains(body, `clearhouse_runs_total{namespace="shop",reconciliationjob="orders",result="Balanced"} 1`) {
		t.Fatalf("Forget removed another job's series:\n%s", body)
	}
	// A job recreated under the same name starts afresh, its old run IDs forgotten too.
	m.RecordRun("pay", "ledger", discrepant)
	if err := testutil.ScrapeAndCompare(url, strings.NewReader(`
# HELP clearhouse_runs_total Finished reconciliation runs, by result (Balanced, Discrepant, Truncated, Failed, Aborted, Interrupted).
# TYPE clearhouse_runs_total counter
clearhouse_runs_total{namespace="pay",reconciliationjob="ledger",result="Discrepant"} 1
clearhouse_runs_total{namespace="shop",reconciliationjob="orders",result="Balanced"} 1
`), "clearhouse_runs_total"); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedAndUnfinishedRuns(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Truncated: a completed comparison cut short. Its discrepancies are a lower bound and
	// are shown; it is not a successful run.
	m.RecordRun("pay", "ledger", run("t1", chv1.RunTruncated, time.Minute, chv1.RunCounts{Compared: 50, Matched: 10, Mismatched: 40}))
	// Aborted and Interrupted count as runs, not as failures, and leave the gauges alone.
	m.RecordRun("pay", "ledger", run("a1", chv1.RunAborted, time.Second, chv1.RunCounts{}))
	interrupted := chv1.RunSummary{ID: "i1", Result: chv1.RunInterrupted, StartTime: metav1.NewTime(t0)} // no completion time
	m.RecordRun("pay", "ledger", interrupted)
	want := `
# HELP clearhouse_discrepancies Discrepancies found by the last completed run (Balanced, Discrepant or Truncated), by kind.
# TYPE clearhouse_discrepancies gauge
clearhouse_discrepancies{kind="duplicate_key",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_discrepancies{kind="invalid_row",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_discrepancies{kind="mismatch",namespace="pay",reconciliationjob="ledger"} 40
clearhouse_discrepancies{kind="missing_in_source",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_discrepancies{kind="missing_in_target",namespace="pay",reconciliationjob="ledger"} 0
# HELP clearhouse_run_failures_total Reconciliation runs that failed (result Failed: a source error, a bad secret or a timeout).
# TYPE clearhouse_run_failures_total counter
clearhouse_run_failures_total{namespace="pay",reconciliationjob="ledger"} 0
# HELP clearhouse_runs_total Finished reconciliation runs, by result (Balanced, Discrepant, Truncated, Failed, Aborted, Interrupted).
# TYPE clearhouse_runs_total counter
clearhouse_runs_total{namespace="pay",reconciliationjob="ledger",result="Aborted"} 1
clearhouse_runs_total{namespace="pay",reconciliationjob="ledger",result="Interrupted"} 1
clearhouse_runs_total{namespace="pay",reconciliationjob="ledger",result="Truncated"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"clearhouse_discrepancies", "clearhouse_run_failures_total", "clearhouse_runs_total",
		"clearhouse_last_successful_run_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestNewTwiceOnOneRegistryFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg); err == nil {
		t.Fatal("registering the collectors twice succeeded")
	}
}

// After a restart the gauges come back from the runs an earlier process recorded: the
// newest finished run's time, the newest successful run's, the newest completed run's
// discrepancies; counters stay at zero, and a run recorded later still counts.
func TestRestoreAfterRestart(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	running := chv1.RunSummary{ID: "r5", Result: chv1.RunRunning, StartTime: metav1.NewTime(t0)}
	runs := []chv1.RunSummary{ // newest first
		running,
		run("f4", chv1.RunFailed, 4*time.Minute, chv1.RunCounts{}),
		run("t3", chv1.RunTruncated, 3*time.Minute, chv1.RunCounts{Compared: 9, Matched: 2, Mismatched: 7}),
		run("d2", chv1.RunDiscrepant, 2*time.Minute, chv1.RunCounts{Compared: 9, Matched: 8, MissingInSource: 1}),
		run("b1", chv1.RunBalanced, time.Minute, chv1.RunCounts{Compared: 9, Matched: 9}),
	}
	m.Restore("pay", "ledger", runs)
	m.Restore("pay", "ledger", runs[3:]) // once per job: a second call changes nothing
	want := `
# HELP clearhouse_discrepancies Discrepancies found by the last completed run (Balanced, Discrepant or Truncated), by kind.
# TYPE clearhouse_discrepancies gauge
clearhouse_discrepancies{kind="duplicate_key",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_discrepancies{kind="invalid_row",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_discrepancies{kind="mismatch",namespace="pay",reconciliationjob="ledger"} 7
clearhouse_discrepancies{kind="missing_in_source",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_discrepancies{kind="missing_in_target",namespace="pay",reconciliationjob="ledger"} 0
# HELP clearhouse_last_run_timestamp_seconds Completion time of the last finished run, whatever its result, in Unix seconds.
# TYPE clearhouse_last_run_timestamp_seconds gauge
clearhouse_last_run_timestamp_seconds{namespace="pay",reconciliationjob="ledger"} 1.79516904e+09
# HELP clearhouse_last_successful_run_timestamp_seconds Completion time of the last run that compared every row (Balanced or Discrepant), in Unix seconds.
# TYPE clearhouse_last_successful_run_timestamp_seconds gauge
clearhouse_last_successful_run_timestamp_seconds{namespace="pay",reconciliationjob="ledger"} 1.79516892e+09
`
	names := []string{"clearhouse_discrepancies", "clearhouse_last_run_timestamp_seconds",
		"clearhouse_last_successful_run_timestamp_seconds", "clearhouse_runs_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	m.RecordRun("pay", "ledger", run("b6", chv1.RunBalanced, 6*time.Minute, chv1.RunCounts{Compared: 9, Matched: 9}))
	if got := testutil.ToFloat64(m.runs.WithLabelValues("pay", "ledger", "Balanced")); got != 1 {
		t.Errorf("runs_total{Balanced} = %v after a new run, want 1", got)
	}
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("pay", "ledger")); got != float64(t0.Add(6*time.Minute).Unix()) {
		t.Errorf("last success %v, want the new run's", got)
	}
}
