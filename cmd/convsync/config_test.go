package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfig_ExampleIsValid keeps config.example.yaml loadable and its values
// equal to the defaults it claims to show.
func TestConfig_ExampleIsValid(t *testing.T) {
	cfg, err := loadConfig("../../config.example.yaml", envOf(map[string]string{"ONCEHUB_API_KEY": "k"}), true)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.Source.APIKey = "k"
	want.Source.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, w := cfg.Source, want.Source; got.BaseURL != w.BaseURL || got.PageSize != w.PageSize ||
		got.Lookback != w.Lookback || got.SettleLag != w.SettleLag || got.Slice != w.Slice ||
		got.RateLimit != w.RateLimit || got.Retry != w.Retry || !got.Start.Equal(w.Start) || got.APIKey != "k" {
		t.Errorf("source = %+v, want %+v", got, w)
	}
	if cfg.Warehouse != want.Warehouse || cfg.Sync != want.Sync || cfg.Log != want.Log ||
		cfg.Metrics != want.Metrics || cfg.Schedule != want.Schedule || cfg.LowMemory != want.LowMemory {
		t.Errorf("config = %+v, want %+v", cfg, want)
	}
}

func TestConfig_ExpandsEnvironment(t *testing.T) {
	p := writeFile(t, "c.yaml", "# ${NOT_A_VALUE} in a comment\nsource:\n  api_key: ${KEY}\n  page_size: ${SIZE}\n  start: 2025-01-01T00:00:00Z\nwarehouse:\n  path: ${DIR}/w.duckdb\n")
	cfg, err := loadConfig(p, envOf(map[string]string{"KEY": "secret", "DIR": "/data", "SIZE": "50"}), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.APIKey != "secret" || cfg.Warehouse.Path != "/data/w.duckdb" || cfg.Source.PageSize != 50 {
		t.Errorf("got key %q path %q", string(cfg.Source.APIKey), cfg.Warehouse.Path)
	}
	_, err = loadConfig(p, envOf(map[string]string{"KEY": "secret", "SIZE": "50"}), true)
	if err == nil || !strings.Contains(err.Error(), "DIR") {
		t.Errorf("unset variable: err = %v, want it named", err)
	}
}

func TestConfig_KeyFromFile(t *testing.T) {
	key := writeFile(t, "key", "from-file\n")
	p := writeFile(t, "c.yaml", "source:\n  api_key_file: "+key+"\n  start: 2025-01-01T00:00:00Z\n")
	cfg, err := loadConfig(p, envOf(nil), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.APIKey != "from-file" {
		t.Errorf("api key = %q", string(cfg.Source.APIKey))
	}
}

// TestConfig_ReportsEveryProblem: one error lists each bad key with its path.
func TestConfig_ReportsEveryProblem(t *testing.T) {
	p := writeFile(t, "c.yaml", `source:
  base_url: ftp://x
  page_size: 500
  expand: [contact, nope]
  lookback: -1m
warehouse:
  format: csv
  memory_limit: lots
  parquet: {partition: year}
log: {level: loud}
`)
	_, err := loadConfig(p, envOf(nil), true)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConfigError", err)
	}
	for _, want := range []string{
		"source.base_url", "source.api_key", "source.page_size: must be 1..100, got 500",
		"source.expand[1]", "source.start", "source.lookback", "warehouse.format",
		`warehouse.memory_limit: must be a size such as 256MB or 1GiB, got "lots"`,
		"warehouse.parquet.partition", "log.level",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if exitCode(err) != exitConfig {
		t.Errorf("exit code = %d, want %d", exitCode(err), exitConfig)
	}
}

func TestConfig_UnknownKeyIsAnError(t *testing.T) {
	p := writeFile(t, "c.yaml", "source:\n  page_sise: 10\n")
	if _, err := loadConfig(p, envOf(nil), true); err == nil || !strings.Contains(err.Error(), "page_sise") {
		t.Errorf("err = %v, want the unknown key named", err)
	}
}

func TestSecret_NeverPrints(t *testing.T) {
	s := Secret("abc123")
	for _, got := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%+v %q", Config{Source: SourceConfig{APIKey: s}}, s)} {
		if strings.Contains(got, "abc123") {
			t.Errorf("secret printed: %q", got)
		}
	}
}

// warehouse.memory_limit is DuckDB's memory_limit of the writing process,
// for either format.
func TestConfig_MemoryLimitApplied(t *testing.T) {
	for _, format := range []string{"duckdb", "parquet"} {
		t.Run(format, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.Warehouse.Format, cfg.Warehouse.Path, cfg.Warehouse.MemoryLimit = format, filepath.Join(t.TempDir(), "w"), "300 mb"
			if err := cfg.validate(false); err != nil {
				t.Fatal(err)
			}
			wh, err := openWriter(context.Background(), cfg, "test")
			if err != nil {
				t.Fatal(err)
			}
			defer wh.Close()
			var got string
			if err := wh.DB().QueryRow(`SELECT current_setting('memory_limit')`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, "286") { // 300 MB = 286.1 MiB
				t.Errorf("memory_limit %s, want 286.1 MiB (300MB)", got)
			}
		})
	}
}

