package main

import (
	"context"
	"database/sql"
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
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(configPath(e, *cfgFlag), e.getenv, true)
	if err != nil {
		return err
	}
	mode := pipeline.Incremental
	if *full {
		mode = pipeline.FullRefresh
	}
	_, err = syncOnce(ctx, cfg, newLogger(e.stderr, cfg.Log), pipeline.Options{Mode: mode})
	return err
}

// warehouse is an open sink that can also be queried.
type warehouse interface {
	pipeline.Sink
	DB() *sql.DB
	Close() error
}

// openWarehouse opens the configured warehouse for writing (taking its lock).
func openWarehouse(ctx context.Context, cfg Config) (warehouse, error) {
	if cfg.Warehouse.Format == "parquet" {
		host, _ := os.Hostname()
		return load.OpenParquet(ctx, cfg.Warehouse.Path, load.ParquetOptions{
			Partition:   cfg.Warehouse.Parquet.Partition,
			Compression: cfg.Warehouse.Parquet.Compression,
			Owner:       fmt.Sprintf("convsync pid %d on %s", os.Getpid(), host),
		})
	}
	return load.OpenDuckDB(ctx, cfg.Warehouse.Path, load.DuckDBOptions{})
}

// newClient builds the API client of the configuration.
func newClient(cfg Config) (*extract.Client, error) {
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
	client, err := newClient(cfg)
	if err != nil {
		return load.Run{}, err
	}
	wh, err := openWarehouse(ctx, cfg)
	if err != nil {
		return load.Run{}, err
	}
	defer wh.Close()
	opts.Start, opts.Lookback, opts.SettleLag = cfg.Source.Start, cfg.Source.Lookback, cfg.Source.SettleLag
	opts.SliceSize, opts.BatchSize = cfg.Source.Slice, cfg.Sync.BatchSize
	if cfg.Source.Slice == 0 {
		opts.SliceSize = -1
	}
	run, err := pipeline.Run(ctx, client, wh, opts)
	logRun(log, run)
	if err != nil {
		return run, fmt.Errorf("run %s: %w", run.ID, err)
	}
	return run, wh.Close()
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
// log.format says which.
func newLogger(w io.Writer, c LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated with the config
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "auto" || format == "" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
