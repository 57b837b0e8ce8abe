// Package metrics holds the Prometheus collectors of ReconciliationJob runs and alerts.
//
// Every series is labelled by namespace and reconciliationjob (the job's name). The job
// label is not called "job" because Prometheus attaches its own "job" (and, through the
// Prometheus Operator, "namespace") target label to every scraped series; a metric label
// of the same name would be renamed exported_job. Scrape with honorLabels: true so the
// namespace label names the ReconciliationJob's namespace, as kube-state-metrics does.
//
// The recording methods are idempotent where a reconciler needs them to be: RecordRun
// ignores a run it has already recorded (by run ID), and the setters are plain sets, so
// a reconcile that runs twice never counts twice.
package metrics

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// Label names.
const (
	LabelNamespace = "namespace"
	LabelJob       = "reconciliationjob"
	LabelResult    = "result"
	LabelKind      = "kind"
	LabelChannel   = "channel"
)

// DurationBuckets are the run duration histogram's upper bounds in seconds: from a
// second (a small inline run) to four hours (beyond the default one-hour timeout).
var DurationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}

// Kinds are the discrepancy kinds of clearhouse_discrepancies, in SEMANTICS.md order.
var Kinds = []diff.Kind{
	diff.KindMissingInTarget, diff.KindMissingInSource, diff.KindMismatch,
	diff.KindDuplicateKey, diff.KindInvalidRow,
}

// rememberedRuns is how many run IDs per job RecordRun remembers to stay idempotent.
const rememberedRuns = 32

// Metrics records runs, open cases and alert deliveries. Its methods are safe for
// concurrent use.
type Metrics struct {
	runDuration    *prometheus.HistogramVec
	runs           *prometheus.CounterVec
	runFailures    *prometheus.CounterVec
	rowsCompared   *prometheus.CounterVec
	discrepancies  *prometheus.GaugeVec
	openCases      *prometheus.GaugeVec
	lastSuccess    *prometheus.GaugeVec
	lastCompletion *prometheus.GaugeVec
	running        *prometheus.GaugeVec
	alertsSent     *prometheus.CounterVec
	alertFailures  *prometheus.CounterVec

	mu   sync.Mutex
	seen map[string][]string // namespace/name -> recently recorded run IDs, oldest first
}

// New creates the collectors and registers them on reg (the manager passes
// controller-runtime's metrics.Registry so they are served on its metrics endpoint).
func New(reg prometheus.Registerer) (*Metrics, error) {
	jobLabels := []string{LabelNamespace, LabelJob}
	with := func(extra ...string) []string { return append(append([]string{}, jobLabels...), extra...) }
	m := &Metrics{
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clearhouse_run_duration_seconds",
			Help:    "Duration of finished reconciliation runs, by result.",
			Buckets: DurationBuckets,
		}, with(LabelResult)),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearhouse_runs_total",
			Help: "Finished reconciliation runs, by result (Balanced, Discrepant, Truncated, Failed, Aborted, Interrupted).",
		}, with(LabelResult)),
		runFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearhouse_run_failures_total",
			Help: "Reconciliation runs that failed (result Failed: a source error, a bad secret or a timeout).",
		}, jobLabels),
		rowsCompared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearhouse_rows_compared_total",
			Help: "Outcomes (matched rows and discrepancies) produced by finished runs.",
		}, jobLabels),
		discrepancies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clearhouse_discrepancies",
			Help: "Discrepancies found by the last completed run (Balanced, Discrepant or Truncated), by kind.",
		}, with(LabelKind)),
		openCases: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clearhouse_open_cases",
			Help: "Discrepancy cases of the job still unresolved in the results store.",
		}, jobLabels),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clearhouse_last_successful_run_timestamp_seconds",
			Help: "Completion time of the last run that compared every row (Balanced or Discrepant), in Unix seconds.",
		}, jobLabels),
		lastCompletion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clearhouse_last_run_timestamp_seconds",
			Help: "Completion time of the last finished run, whatever its result, in Unix seconds.",
		}, jobLabels),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "clearhouse_run_in_progress",
			Help: "1 while a run of the job is in progress, else 0.",
		}, jobLabels),
		alertsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearhouse_alerts_sent_total",
			Help: "Alerts delivered, by channel.",
		}, with(LabelChannel)),
		alertFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearhouse_alert_delivery_failures_total",
			Help: "Alerts that could not be delivered after every retry, by channel.",
		}, with(LabelChannel)),
		seen: map[string][]string{},
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register clearhouse metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.runDuration, m.runs, m.runFailures, m.rowsCompared, m.discrepancies, m.openCases,
		m.lastSuccess, m.lastCompletion, m.running, m.alertsSent, m.alertFailures,
	}
}

