package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/convsync/convsync/load"
)

// runField is a number of a run, exported both as the last run's gauge and
// as a counter over the process's runs.
type runField struct {
	name, help string
	get        func(load.Run) int64
}

var runFields = []runField{
	{"child_rows", "answer and booking rows written", func(r load.Run) int64 { return r.ChildRows }},
	{"rejects", "items that could not be loaded, kept in _convsync_rejects", func(r load.Run) int64 { return r.Rejected }},
	{"pages", "API pages committed", func(r load.Run) int64 { return r.Pages }},
	{"api_calls", "API requests made, retries included", func(r load.Run) int64 { return r.APICalls }},
	{"api_retries", "API requests retried after a 429, 5xx or network error", func(r load.Run) int64 { return r.Retries }},
	{"api_rate_limited", "API answers 429 (rate limited)", func(r load.Run) int64 { return r.RateLimited }},
}

// metrics are the run metrics of one process, in a registry of their own.
// Gauges named convsync_last_run_* describe the last run (what a one-shot
// sync exports); counters *_total add up every run of the process (what
// `convsync run` serves). Safe for concurrent use.
type metrics struct {
	reg *prometheus.Registry
	// These have no labels: as vectors they are absent until known, so an
	// export that does not know one never overwrites a known value with 0,
	// and a `run` just started does not look like a failed run.
	lastSuccess  *prometheus.GaugeVec
	lastEnd      *prometheus.GaugeVec
	lastDuration *prometheus.GaugeVec
	lastOK       *prometheus.GaugeVec
	lastConvs    *prometheus.GaugeVec
	last         map[string]*prometheus.GaugeVec // no labels, as lastEnd
	runs         *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	panics       prometheus.Counter
	convs        *prometheus.CounterVec
	totals       map[string]prometheus.Counter
	inProgress   prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "convsync_last_success_timestamp_seconds",
			Help: "End time of the last successful incremental or full-refresh run (from the run ledger)."}, nil),
		lastEnd: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "convsync_last_run_timestamp_seconds",
			Help: "End time of the last run, whatever its outcome."}, nil),
		lastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "convsync_last_run_duration_seconds",
			Help: "Duration of the last run."}, nil),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "convsync_last_run_success",
			Help: "1 if the last run succeeded, else 0."}, nil),
		lastConvs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "convsync_last_run_conversations",
			Help: "Conversations the last run inserted, updated or found unchanged."}, []string{"result"}),
		last: map[string]*prometheus.GaugeVec{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "convsync_runs_total",
			Help: "Runs by outcome: succeeded, failed, cancelled."}, []string{"status"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "convsync_runs_skipped_total",
			Help: "Scheduled runs skipped: the previous run was still going (running), or another process held the warehouse (locked)."}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "convsync_run_panics_total",
			Help: "Runs that panicked (counted as failed too); the process went on."}),
		convs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "convsync_conversations_total",
			Help: "Conversations inserted, updated or found unchanged."}, []string{"result"}),
		totals: map[string]prometheus.Counter{},
		inProgress: prometheus.NewGauge(prometheus.GaugeOpts{Name: "convsync_run_in_progress",
			Help: "1 while a run is going."}),
	}
	m.reg.MustRegister(m.lastSuccess, m.lastEnd, m.lastDuration, m.lastOK, m.lastConvs,
		m.runs, m.skipped, m.panics, m.convs, m.inProgress)
	for _, f := range runFields {
		m.last[f.name] = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "convsync_last_run_" + f.name, Help: "Last run: " + f.help + "."}, nil)
		m.totals[f.name] = prometheus.NewCounter(prometheus.CounterOpts{Name: "convsync_" + f.name + "_total", Help: f.help + "."})
		m.reg.MustRegister(m.last[f.name], m.totals[f.name])
	}
	// Counters are exported as 0 from the start, so increase() sees the
	// first one.
	for _, s := range []string{"succeeded", "failed", "cancelled"} {
		m.runs.WithLabelValues(s)
	}
	for _, r := range []string{"running", "locked"} {
		m.skipped.WithLabelValues(r)
	}
	for _, r := range []string{"inserted", "updated", "unchanged"} {
		m.convs.WithLabelValues(r)
	}
	return m
}

// seed sets the last success read from the ledger; zero (unknown) leaves it
// as it is.
func (m *metrics) seed(lastSuccess time.Time) {
	if !lastSuccess.IsZero() {
		m.lastSuccess.WithLabelValues().Set(float64(lastSuccess.UnixMilli()) / 1e3)
	}
}

