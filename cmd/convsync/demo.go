package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/convsync/convsync/extract/oncehubtest"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
	sqlfiles "github.com/convsync/convsync/sql"
)

func runSimulate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "simulate")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	n := fs.Int("conversations", 1000, "conversations generated at start")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	key := fs.String("api-key", "test-key", "the API key the simulator accepts")
	limits := fs.Bool("rate-limits", true, "enforce OnceHub's rate limits (5 req/s per key, 200 req/5 min per client)")
	live := fs.Bool("live", true, "follow the wall clock: new and updated conversations appear as time passes")
	quiet := fs.Bool("quiet", false, "do not log requests")
	faultRate := fs.Float64("fault-rate", 0, "share of requests that fail at random (500, 502, 503, 429 with Retry-After, dropped connection), e.g. 0.05")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *faultRate < 0 || *faultRate > 1 || math.IsNaN(*faultRate) {
		return usageError{fmt.Sprintf("--fault-rate must be between 0 and 1, got %v", *faultRate)}
	}
	opts := oncehubtest.Options{Seed: *seed, Conversations: *n, APIKey: *key, Live: *live, FaultRate: *faultRate}
	if *limits {
		opts.RatePerSecond, opts.RatePer5Minutes = oncehubtest.RatePerSecond, oncehubtest.RatePer5Minutes
	}
	var logw io.Writer = e.stderr
	if *quiet {
		logw = nil
	}
	return oncehubtest.Serve(ctx, *addr, opts, logw)
}

// demoConfig is written beside the demo warehouse so that `convsync sql`,
// `status` and `sync` (against `convsync simulate`) work on it afterwards.
const demoConfig = `# Written by convsync demo. Serve data with: convsync simulate
source:
  base_url: http://127.0.0.1:8080/v2
  api_key: test-key
  start: %s
warehouse:
  format: %s
  path: %s
`

func runDemo(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "demo")
	dir := fs.String("dir", "convsync-demo", "folder for the demo warehouse (replaced if present)")
	n := fs.Int("conversations", 3000, "conversations in the simulator")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	format := fs.String("format", "duckdb", "warehouse format: duckdb (DIR/warehouse.duckdb) or parquet (DIR/warehouse/)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "duckdb" && *format != "parquet" {
		return usageError{fmt.Sprintf("--format must be duckdb or parquet, got %q", *format)}
	}
	w := e.stdout
	sim := oncehubtest.New(oncehubtest.Options{Seed: *seed, Conversations: *n,
		RatePerSecond: oncehubtest.RatePerSecond, RatePer5Minutes: oncehubtest.RatePer5Minutes})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	fmt.Fprintf(w, "Started the OnceHub simulator at %s/v2: %d conversations over 180 days, OnceHub's rate limits on.\n", srv.URL, sim.Len())

	path := filepath.Join(*dir, "warehouse.duckdb")
	if *format == "parquet" {
		path = filepath.Join(*dir, "warehouse")
	}
	if err := resetDemo(*dir, path); err != nil {
		return err
	}
	cfg := defaultConfig()
	cfg.Source.BaseURL, cfg.Source.APIKey = srv.URL+"/v2", Secret(sim.APIKey())
	cfg.Source.Start = sim.Now().Add(-200 * 24 * time.Hour).Truncate(24 * time.Hour)
	cfg.Source.SettleLag = 0
	cfg.Warehouse.Path, cfg.Warehouse.Format = path, *format
	cfg.Log.Format = "text"
	if err := cfg.validate(forSync); err != nil {
		return err
	}
	cfgText := fmt.Sprintf(demoConfig, cfg.Source.Start.Format(time.RFC3339), *format, path)
	if err := os.WriteFile(filepath.Join(*dir, "convsync.yaml"), []byte(cfgText), 0o644); err != nil {
		return err
	}
	log := newLogger(io.Discard, cfg.Log)
	// A window ends before its Now: one past the simulator's clock takes in
	// a conversation stamped at it, so each run loads every change it told.
	opts := pipeline.Options{Now: func() time.Time { return sim.Now().Add(time.Millisecond) }}

	fmt.Fprintf(w, "\nRun 1: first sync into %s (%s, everything since %s)\n", path, *format, cfg.Source.Start.Format(time.DateOnly))
	r, err := syncOnce(ctx, cfg, log, opts)
	if err != nil {
		return err
	}
	printRun(w, r)
	for i, step := range []time.Duration{6 * time.Hour, 24 * time.Hour} {
		d := sim.Advance(step)
		fmt.Fprintf(w, "\nThe simulator's clock moves %s: %d new conversations, %d updated (answers added, edited, removed; statuses closed).\n",
			step, len(d.Created), len(d.Updated))
		fmt.Fprintf(w, "Run %d: incremental sync, only the changes move\n", i+2)
		if r, err = syncOnce(ctx, cfg, log, opts); err != nil {
			return err
		}
		printRun(w, r)
	}
	return demoQueries(ctx, cfg, w, *dir)
}

// resetDemo empties the demo folder's warehouse so every demo starts fresh.
func resetDemo(dir, path string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo folder: %w", err)
	}
	for _, p := range []string{path, path + ".wal"} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("reset demo warehouse: %w", err)
		}
	}
	return nil
}

func printRun(w io.Writer, r load.Run) {
	secs := 0.0
	if r.End != nil {
		secs = r.End.Sub(r.Start).Seconds()
	}
	window := "empty window"
	if r.WindowLo != nil && r.WindowHi != nil {
		window = fmt.Sprintf("window [%s, %s)", r.WindowLo.Format(time.RFC3339), r.WindowHi.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  %s %s in %.1fs, %s\n", r.ID, r.Status, secs, window)
	fmt.Fprintf(w, "  conversations: %d inserted, %d updated, %d unchanged; %d answer/booking rows written; %d rejected\n",
		r.Inserted, r.Updated, r.Unchanged, r.ChildRows, r.Rejected)
	fmt.Fprintf(w, "  API: %d calls for %d pages, %d retries, %d answered 429\n", r.APICalls, r.Pages, r.Retries, r.RateLimited)
}

func demoQueries(ctx context.Context, cfg Config, w io.Writer, dir string) error {
	wh, err := openWarehouse(ctx, cfg)
	if err != nil {
		return err
	}
	defer wh.Close()
	for _, q := range []struct{ title, sql string }{
		{"Conversations by status", sqlfiles.DemoStatus},
		{"The most answered questions (conversation_answers, long format)", sqlfiles.DemoAnswers},
		{"The run ledger (_convsync_runs)", sqlfiles.DemoRuns},
	} {
		fmt.Fprintf(w, "\n%s:\n", q.title)
		if err := query(ctx, wh.DB(), w, "table", q.sql); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nQuery it yourself:\n  go run ./cmd/convsync sql --config %s \"SELECT * FROM conversations LIMIT 5\"\n  go run ./cmd/convsync status --config %s\n",
		filepath.Join(dir, "convsync.yaml"), filepath.Join(dir, "convsync.yaml"))
	return nil
}