// RecordRun records a finished run of the job namespace/name. It does nothing for a run
// still Running, and nothing for a run ID it has already recorded, so a reconciler may
// call it on every visit (or again after a restart, which only re-establishes the
// gauges).
//
//   - every finished run: clearhouse_runs_total{result}, clearhouse_rows_compared_total
//     (counts.compared), clearhouse_last_run_timestamp_seconds, and, when it has a
//     completion time, clearhouse_run_duration_seconds{result};
//   - Failed: clearhouse_run_failures_total (Aborted, a cancellation, and Interrupted, a
//     manager restart that is retried, count in runs_total only);
//   - Balanced, Discrepant, Truncated: clearhouse_discrepancies{kind} is set to the run's
//     counts. A run that did not complete leaves the last completed run's values, so a
//     failure never shows as zero discrepancies;
//   - Balanced, Discrepant: clearhouse_last_successful_run_timestamp_seconds.
func (m *Metrics) RecordRun(namespace, name string, run chv1.RunSummary) {
	if run.Result == chv1.RunRunning || run.Result == "" || !m.firstSight(namespace, name, run.ID) {
		return
	}
	job := prometheus.Labels{LabelNamespace: namespace, LabelJob: name}
	result := string(run.Result)
	m.runs.MustCurryWith(job).WithLabelValues(result).Inc()
	m.rowsCompared.With(job).Add(float64(max(run.Counts.Compared, 0)))
	failures := m.runFailures.With(job) // exists at 0 from the first run, so increase() sees the first failure
	if run.Result == chv1.RunFailed {
		failures.Inc()
	}
	if run.CompletionTime != nil {
		if d := run.CompletionTime.Sub(run.StartTime.Time); d >= 0 && !run.StartTime.IsZero() {
			m.runDuration.MustCurryWith(job).WithLabelValues(result).Observe(d.Seconds())
		}
	}
	m.setGauges(job, run, true, true, true)
}

// setGauges sets, from a finished run, the gauges asked for that the run's result
// speaks to: the last run's completion time, the last successful run's, and the
// discrepancies of the last completed run.
func (m *Metrics) setGauges(job prometheus.Labels, run chv1.RunSummary, last, success, discrepancies bool) {
	if end := run.CompletionTime; end != nil {
		if last {
			m.lastCompletion.With(job).Set(float64(end.UnixNano()) / 1e9)
		}
		if success && (run.Result == chv1.RunBalanced || run.Result == chv1.RunDiscrepant) {
			m.lastSuccess.With(job).Set(float64(end.UnixNano()) / 1e9)
		}
	}
	switch run.Result {
	case chv1.RunBalanced, chv1.RunDiscrepant, chv1.RunTruncated:
		if !discrepancies {
			return
		}
		c := run.Counts
		byKind := map[diff.Kind]int64{
			diff.KindMissingInTarget: c.MissingInTarget,
			diff.KindMissingInSource: c.MissingInSource,
			diff.KindMismatch:        c.Mismatched,
			diff.KindDuplicateKey:    c.DuplicateKeys,
			diff.KindInvalidRow:      c.InvalidRows,
		}
		g := m.discrepancies.MustCurryWith(job)
		for _, k := range Kinds {
			g.WithLabelValues(string(k)).Set(float64(byKind[k]))
		}
	}
}