// observe records a finished run. A run that never started (the warehouse
// could not be opened, say) is a failed run with no numbers; lastSuccess is
// recorded unless zero (unknown).
func (m *metrics) observe(r load.Run, lastSuccess time.Time) {
	status := r.Status
	if status == "" || status == "running" {
		status = "failed"
	}
	m.runs.WithLabelValues(status).Inc()
	end := time.Now()
	if r.End != nil {
		end = *r.End
	}
	m.lastEnd.WithLabelValues().Set(float64(end.UnixMilli()) / 1e3)
	dur := 0.0
	if !r.Start.IsZero() {
		dur = end.Sub(r.Start).Seconds()
	}
	m.lastDuration.WithLabelValues().Set(dur)
	m.lastOK.WithLabelValues().Set(0)
	if status == "succeeded" {
		m.lastOK.WithLabelValues().Set(1)
	}
	for result, n := range map[string]int64{"inserted": r.Inserted, "updated": r.Updated, "unchanged": r.Unchanged} {
		m.lastConvs.WithLabelValues(result).Set(float64(n))
		m.convs.WithLabelValues(result).Add(float64(n))
	}
	for _, f := range runFields {
		m.last[f.name].WithLabelValues().Set(float64(f.get(r)))
		m.totals[f.name].Add(float64(f.get(r)))
	}
	m.seed(lastSuccess)
}

// observePanic records a run that panicked. The run is over: the panic
// skipped the end of syncAndReport, which clears the in-progress gauge.
func (m *metrics) observePanic() {
	m.inProgress.Set(0)
	m.panics.Inc()
	m.runs.WithLabelValues("failed").Inc()
	m.lastOK.WithLabelValues().Set(0)
	m.lastEnd.WithLabelValues().Set(float64(time.Now().UnixMilli()) / 1e3)
}

// export writes the metrics where c says: the textfile and the Pushgateway.
// Both are attempted; the error joins what failed.
func (m *metrics) export(ctx context.Context, c MetricsConfig) error {
	var errs []error
	if c.Textfile != "" {
		m.keepLastSuccess(c.Textfile)
		if err := writeTextfile(c.Textfile, m.reg); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Pushgateway != "" {
		if err := pushMetrics(ctx, c, m.reg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// keepLastSuccess takes the last success from the textfile at path when
// the run did not learn it (its warehouse could not be opened). The file is
// rewritten whole: without this the metric vanished, and an alert on its
// age with it, just when runs stopped succeeding. (A Pushgateway keeps it:
// a POST replaces only the metrics it carries.)
func (m *metrics) keepLastSuccess(path string) {
	if m.knowsLastSuccess() {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return // no file yet, or none readable: nothing to keep
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(f)
	if err != nil {
		return
	}
	mf := mfs["convsync_last_success_timestamp_seconds"]
	if mf == nil || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge() == nil {
		return
	}
	m.lastSuccess.WithLabelValues().Set(mf.GetMetric()[0].GetGauge().GetValue())
}

// knowsLastSuccess says whether the last success has a value.
func (m *metrics) knowsLastSuccess() bool {
	ch := make(chan prometheus.Metric, 1) // the vector has one child at most
	m.lastSuccess.Collect(ch)
	return len(ch) > 0
}

// writeTextfile writes the gathered metrics to path atomically (temp file,
// fsync, rename, fsync the folder), so the collector never reads half a file.
func writeTextfile(path string, g prometheus.Gatherer) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("write metrics textfile %s: %w", path, err)
		}
	}()
	mfs, err := g.Gather()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*") // not *.prom: the collector skips it
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename there is nothing to remove
	defer f.Close()
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(f, mf); err != nil {
			return err
		}
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// pushMetrics adds the metrics to the Pushgateway's group for the job
// (POST: metrics of the same name are replaced, others kept). Credentials in
// the URL go in a header, so no error message can show them.
func pushMetrics(ctx context.Context, c MetricsConfig, g prometheus.Gatherer) error {
	u, err := url.Parse(string(c.Pushgateway))
	if err != nil {
		return fmt.Errorf("push metrics: bad metrics.pushgateway URL")
	}
	user := u.User
	u.User = nil
	p := push.New(u.String(), c.Job).Gatherer(g).Client(&http.Client{Timeout: 10 * time.Second, CheckRedirect: refuseRedirect})
	if user != nil {
		pw, _ := user.Password()
		p = p.BasicAuth(user.Username(), pw)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s: %w", u.Redacted(), err)
	}
	return nil
}

// refuseRedirect fails a push that is redirected, naming the target.
// Followed, a 301 or 302 turns the POST into a GET, which a 200 answers
// though nothing was pushed, and the basic auth goes along to any port of
// the same host.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("redirected to %s: set metrics.pushgateway to the Pushgateway itself", req.URL.Redacted())
}
