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
	cfg, err := loadConfig("../../config.example.yaml", envOf(map[string]string{"ONCEHUB_API_KEY": "k"}), forSync)
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
	cfg, err := loadConfig(p, envOf(map[string]string{"KEY": "secret", "DIR": "/data", "SIZE": "50"}), forSync)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.APIKey != "secret" || cfg.Warehouse.Path != "/data/w.duckdb" || cfg.Source.PageSize != 50 {
		t.Errorf("got key %q path %q", string(cfg.Source.APIKey), cfg.Warehouse.Path)
	}
	_, err = loadConfig(p, envOf(map[string]string{"KEY": "secret", "SIZE": "50"}), forSync)
	if err == nil || !strings.Contains(err.Error(), "DIR") {
		t.Errorf("unset variable: err = %v, want it named", err)
	}
}

func TestConfig_KeyFromFile(t *testing.T) {
	key := writeFile(t, "key", "from-file\n")
	p := writeFile(t, "c.yaml", "source:\n  api_key_file: "+key+"\n  start: 2025-01-01T00:00:00Z\n")
	cfg, err := loadConfig(p, envOf(nil), forSync)
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
	ce := configProblems(t, p)
	err := error(ce)
	for _, want := range []string{
		"source.base_url (line 2)", "source.api_key", "source.page_size (line 3): must be 1..100, got 500",
		"source.expand[1]", "source.start", "source.lookback", "warehouse.format",
		`warehouse.memory_limit (line 8): must be a size such as 256MB or 1GiB, got "lots"`,
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
	if _, err := loadConfig(p, envOf(nil), forSync); err == nil || !strings.Contains(err.Error(), "page_sise") {
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
			if err := cfg.validate(forQuery); err != nil {
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
		err := cfg.validate(forQuery)
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
		err := cfg.validate(forQuery)
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
			cfg, err := loadConfig(writeFile(t, "c.yaml", c.yaml), envOf(nil), forQuery)
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
	cfg, err := loadConfig(writeFile(t, "c.yaml", "low_memory: true\nwarehouse:\n  format: parquet\n"), envOf(nil), forQuery)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Warehouse.MemoryLimit != "256MB" || cfg.Sync.BatchSize != 2000 {
		t.Errorf("memory_limit %s, batch_size %d; want 256MB, 2000", cfg.Warehouse.MemoryLimit, cfg.Sync.BatchSize)
	}
	_, err = loadConfig(writeFile(t, "c.yaml", "low_memory: true\nwarehouse:\n  format: parquet\n  memory_limit: 64MB\n"), envOf(nil), forQuery)
	if err == nil || !strings.Contains(err.Error(), "warehouse.memory_limit (line 4): must be at least 256MB with warehouse.format parquet") {
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

// exampleWith is config.example.yaml with each old text replaced by its new
// one, as a file, and the line of each replacement.
func exampleWith(t *testing.T, oldNew ...string) (string, []int) {
	t.Helper()
	b, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var lines []int
	for i := 0; i < len(oldNew); i += 2 {
		at := strings.Index(text, oldNew[i])
		if at < 0 {
			t.Fatalf("config.example.yaml lacks %q", oldNew[i])
		}
		lines = append(lines, strings.Count(text[:at], "\n")+1)
		text = text[:at] + oldNew[i+1] + text[at+len(oldNew[i]):]
	}
	return writeFile(t, "c.yaml", text), lines
}

// TestConfig_ProblemsNameKeyAndLine: a value of the wrong type, an unknown
// or repeated key: each problem names its key path and its line in the
// user's file, not Go's types.
func TestConfig_ProblemsNameKeyAndLine(t *testing.T) {
	key := envOf(map[string]string{"ONCEHUB_API_KEY": "k"})
	example, lines := exampleWith(t, "timeout: 30s", "timeout: 30 s", "batch_size:", "batchsize:")
	for _, tc := range []struct {
		name string
		path string
		want []string
	}{
		{"the example, changed", example, []string{
			fmt.Sprintf(`source.timeout (line %d): must be a duration such as 30s, 10m or 720h, got "30 s"`, lines[0]),
			fmt.Sprintf("sync.batchsize (line %d): unknown key (did you mean batch_size?)", lines[1]),
		}},
		{"types", writeFile(t, "c.yaml", "source:\n  start: 2024-01-01T00:00:00Z\n  page_size: many\n  expand: contact\n  rate_limit: {per_second: fast}\nlow_memory: maybe\nwarehouse: duckdb\n"), []string{
			`source.page_size (line 3): must be a whole number, got "many"`,
			`source.expand (line 4): must be a list, such as [a, b], got "contact"`,
			`source.rate_limit.per_second (line 5): must be a number, got "fast"`,
			`low_memory (line 6): must be true or false, got "maybe"`,
			`warehouse (line 7): must be a mapping of keys, got "duckdb"`,
		}},
		{"repeated key", writeFile(t, "c.yaml", "source:\n  start: 2024-01-01T00:00:00Z\n  page_size: 10\n  page_size: 20\n"), []string{
			"source.page_size (line 4): set twice (first on line 3)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.path, key, forSync)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if strings.Contains(err.Error(), "main.") || strings.Contains(err.Error(), "unmarshal") {
				t.Errorf("error speaks Go, not the file:\n%v", err)
			}
		})
	}
}

// TestConfig_AnchorsAndMergeKeys: YAML's aliases and merge keys still work,
// the mapping's own keys winning over merged ones.
func TestConfig_AnchorsAndMergeKeys(t *testing.T) {
	p := writeFile(t, "c.yaml", "x-limits: &limits {per_second: 2, per_5min: 100}\nsource:\n  start: 2024-01-01T00:00:00Z\n  rate_limit:\n    per_5min: 50\n    <<: *limits\n")
	_, err := loadConfig(p, envOf(nil), forQuery)
	if err == nil || !strings.Contains(err.Error(), "x-limits (line 1): unknown key") {
		t.Fatalf("err = %v, want only x-limits unknown", err)
	}
	p = writeFile(t, "c.yaml", "source:\n  start: &t 2024-01-01T00:00:00Z\n  rate_limit:\n    per_5min: 50\n    <<: {per_second: 2, per_5min: 100}\n")
	cfg, err := loadConfig(p, envOf(nil), forQuery)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.RateLimit != (RateConfig{PerSecond: 2, Per5Min: 50}) {
		t.Errorf("rate_limit %+v, want per_second 2 merged, per_5min 50 its own", cfg.Source.RateLimit)
	}
}

// TestConfig_Durations: a bare 0 is a duration (the example documents
// slice: 0); another bare number lacks its unit; a negative one is an error,
// and so is a 0 where only a positive one makes sense.
func TestConfig_Durations(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want string // the error, or for none the durations as "slice lookback settle_lag timeout"
	}{
		{"source:\n  slice: 0\n  lookback: 0\n  settle_lag: 0\n", "0s 0s 0s 30s"},
		{"source:\n  slice: 0s\n  timeout: 1m30s\n", "0s 10m0s 1m0s 1m30s"},
		{"source:\n  slice: 30\n", "source.slice (line 2): needs a unit, such as 30s, 30m or 30h (only 0 goes without), got 30"},
		{"source:\n  lookback: 1.5\n", "source.lookback (line 2): needs a unit"},
		{"source:\n  settle_lag: soon\n", `source.settle_lag (line 2): must be a duration such as 30s, 10m or 720h, got "soon"`},
		{"source:\n  retry:\n    max_elapsed: -1s\n", "source.retry.max_elapsed (line 3): must not be negative, got -1s"},
		// 0 is not "no limit": the client took it for its default of 5m.
		{"source:\n  retry:\n    max_elapsed: 0\n", "source.retry.max_elapsed (line 3): must be positive"},
		{"source:\n  lookback: -1m\n", "source.lookback (line 2): must not be negative, got -1m0s"},
		{"source:\n  slice: 1ms\n", "source.slice (line 2): must be 0 (one slice) or at least 1h, got 1ms"},
		{"source:\n  slice: 1h\n", "1h0m0s 10m0s 1m0s 30s"},
	} {
		t.Run(strings.ReplaceAll(tc.yaml, "\n", " "), func(t *testing.T) {
			cfg, err := loadConfig(writeFile(t, "c.yaml", tc.yaml+"  start: 2024-01-01T00:00:00Z\n"), envOf(map[string]string{"ONCEHUB_API_KEY": "k"}), forSync)
			got := fmt.Sprint(cfg.Source.Slice, " ", cfg.Source.Lookback, " ", cfg.Source.SettleLag, " ", cfg.Source.Timeout)
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestConfig_NonFiniteRate: per_second must be a finite number.
func TestConfig_NonFiniteRate(t *testing.T) {
	for _, v := range []string{".nan", ".inf", "-.inf"} {
		cfg, err := loadConfig(writeFile(t, "c.yaml", "source:\n  start: 2024-01-01T00:00:00Z\n  rate_limit:\n    per_second: "+v+"\n"), envOf(map[string]string{"ONCEHUB_API_KEY": "k"}), forSync)
		if err == nil || !strings.Contains(err.Error(), "source.rate_limit.per_second (line 4): must be a finite number") {
			t.Errorf("per_second %s: err = %v, rate %v", v, err, cfg.Source.RateLimit.PerSecond)
		}
	}
}

// TestConfig_Start: source.start is RFC 3339 with a zone, or a date; a bad
// one names its key, its line and the format.
func TestConfig_Start(t *testing.T) {
	jan1 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Time // zero: an error
	}{
		{"2024-01-01T00:00:00Z", jan1},
		{"2024-01-01T01:00:00+01:00", jan1},
		{`"2024-01-01T00:00:00Z"`, jan1},
		{"2024-01-01", jan1},
		{"yesterday", time.Time{}},
		{"2024-01-01T00:00:00", time.Time{}},
		{"2024-01-01 00:00:00", time.Time{}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			p := writeFile(t, "c.yaml", "source:\n  page_size: 10\n  start: "+tc.value+"\n")
			cfg, err := loadConfig(p, envOf(map[string]string{"ONCEHUB_API_KEY": "k"}), forSync)
			if !tc.want.IsZero() {
				if err != nil || !cfg.Source.Start.Equal(tc.want) {
					t.Errorf("start %s (%v), want %s", cfg.Source.Start, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "source.start (line 3): must be an RFC 3339 time with a zone, such as 2024-01-01T00:00:00Z") {
				t.Fatalf("err = %v", err)
			}
			if strings.Count(err.Error(), "source.start") != 1 {
				t.Errorf("source.start reported more than once:\n%v", err)
			}
		})
	}
}

// TestConfig_ListsEveryProblemAtOnce: a problem found reading the file (a
// type, an unknown key, a missing variable, a bad time, an unreadable key
// file) does not hide the others, nor what validation finds.
func TestConfig_ListsEveryProblemAtOnce(t *testing.T) {
	p := writeFile(t, "c.yaml", `source:
  api_key_file: /nonexistent/key
  page_size: 500
  timeout: 30 s
  start: yesterday
  colour: blue
warehouse:
  path: ${WAREHOUSE_DIR}/w.duckdb
  format: csv
log: {level: loud}
`)
	ce := configProblems(t, p)
	err := error(ce)
	for _, want := range []string{
		"source.api_key_file (line 2): open /nonexistent/key", "source.page_size (line 3): must be 1..100",
		"source.timeout (line 4)", "source.start (line 5)", "source.colour (line 6): unknown key",
		"warehouse.path (line 8): environment variable WAREHOUSE_DIR is not set", "warehouse.format (line 9)", "log.level (line 10)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(ce.Problems) != 8 {
		t.Errorf("%d problems, want 8 (none twice, no empty key reported beside its file):\n%v", len(ce.Problems), err)
	}
}

// TestConfig_APIKeySources: an api_key or api_key_file set in the file wins
// over ONCEHUB_API_KEY, which is used only when neither is set; both set is
// an error, as is a key file that cannot be read.
func TestConfig_APIKeySources(t *testing.T) {
	keyFile := writeFile(t, "key", "from-file\n")
	empty := writeFile(t, "empty", "\n")
	for _, tc := range []struct {
		name, source, env string
		want              string // the key, or the error
	}{
		{"file wins over the variable", "api_key_file: " + keyFile, "from-env", "from-file"},
		{"key wins over the variable", "api_key: inline", "from-env", "inline"},
		{"variable when neither", "page_size: 10", "from-env", "from-env"},
		{"missing file, variable set", "api_key_file: /nonexistent/key", "from-env", "source.api_key_file (line 3): open /nonexistent/key: no such file or directory"},
		{"empty file", "api_key_file: " + empty, "from-env", "source.api_key_file (line 3): " + empty + " is empty"},
		{"both", "api_key: inline\n  api_key_file: " + keyFile, "", "source.api_key_file (line 4): set source.api_key or source.api_key_file, not both"},
		{"none", "page_size: 10", "", "source.api_key: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "c.yaml", "source:\n  start: 2024-01-01T00:00:00Z\n  "+tc.source+"\n")
			cfg, err := loadConfig(p, envOf(map[string]string{"ONCEHUB_API_KEY": tc.env}), forSync)
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if string(cfg.Source.APIKey) != tc.want {
				t.Errorf("key %q, want %q", string(cfg.Source.APIKey), tc.want)
			}
		})
	}
	// Querying needs no key: an unreadable key file does not stop sql or status.
	p := writeFile(t, "c.yaml", "source:\n  api_key_file: /nonexistent/key\n")
	if _, err := loadConfig(p, envOf(nil), forQuery); err != nil {
		t.Errorf("without the source: %v", err)
	}
}

// TestConfig_WarehousePath: a warehouse.path no sync could write is a
// configuration problem, found without writing anything.
func TestConfig_WarehousePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, format, path string
		want               string // "" for none
	}{
		{"new file in new folders", "duckdb", filepath.Join(dir, "a", "b", "w.duckdb"), ""},
		{"existing file", "duckdb", file, ""},
		{"new dataset", "parquet", filepath.Join(dir, "a", "w"), ""},
		{"existing dataset", "parquet", dir, ""},
		{"under a file", "duckdb", filepath.Join(file, "x", "w.duckdb"), "cannot create " + filepath.Join(file, "x", "w.duckdb") + ": " + file + " is not a folder"},
		{"dataset under a file", "parquet", filepath.Join(file, "w"), file + " is not a folder"},
		{"in /proc", "duckdb", "/proc/nope/wh.duckdb", "cannot write in /proc"},
		{"read-only folder", "duckdb", filepath.Join(readOnly, "w.duckdb"), "cannot write in " + readOnly},
		{"duckdb is a folder", "duckdb", dir, dir + " is not a file (a duckdb warehouse is one)"},
		{"parquet is a file", "parquet", file, file + " is not a folder (a parquet warehouse is one)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "c.yaml", fmt.Sprintf("source:\n  start: 2024-01-01T00:00:00Z\nwarehouse:\n  format: %s\n  path: %s\n", tc.format, tc.path))
			_, err := loadConfig(p, envOf(map[string]string{"ONCEHUB_API_KEY": "k"}), forSync)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), "warehouse.path (line 5): ") || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if _, err := loadConfig(p, envOf(nil), forQuery); err != nil {
				t.Errorf("for querying: %v, want the path left to the query", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the check created folders: %v", err)
	}
}

// configProblems loads the configuration file at path, which must be
// invalid, and returns its problems.
func configProblems(t *testing.T, path string) *ConfigError {
	t.Helper()
	_, err := loadConfig(path, envOf(nil), forSync)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConfigError", err)
	}
	return ce
}