// Restore sets the gauges of a job this process has recorded nothing of yet from runs
// an earlier process recorded (newest first; running ones are skipped): after a
// manager restart the last run's discrepancies and timestamps are served at once, not
// only once the next run ends, so an alert on the age of the last successful run does
// not go quiet. Counters are left alone (clearhouse_run_failures_total is created at 0,
// so that increase() sees the first failure), and later calls for the job do nothing.
func (m *Metrics) Restore(namespace, name string, runs []chv1.RunSummary) {
	key := namespace + "/" + name
	m.mu.Lock()
	_, known := m.seen[key]
	if !known {
		m.seen[key] = nil
	}
	m.mu.Unlock()
	if known {
		return
	}
	job := prometheus.Labels{LabelNamespace: namespace, LabelJob: name}
	// The failure counter exists at 0 from the first visit, before any failure: a
	// series born at 1 is invisible to increase() and rate(), so a rule on failures
	// would miss the first one of every job after each restart.
	m.runFailures.With(job)
	last, success, discrepancies := true, true, true
	for _, r := range runs {
		if r.Result == chv1.RunRunning || r.Result == "" || r.CompletionTime == nil {
			continue
		}
		m.setGauges(job, r, last, success, discrepancies)
		last = false
		success = success && r.Result != chv1.RunBalanced && r.Result != chv1.RunDiscrepant
		discrepancies = discrepancies && r.Result != chv1.RunBalanced && r.Result != chv1.RunDiscrepant && r.Result != chv1.RunTruncated
	}
}

// firstSight reports whether runID is new for the job, and remembers it.
func (m *Metrics) firstSight(namespace, name, runID string) bool {
	key := namespace + "/" + name
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.seen[key]
	for _, id := range ids {
		if id == runID {
			return false
		}
	}
	if len(ids) == rememberedRuns {
		ids = ids[1:]
	}
	m.seen[key] = append(ids, runID)
	return true
}

// SetRunning sets clearhouse_run_in_progress of the job to 1 or 0.
func (m *Metrics) SetRunning(namespace, name string, running bool) {
	v := 0.0
	if running {
		v = 1
	}
	m.running.WithLabelValues(namespace, name).Set(v)
}

// SetOpenCases sets clearhouse_open_cases of the job.
func (m *Metrics) SetOpenCases(namespace, name string, open int64) {
	m.openCases.WithLabelValues(namespace, name).Set(float64(open))
}

// RecordAlert counts one alert delivery to channel: clearhouse_alerts_sent_total when
// err is nil, else clearhouse_alert_delivery_failures_total.
// Both counters of the channel exist from then on (one at 0), so that increase() sees
// the first change of the other.
func (m *Metrics) RecordAlert(namespace, name, channel string, err error) {
	sent := m.alertsSent.WithLabelValues(namespace, name, channel)
	failed := m.alertFailures.WithLabelValues(namespace, name, channel)
	if err != nil {
		failed.Inc()
		return
	}
	sent.Inc()
}

// Channels creates, at 0, both alert counters of each of the job's channels that has
// none yet, so that the first delivery (or failed delivery) to a channel shows in
// increase() and rate(). Call it with the job's alert channels on each visit.
func (m *Metrics) Channels(namespace, name string, channels []string) {
	for _, ch := range channels {
		m.alertsSent.WithLabelValues(namespace, name, ch)
		m.alertFailures.WithLabelValues(namespace, name, ch)
	}
}

// Forget deletes every series of the job namespace/name (call it when the job is
// deleted, so its last values do not linger).
func (m *Metrics) Forget(namespace, name string) {
	job := prometheus.Labels{LabelNamespace: namespace, LabelJob: name}
	m.runDuration.DeletePartialMatch(job)
	m.runs.DeletePartialMatch(job)
	m.runFailures.DeletePartialMatch(job)
	m.rowsCompared.DeletePartialMatch(job)
	m.discrepancies.DeletePartialMatch(job)
	m.openCases.DeletePartialMatch(job)
	m.lastSuccess.DeletePartialMatch(job)
	m.lastCompletion.DeletePartialMatch(job)
	m.running.DeletePartialMatch(job)
	m.alertsSent.DeletePartialMatch(job)
	m.alertFailures.DeletePartialMatch(job)
	m.mu.Lock()
	delete(m.seen, namespace+"/"+name)
	m.mu.Unlock()
}
