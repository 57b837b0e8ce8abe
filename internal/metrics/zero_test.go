package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
)

// increase() and rate() see a counter's first increment only if the series was
// scraped at 0 before it: a series born at 1 gives increase(...[1h]) == 0. So an
// alerting rule like increase(clearhouse_run_failures_total[1h]) > 0 misses the first
// failure of every job after each manager restart (upgrade, failover) unless the
// failure counter exists at 0 as soon as the job is known: Restore is the first call
// for every job a process reconciles, with or without earlier runs.
func TestFailureCounterExistsBeforeTheFirstFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	// A restarted manager visits a job whose runs were reported by the old process.
	m.Restore("pay", "ledger", []chv1.RunSummary{run("b1", chv1.RunBalanced, time.Minute, chv1.RunCounts{Compared: 9, Matched: 9})})
	// A new job, first visit, no run yet.
	m.Restore("pay", "fresh", nil)
	want := `
# HELP clearhouse_run_failures_total Reconciliation runs that failed (result Failed: a source error, a bad secret or a timeout).
# TYPE clearhouse_run_failures_total counter
clearhouse_run_failures_total{namespace="pay",reconciliationjob="fresh"} 0
clearhouse_run_failures_total{namespace="pay",reconciliationjob="ledger"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "clearhouse_run_failures_total"); err != nil {
		t.Fatal(err)
	}
}

// The same for alert deliveries: a rule on increase(clearhouse_alert_delivery_failures_total[1h])
// must see the first failed delivery to a channel. Both counters of a channel exist at
// 0 once the channel is known (Channels, from the job's spec) or has been used.
func TestAlertCountersExistAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.RecordAlert("pay", "ledger", "ops-slack", nil)
	m.RecordAlert("pay", "ledger", "ops-mail", errors.New("smtp down"))
	want := `
# HELP clearhouse_alert_delivery_failures_total Alerts that could not be delivered after every retry, by channel.
# TYPE clearhouse_alert_delivery_failures_total counter
clearhouse_alert_delivery_failures_total{channel="ops-mail",namespace="pay",reconciliationjob="ledger"} 1
clearhouse_alert_delivery_failures_total{channel="ops-slack",namespace="pay",reconciliationjob="ledger"} 0
# HELP clearhouse_alerts_sent_total Alerts delivered, by channel.
# TYPE clearhouse_alerts_sent_total counter
clearhouse_alerts_sent_total{channel="ops-mail",namespace="pay",reconciliationjob="ledger"} 0
clearhouse_alerts_sent_total{channel="ops-slack",namespace="pay",reconciliationjob="ledger"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"clearhouse_alert_delivery_failures_total", "clearhouse_alerts_sent_total"); err != nil {
		t.Fatal(err)
	}
}

func TestChannelsCreatesAlertCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Channels("pay", "ledger", []string{"ops-slack"})
	m.Channels("pay", "ledger", []string{"ops-slack"}) // idempotent
	want := `
# HELP clearhouse_alert_delivery_failures_total Alerts that could not be delivered after every retry, by channel.
# TYPE clearhouse_alert_delivery_failures_total counter
clearhouse_alert_delivery_failures_total{channel="ops-slack",namespace="pay",reconciliationjob="ledger"} 0
# HELP clearhouse_alerts_sent_total Alerts delivered, by channel.
# TYPE clearhouse_alerts_sent_total counter
clearhouse_alerts_sent_total{channel="ops-slack",namespace="pay",reconciliationjob="ledger"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"clearhouse_alert_delivery_failures_total", "clearhouse_alerts_sent_total"); err != nil {
		t.Fatal(err)
	}
	m.Forget("pay", "ledger")
	if n := testutil.CollectAndCount(m.alertsSent) + testutil.CollectAndCount(m.alertFailures); n != 0 {
		t.Fatalf("%d alert series left after Forget", n)
	}
}
