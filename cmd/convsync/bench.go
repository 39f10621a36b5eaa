package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/convsync/convsync/bench"
	"github.com/convsync/convsync/load"
)

// runBench runs the benchmark (see package bench and README "Performance").
// It starts the simulator as a child process: this binary with the hidden
// flag --serve-simulator, so the simulator's memory is not the syncing
// process's. With --serve-simulator it is that child.
func runBench(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench")
	var cfg bench.Config
	fs.IntVar(&cfg.Conversations, "conversations", 200000, "conversations in the simulator")
	fs.Float64Var(&cfg.Delta, "delta", 0.01, "share of conversations in each delta run, half new and half updated (negative: none)")
	fs.IntVar(&cfg.Deltas, "deltas", 3, "delta runs, one after the other")
	fs.BoolVar(&cfg.Parquet, "parquet", true, "also sync into Parquet")
	fs.BoolVar(&cfg.Split, "split", true, "also time the sync from captured pages in two halves: decoding into memory, then committing into DuckDB from it (holds every batch in memory: about 3 GB at 1M conversations)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the generated data")
	fs.StringVar(&cfg.Dir, "dir", "", "work folder, kept afterwards (default: a temporary folder, removed)")
	fs.IntVar(&cfg.BatchSize, "batch-size", 0, "conversations per commit (default: the pipeline's)")
	fs.StringVar(&cfg.MemoryLimit, "memory-limit", "", "DuckDB memory_limit (default: the sink's)")
	lowMemory := fs.Bool("low-memory", false, "low_memory's settings: --batch-size and --memory-limit (of the DuckDB warehouse) default to its, and the process takes its Go memory limit and allocator setting (so does the ceiling, in the same process)")
	fs.IntVar(&cfg.RateLimitedPages, "rate-limited", 0, "also backfill this many pages under OnceHub's rate limits (about 1.5 s a page)")
	compareAt := fs.Int("compare-at", 0, "then run it all again at this many conversations, with deltas of the same size, and print each delta's time there over its time at --conversations")
	out := fs.String("out", "", "also write the report to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the benchmark (go tool pprof) to this file")
	// Internal: the flags of the simulator child the bench starts.
	const internal = "internal: set by the bench for its simulator child"
	serve := fs.Bool("serve-simulator", false, internal)
	start := fs.String("start", "", internal+" (its data clock)")
	created := fs.Int("created", 0, internal+" (new conversations of the delta)")
	updated := fs.Int("updated", 0, internal+" (updated conversations of the delta)")
	steps := fs.Int("steps", 0, internal+" (delta steps applied)")
	limits := fs.Bool("rate-limits", false, internal+" (enforce OnceHub's limits)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *serve {
		spec := bench.SimSpec{Seed: cfg.Seed, Conversations: cfg.Conversations, Created: *created, Updated: *updated, Steps: *steps, RateLimits: *limits}
		t, err := time.Parse(time.RFC3339Nano, *start)
		if err != nil {
			return usageError{fmt.Sprintf("--start: %v", err)}
		}
		spec.Start = t
		return bench.ServeSimulator(ctx, spec, e.stderr)
	}
	if *lowMemory {
		if cfg.BatchSize == 0 {
			cfg.BatchSize = lowMemoryBatchSize
		}
		if cfg.MemoryLimit == "" {
			cfg.MemoryLimit = lowMemoryLimit
		}
		if err := applyLowMemory(Config{LowMemory: true}, e.getenv); err != nil {
			return err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Launcher = bench.Exec(exe, "bench", "--serve-simulator")
	cfg.Progress = e.stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return errors.Join(err, f.Close())
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	var report strings.Builder
	w := io.MultiWriter(e.stdout, &report)
	fmt.Fprintf(w, "%s\n\n", benchSettings(cfg, *lowMemory, e.getenv))
	rep, err := runBenchAt(ctx, cfg, cfg.Conversations, w, *compareAt > 0)
	if err == nil && *compareAt > 0 {
		cfg.DeltaSize = cfg.DeltaConversations()
		var large *bench.Report
		if large, err = runBenchAt(ctx, cfg, *compareAt, w, true); err == nil {
			bench.CompareDeltas(w, rep, large)
		}
	}
	if err != nil {
		return err
	}
	if *out != "" {
		return os.WriteFile(*out, []byte(report.String()), 0o644)
	}
	return nil
}

// benchSettings describes the settings the bench's syncs run with, for its
// report. Its Parquet warehouses keep the writer's default memory_limit.
func benchSettings(cfg bench.Config, lowMemory bool, getenv func(string) string) string {
	batch, limit := cfg.BatchSize, cfg.MemoryLimit
	if batch == 0 {
		batch = defaultConfig().Sync.BatchSize
	}
	if limit == "" {
		limit = load.DefaultMemoryLimit
	}
	goLimit := "none"
	if n := debug.SetMemoryLimit(-1); n != math.MaxInt64 {
		goLimit = fmt.Sprintf("%d MiB", n>>20)
	}
	alloc := "DuckDB's default"
	if v := getenv("DUCKDB_JE_MALLOC_CONF"); v != "" {
		alloc = "DUCKDB_JE_MALLOC_CONF=" + v
	} else if lowMemory {
		alloc = "returns freed memory at once"
	}
	return fmt.Sprintf("settings: batches of %d, memory_limit %s (the Parquet writer's %s), Go memory limit %s, GOGC %s, DuckDB's allocator %s",
		batch, limit, load.DefaultMemoryLimit, goLimit, cmp.Or(getenv("GOGC"), "100"), alloc)
}

// runBenchAt runs the benchmark cfg at n conversations and prints its
// report to w. With sub, its work folder (if --dir is set) is a subfolder
// named n.
func runBenchAt(ctx context.Context, cfg bench.Config, n int, w io.Writer, sub bool) (*bench.Report, error) {
	cfg.Conversations = n
	if sub && cfg.Dir != "" {
		cfg.Dir = filepath.Join(cfg.Dir, strconv.Itoa(n))
	}
	rep, err := bench.Run(ctx, cfg)
	if rep != nil {
		rep.Print(w)
	}
	return rep, err
}
