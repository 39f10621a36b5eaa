package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
)

func runScheduled(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "run")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	spec := fs.String("schedule", "", `cron schedule, e.g. "*/15 * * * *" or "@every 10m" (default: schedule in the config)`)
	listen := fs.String("listen", "", `address for /metrics and /healthz, e.g. ":9464" (default: metrics.listen in the config; "off": none)`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *spec != "" {
		if _, err := parseSchedule(*spec); err != nil {
			return usageError{fmt.Sprintf("--schedule: %v", err)}
		}
	}
	if *listen != "" && *listen != "off" {
		if _, _, err := net.SplitHostPort(*listen); err != nil {
			return usageError{fmt.Sprintf("--listen: must be HOST:PORT (e.g. 127.0.0.1:9464, :9464) or off, got %q", *listen)}
		}
	}
	cfg, err := loadConfig(configPath(e, *cfgFlag), e.getenv, forSync)
	if err != nil {
		return err
	}
	if *spec != "" {
		cfg.Schedule = *spec
	}
	switch *listen {
	case "":
	case "off":
		cfg.Metrics.Listen = ""
	default:
		cfg.Metrics.Listen = *listen
	}
	if cfg.Schedule == "" {
		return &ConfigError{Problems: []string{"schedule: required by convsync run: set it in the config or pass --schedule"}}
	}
	sched, _ := parseSchedule(cfg.Schedule) // validated
	var ln net.Listener
	if cfg.Metrics.Listen != "" {
		if ln, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
	}
	log := newLogger(e.stderr, cfg.Log)
	m := newMetrics()
	// The last success is the ledger's, from the start: a restart does not
	// make it absent until the first run ends.
	if r, err := openReader(ctx, cfg); err == nil {
		m.seed(lastSuccess(ctx, r.DB()))
		r.Close()
	}
	s := &scheduler{log: log, metrics: m, grace: cfg.Sync.ShutdownGrace,
		job: func(ctx context.Context) (load.Run, error) {
			return syncAndReport(ctx, cfg, log, m, pipeline.Options{Mode: pipeline.Incremental})
		}}
	log.Info("scheduler started", "schedule", cfg.Schedule, "warehouse", cfg.Warehouse.Path)
	return s.run(ctx, sched, ln)
}

// parseSchedule parses a standard 5-field cron expression or a descriptor
// (@hourly, @every 10m), optionally prefixed by CRON_TZ=Zone. A schedule
// that would never fire (30 February) or fire constantly (@every below a
// second, which cron would run every second) is an error.
func parseSchedule(spec string) (cron.Schedule, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	fields := strings.Fields(spec)
	if len(fields) > 0 && (strings.HasPrefix(fields[0], "CRON_TZ=") || strings.HasPrefix(fields[0], "TZ=")) {
		fields = fields[1:]
	}
	if len(fields) == 2 && fields[0] == "@every" {
		if d, err := time.ParseDuration(fields[1]); err == nil && d < time.Second {
			return nil, fmt.Errorf("@every needs an interval of at least 1s, got %s", fields[1])
		}
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("%q never runs: no date matches it", spec)
	}
	return sched, nil
}

// scheduler runs a job on a schedule, never two at once: a tick that comes
// while the job still runs is skipped, logged and counted. A panicking job
// is recovered, logged and counted as a failed run.
type scheduler struct {
	log     *slog.Logger
	metrics *metrics
	grace   time.Duration
	// job is one run; an error is logged here only if no run started (a run
	// logs its own summary line).
	job func(ctx context.Context) (load.Run, error)

	running atomic.Bool
}

// run starts the schedule and, if ln is not nil, serves /metrics and
// /healthz on it, until ctx is done. It then stops the schedule, waits at
// most the grace for the job in flight (cancelled by ctx, it rolls back)
// and returns ctx's cause.
func (s *scheduler) run(ctx context.Context, sched cron.Schedule, ln net.Listener) error {
	c := cron.New(cron.WithLogger(cronLogger{s.log}))
	c.Schedule(sched, cron.FuncJob(func() { s.tick(ctx) }))
	var srv *http.Server
	served := make(chan error, 1)
	if ln != nil {
		srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { served <- srv.Serve(ln) }()
		s.log.Info("serving metrics", "addr", ln.Addr().String())
	}
	c.Start()
	s.log.Info("next run", "at", c.Entries()[0].Next)
	var err error
	select {
	case <-ctx.Done():
		err = fmt.Errorf("stopped: %w", context.Cause(ctx))
	case serr := <-served:
		err = fmt.Errorf("serve metrics: %w", serr)
	}
	stopped := c.Stop() // no new runs; done when the one in flight returns
	t := time.NewTimer(s.grace)
	defer t.Stop()
	select {
	case <-stopped.Done():
	case <-t.C:
		s.log.Error("run still stopping after the shutdown grace, leaving it", "grace", s.grace)
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // past the timeout open scrapes are dropped
	}
	return err
}

// tick is one scheduled run.
func (s *scheduler) tick(ctx context.Context) {
	if !s.running.CompareAndSwap(false, true) {
		s.log.Warn("run skipped: the previous run is still going")
		s.metrics.skipped.WithLabelValues("running").Inc()
		return
	}
	defer s.running.Store(false)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("run panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			s.metrics.observePanic()
		}
	}()
	_, err := s.job(ctx)
	var locked *load.LockedError
	switch {
	case errors.As(err, &locked):
		s.log.Warn("run skipped: "+locked.Error(), "owner", locked.Owner)
		s.metrics.skipped.WithLabelValues("locked").Inc()
	}
}

// handler serves /metrics (Prometheus text format) and /healthz (200 while
// the process runs; its body says whether a run is going).
func (s *scheduler) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		state := "idle"
		if s.running.Load() {
			state = "running"
		}
		fmt.Fprintf(w, "ok: %s\n", state)
	})
	return mux
}

// cronLogger sends the cron library's logs to slog: its chatter at debug,
// its errors at error.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", err)...)
}
