package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
)

func runSync(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "sync")
	cfgFlag := fs.String("config", "", "config file (default $CONVSYNC_CONFIG, else ./convsync.yaml if present)")
	full := fs.Bool("full-refresh", false, "re-read everything from source.start instead of from the cursor")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(configPath(e, *cfgFlag), e.getenv, forSync)
	if err != nil {
		return err
	}
	mode := pipeline.Incremental
	if *full {
		mode = pipeline.FullRefresh
	}
	return oneShot(ctx, e, cfg, pipeline.Options{Mode: mode}, newMetrics())
}

// oneShot runs one sync for the sync and backfill commands: a progress bar
// if stderr is a terminal, the metrics exported if m is not nil, and at most
// sync.shutdown_grace between a stop signal and the return.
func oneShot(ctx context.Context, e env, cfg Config, opts pipeline.Options, m *metrics) error {
	bar := newProgress(e.stderr, string(opts.Mode))
	log := newLoggerOn(bar.logTo(e.stderr), isTerminal(e.stderr), cfg.Log)
	opts.OnCommit = bar.update
	return withGrace(ctx, cfg.Sync.ShutdownGrace, func() error {
		defer bar.done()
		_, err := syncAndReport(ctx, cfg, log, m, opts)
		return err
	})
}

// syncAndReport runs one sync and, if m is not nil, records its metrics and
// exports them (a failed export is logged: it does not fail the run). A run
// refused by the lock records nothing: the holder reports its own run. A
// run that did not start (the warehouse could not be opened, or its cursor
// read) has no summary line or ledger row: it is logged here.
func syncAndReport(ctx context.Context, cfg Config, log *slog.Logger, m *metrics, opts pipeline.Options) (load.Run, error) {
	if m != nil {
		m.inProgress.Set(1)
	}
	out, err := syncRun(ctx, cfg, log, opts)
	locked := errors.As(err, new(*load.LockedError))
	if err != nil && out.run.ID == "" && !locked {
		log.Error("run did not start", "error", err.Error())
	}
	if m == nil {
		return out.run, err
	}
	m.inProgress.Set(0)
	if locked {
		return out.run, err
	}
	m.observe(out.run, out.lastSuccess)
	if xerr := m.export(ctx, cfg.Metrics); xerr != nil {
		log.Error("export metrics", "error", xerr)
	}
	return out.run, err
}

// withGrace runs f and returns its error. Once ctx is done it waits at most
// grace for f to return (a cancelled run rolls back its batch and records
// itself), then returns without it: the process is about to exit, and as
// commits are atomic, exiting mid-rollback is as safe as being killed.
func withGrace(ctx context.Context, grace time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("run still stopping after the shutdown grace of %s, leaving it: %w", grace, context.Cause(ctx))
	}
}

// newClient builds the API client of the configuration; its retries are
// logged at warn and its requests at debug on log.
func newClient(cfg Config, log *slog.Logger) (*extract.Client, error) {
	s := cfg.Source
	return extract.New(extract.Options{
		BaseURL:         s.BaseURL,
		APIKey:          string(s.APIKey),
		PageSize:        s.PageSize,
		Expand:          s.Expand,
		RatePerSecond:   s.RateLimit.PerSecond,
		RequestsPer5Min: s.RateLimit.Per5Min,
		MaxRetries:      retries(s.Retry.MaxAttempts),
		MaxElapsed:      s.Retry.MaxElapsed,
		HTTPClient:      &http.Client{Timeout: s.Timeout},
		Logger:          log,
	})
}

// retries is the client's MaxRetries for max_attempts (1 = no retry, which
// the client spells as a negative number).
func retries(attempts int) int {
	if attempts <= 1 {
		return -1
	}
	return attempts - 1
}

// syncOnce runs one sync with the configuration and logs its summary line.
func syncOnce(ctx context.Context, cfg Config, log *slog.Logger, opts pipeline.Options) (load.Run, error) {
	out, err := syncRun(ctx, cfg, log, opts)
	return out.run, err
}

// outcome is what a sync did, for its metrics.
type outcome struct {
	run         load.Run
	lastSuccess time.Time // zero: unknown
}