func TestConfig_MemoryLimitValues(t *testing.T) {
	for size, want := range map[string]string{
		"256MB": "", "1GiB": "", "64 mb": "", "0.5GB": "", "64000KB": "",
		"32MB": "must be at least 64MB", "60MiB": "must be at least 64MB",
		"lots": "must be a size", "256": "must be a size", "80%": "must be a size",
	} {
		cfg := defaultConfig()
		cfg.Warehouse.MemoryLimit = size
		err := cfg.validate(false)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), "warehouse.memory_limit: "+want)) {
			t.Errorf("memory_limit %q: error %v, want %q", size, err, want)
		}
	}
	// A Parquet warehouse needs more: its deltas rewrite partitions.
	for size, want := range map[string]string{
		"256MB": "", "1GiB": "", "128MB": "must be at least 256MB with warehouse.format parquet", "64MB": "must be at least 256MB",
	} {
		cfg := defaultConfig()
		cfg.Warehouse.Format, cfg.Warehouse.Path, cfg.Warehouse.MemoryLimit = "parquet", "dataset", size
		err := cfg.validate(false)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), "warehouse.memory_limit: "+want)) {
			t.Errorf("parquet memory_limit %q: error %v, want %q", size, err, want)
		}
	}
}

// low_memory: true sets the low-memory defaults of warehouse.memory_limit
// and sync.batch_size, wherever it is in the file; keys the file sets win.
func TestConfig_LowMemoryDefaults(t *testing.T) {
	for name, c := range map[string]struct {
		yaml      string
		limit     string
		batchSize int
	}{
		"alone":         {"low_memory: true\n", "64MB", 2000},
		"after keys":    {"sync:\n  shutdown_grace: 10s\nlow_memory: true\n", "64MB", 2000},
		"batch set":     {"sync:\n  batch_size: 3000\nlow_memory: true\n", "64MB", 3000},
		"limit set":     {"low_memory: true\nwarehouse:\n  memory_limit: 128MB\n", "128MB", 2000},
		"off":           {"low_memory: false\n", "256MB", 5000},
		"not mentioned": {"sync:\n  batch_size: 3000\n", "256MB", 3000},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := loadConfig(writeFile(t, "c.yaml", c.yaml), envOf(nil), false)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Warehouse.MemoryLimit != c.limit || cfg.Sync.BatchSize != c.batchSize {
				t.Errorf("memory_limit %s, batch_size %d; want %s, %d", cfg.Warehouse.MemoryLimit, cfg.Sync.BatchSize, c.limit, c.batchSize)
			}
			if cfg.Sync.ShutdownGrace == 0 {
				t.Error("shutdown_grace lost its default")
			}
		})
	}
}

// With a Parquet warehouse, low_memory keeps memory_limit at 256MB, the
// least a Parquet warehouse takes; a smaller one set is still an error.
func TestConfig_LowMemoryParquet(t *testing.T) {
	cfg, err := loadConfig(writeFile(t, "c.yaml", "low_memory: true\nwarehouse:\n  format: parquet\n"), envOf(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Warehouse.MemoryLimit != "256MB" || cfg.Sync.BatchSize != 2000 {
		t.Errorf("memory_limit %s, batch_size %d; want 256MB, 2000", cfg.Warehouse.MemoryLimit, cfg.Sync.BatchSize)
	}
	_, err = loadConfig(writeFile(t, "c.yaml", "low_memory: true\nwarehouse:\n  format: parquet\n  memory_limit: 64MB\n"), envOf(nil), false)
	if err == nil || !strings.Contains(err.Error(), "warehouse.memory_limit: must be at least 256MB with warehouse.format parquet") {
		t.Errorf("parquet with memory_limit 64MB: err = %v", err)
	}
}

// A writer opened with low_memory sets the process's Go memory limit and
// DuckDB's allocator, unless the environment sets them.
func TestLowMemory_Process(t *testing.T) {
	prev, freed := stubLowMemory(t)
	cfg := defaultConfig()
	if err := applyLowMemory(cfg, envOf(nil)); err != nil || *freed != 0 || debug.SetMemoryLimit(-1) != prev {
		t.Fatalf("without low_memory: err %v, allocator set %d times, Go limit %d; want nothing changed", err, *freed, debug.SetMemoryLimit(-1))
	}
	cfg = lowMemoryConfig(cfg, "duckdb")
	if err := applyLowMemory(cfg, envOf(map[string]string{"GOMEMLIMIT": "1GiB", "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:500"})); err != nil || *freed != 0 || debug.SetMemoryLimit(-1) != prev {
		t.Fatalf("environment set: err %v, allocator set %d times, Go limit %d; want the environment's", err, *freed, debug.SetMemoryLimit(-1))
	}
	cfg.Warehouse.Path = filepath.Join(t.TempDir(), "w.duckdb")
	wh, err := openWriter(context.Background(), cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("Go memory limit %d, want 64 MiB", got)
	}
	if *freed != 1 {
		t.Errorf("allocator set %d times, want once", *freed)
	}
	var limit string
	if err := wh.DB().QueryRow(`SELECT current_setting('memory_limit')`).Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(limit, "61") { // 64 MB = 61.0 MiB
		t.Errorf("memory_limit %s, want 61.0 MiB (64MB)", limit)
	}
}

// stubLowMemory restores the process's Go memory limit (returned) when t
// ends, and replaces setting DuckDB's allocator with counting the calls.
func stubLowMemory(t *testing.T) (goLimit int64, allocatorSet *int) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetMemoryLimit(prev)
		returnFreedMemory = load.ReturnFreedMemory
	})
	n := 0
	returnFreedMemory = func() error { n++; return nil }
	return prev, &n
}