// syncRun opens the warehouse (taking its lock), runs one sync, logs its
// summary line and reads the last success from the ledger.
func syncRun(ctx context.Context, cfg Config, log *slog.Logger, opts pipeline.Options) (outcome, error) {
	client, err := newClient(cfg, log)
	if err != nil {
		return outcome{}, err
	}
	if opts.Mode == "" {
		opts.Mode = pipeline.Incremental
	}
	wh, err := openWriter(ctx, cfg, "convsync "+string(opts.Mode))
	if err != nil {
		return outcome{}, err
	}
	defer wh.Close()
	if opts.Mode == pipeline.Backfill {
		warnDroppedBackfill(ctx, wh, log, opts)
	}
	opts.Start, opts.Lookback, opts.SettleLag = cfg.Source.Start, cfg.Source.Lookback, cfg.Source.SettleLag
	opts.SliceSize, opts.BatchSize = cfg.Source.Slice, cfg.Sync.BatchSize
	if cfg.Source.Slice == 0 {
		opts.SliceSize = -1
	}
	run, err := pipeline.Run(ctx, client, wh, opts)
	if run.ID == "" {
		// Its cursor could not be read: it did not start. The ledger may
		// still say when the last success was.
		return outcome{lastSuccess: lastSuccess(ctx, wh.DB())}, err
	}
	logRun(log, run)
	out := outcome{run: run, lastSuccess: lastSuccess(ctx, wh.DB())}
	if err != nil {
		return out, fmt.Errorf("run %s: %w", run.ID, err)
	}
	return out, wh.Close()
}

// warnDroppedBackfill warns when a backfill of one range replaces the
// progress of an interrupted backfill of another: only one is kept, and the
// other, run again, starts over. Without a word, the interrupted range
// simply dropped out of status, as if it had been finished.
func warnDroppedBackfill(ctx context.Context, wh warehouse, log *slog.Logger, opts pipeline.Options) {
	st, err := wh.State(ctx)
	b := st.Backfill
	if err != nil || b == nil || pipeline.SameRange(b, opts.From, opts.To) {
		return // an unreadable state fails the run itself, and says so
	}
	log.Warn("backfill of another range: its first commit drops the progress of the interrupted backfill, whose range, run again, starts over",
		"interrupted_run_id", b.RunID, "interrupted_from", b.WindowLo.Format(time.RFC3339Nano), "interrupted_to", b.WindowHi.Format(time.RFC3339Nano))
}

// logRun writes the one summary line of a run.
func logRun(log *slog.Logger, r load.Run) {
	level := slog.LevelInfo
	if r.Status != "succeeded" {
		level = slog.LevelError
	}
	attrs := []any{
		"run_id", r.ID, "mode", r.Mode, "status", r.Status,
		"inserted", r.Inserted, "updated", r.Updated, "unchanged", r.Unchanged,
		"child_rows", r.ChildRows, "rejected", r.Rejected, "pages", r.Pages,
		"api_calls", r.APICalls, "retries", r.Retries, "rate_limited", r.RateLimited,
	}
	if r.WindowLo != nil && r.WindowHi != nil {
		attrs = append(attrs, "window_lo", r.WindowLo.Format(time.RFC3339Nano), "window_hi", r.WindowHi.Format(time.RFC3339Nano))
	}
	if r.End != nil {
		attrs = append(attrs, "seconds", r.End.Sub(r.Start).Seconds())
	}
	if r.Error != "" {
		attrs = append(attrs, "error", r.Error)
	}
	log.Log(context.Background(), level, "sync run", attrs...)
}

// newLogger logs human text on a terminal and JSON lines elsewhere, unless
// log.format says which. In JSON a duration is a number of seconds, as the
// summary line's "seconds" (slog would write nanoseconds).
func newLogger(w io.Writer, c LogConfig) *slog.Logger {
	return newLoggerOn(w, isTerminal(w), c)
}

// newLoggerOn is newLogger for a w that writes to a terminal or not as
// terminal says (a progress bar's writer is not the terminal's file).
func newLoggerOn(w io.Writer, terminal bool, c LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated with the config
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "auto" || format == "" {
		format = "json"
		if terminal {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			return slog.Float64(a.Key, a.Value.Duration().Seconds())
		}
		return a
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
