package main

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
)

// Config is the whole configuration, as read from YAML. Every key is
// documented in config.example.yaml; defaults are set by defaultConfig.
type Config struct {
	// Schedule is the cron expression `convsync run` follows ("" = none).
	Schedule string `yaml:"schedule"`
	// LowMemory trades speed for memory: see lowMemoryConfig and
	// applyLowMemory.
	LowMemory bool            `yaml:"low_memory"`
	Source    SourceConfig    `yaml:"source"`
	Warehouse WarehouseConfig `yaml:"warehouse"`
	Sync      SyncConfig      `yaml:"sync"`
	Metrics   MetricsConfig   `yaml:"metrics"`
	Log       LogConfig       `yaml:"log"`
}

// SourceConfig is the OnceHub API side.
type SourceConfig struct {
	BaseURL    string        `yaml:"base_url"`
	APIKey     Secret        `yaml:"api_key"`
	APIKeyFile string        `yaml:"api_key_file"`
	PageSize   int           `yaml:"page_size"`
	Expand     []string      `yaml:"expand"`
	Start      time.Time     `yaml:"start"`
	Lookback   time.Duration `yaml:"lookback"`
	SettleLag  time.Duration `yaml:"settle_lag"`
	Slice      time.Duration `yaml:"slice"`
	Timeout    time.Duration `yaml:"timeout"`
	RateLimit  RateConfig    `yaml:"rate_limit"`
	Retry      RetryConfig   `yaml:"retry"`
}

// RateConfig is the client-side rate limit; 0 disables a limit.
type RateConfig struct {
	PerSecond float64 `yaml:"per_second"`
	Per5Min   int     `yaml:"per_5min"`
}

// RetryConfig bounds retries of transient failures.
type RetryConfig struct {
	MaxAttempts int           `yaml:"max_attempts"`
	MaxElapsed  time.Duration `yaml:"max_elapsed"`
}

// WarehouseConfig is where the tables go.
type WarehouseConfig struct {
	Format string `yaml:"format"`
	Path   string `yaml:"path"`
	// MemoryLimit is DuckDB's memory_limit while writing (both formats),
	// e.g. "256MB" or "1GiB".
	MemoryLimit string        `yaml:"memory_limit"`
	Parquet     ParquetConfig `yaml:"parquet"`
}

// ParquetConfig applies when Format is "parquet".
type ParquetConfig struct {
	Partition   string `yaml:"partition"`
	Compression string `yaml:"compression"`
}

// SyncConfig tunes the pipeline.
type SyncConfig struct {
	BatchSize int `yaml:"batch_size"`
	// ShutdownGrace bounds how long a stop signal waits for the run in
	// flight to roll back and record itself before the process exits.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// MetricsConfig says where run metrics go; every part is optional.
type MetricsConfig struct {
	// Listen is the address `convsync run` serves /metrics and /healthz on
	// ("" = no server).
	Listen string `yaml:"listen"`
	// Textfile is a *.prom file rewritten atomically after every run, for
	// node-exporter's textfile collector.
	Textfile string `yaml:"textfile"`
	// Pushgateway is a Pushgateway URL the metrics are pushed to after
	// every run; credentials in it are masked when printed.
	Pushgateway URL `yaml:"pushgateway"`
	// Job is the Pushgateway job name.
	Job string `yaml:"job"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Secret is a string that never prints: fmt, logs and YAML output show it
// masked.
type Secret string

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "********"
}

// MarshalYAML masks the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// URL is a URL whose password never prints: YAML output shows it masked.
type URL string

// String masks the password, if any.
func (u URL) String() string {
	p, err := url.Parse(string(u))
	if err != nil {
		return "********" // an unparsable URL may still hold a password
	}
	return p.Redacted()
}

// MarshalYAML masks the password.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// defaultConfig is the configuration before the file is applied.
func defaultConfig() Config {
	return Config{
		Source: SourceConfig{
			BaseURL:   "https://api.oncehub.com/v2",
			PageSize:  100,
			Expand:    []string{"contact", "owner", "bot", "website", "audience"},
			Lookback:  10 * time.Minute,
			SettleLag: time.Minute,
			Slice:     30 * 24 * time.Hour,
			Timeout:   30 * time.Second,
			RateLimit: RateConfig{PerSecond: 5, Per5Min: 200},
			Retry:     RetryConfig{MaxAttempts: 8, MaxElapsed: 5 * time.Minute},
		},
		Warehouse: WarehouseConfig{
			Format:      "duckdb",
			Path:        "convsync.duckdb",
			MemoryLimit: load.DefaultMemoryLimit,
			Parquet:     ParquetConfig{Partition: "month", Compression: "zstd"},
		},
		Sync:    SyncConfig{BatchSize: pipeline.DefaultBatchSize, ShutdownGrace: 25 * time.Second},
		Metrics: MetricsConfig{Listen: "127.0.0.1:9464", Job: "convsync"},
		Log:     LogConfig{Level: "info", Format: "auto"},
	}
}

// Low-memory settings (low_memory: true), with which a first sync of 1M
// conversations peaked under 300 MB, into DuckDB at about half the default's
// speed, into Parquet at a third (README "Production settings").
const (
	lowMemoryLimit     = "64MB" // warehouse.memory_limit of a DuckDB warehouse
	lowMemoryBatchSize = 2000   // sync.batch_size
	lowMemoryGoLimit   = 64 << 20
)

// lowMemoryConfig is c with the low-memory defaults for a warehouse of
// format. A Parquet warehouse keeps its memory_limit, its minimum.
func lowMemoryConfig(c Config, format string) Config {
	c.LowMemory = true
	if format != "parquet" {
		c.Warehouse.MemoryLimit = lowMemoryLimit
	}
	c.Sync.BatchSize = lowMemoryBatchSize
	return c
}

// applyLowMemory sets what low_memory asks of the process, unless its
// environment already says: a soft memory limit for Go (GOMEMLIMIT), and
// DuckDB's allocator returning freed memory at once (DUCKDB_JE_MALLOC_CONF).
// Both hold for the rest of the process.
func applyLowMemory(c Config, getenv func(string) string) error {
	if !c.LowMemory {
		return nil
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(lowMemoryGoLimit)
	}
	if getenv("DUCKDB_JE_MALLOC_CONF") == "" {
		return returnFreedMemory()
	}
	return nil
}

// returnFreedMemory is load.ReturnFreedMemory; tests see it called.
var returnFreedMemory = load.ReturnFreedMemory

// memorySize is a size DuckDB's memory_limit takes.
var memorySize = regexp.MustCompile(`(?i)^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(i?)B$`)

// minMemoryLimit is the smallest warehouse.memory_limit: at 32MB a first
// sync of 1M conversations ran out of memory merging contacts; 64MB with
// sync.batch_size 2000 loaded them (README "Production settings").
const minMemoryLimit = 64e6

// minParquetMemoryLimit is the smallest warehouse.memory_limit of a Parquet
// warehouse: a delta rewrites whole month partitions, and at 64MB and 128MB
// a delta of 2,000 conversations on 200k ran out of memory doing so (at
// 128MB it passed only with DuckDB limited to one thread).
const minParquetMemoryLimit = 256e6

// memoryBytes is size (see memorySize) in bytes, as DuckDB reads it: KB,
// MB, ... are powers of 1000, KiB, MiB, ... of 1024.
func memoryBytes(size string) (float64, bool) {
	m := memorySize.FindStringSubmatch(size)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	base := 1000.0
	if m[3] != "" {
		base = 1024
	}
	for range strings.Index("KMGT", strings.ToUpper(m[2])) + 1 {
		n *= base
	}
	return n, true
}

// use is what a configuration is loaded for, which decides what is
// checked beyond the file's own rules.
type use int

const (
	// forQuery (sql, status): neither the source settings nor whether the
	// warehouse can be written.
	forQuery use = iota
	// forFile (config check --offline): every rule of the file, but not
	// that the API key is there nor that the warehouse can be written where
	// this runs.
	forFile
	// forAPI (probe): forFile's, and the API key read and required.
	forAPI
	// forSync (sync, run, backfill, config check): everything.
	forSync
)

// validate reports every problem of the configuration (see problems), one
// per line, each with its key path.
func (c Config) validate(u use) error {
	if p := c.problems(u); len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// problems lists what is wrong with the configuration for use u, each
// problem with its key path.
func (c Config) problems(u use) []string {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	if u >= forFile {
		p = c.Source.problems(u >= forAPI)
	}
	switch c.Warehouse.Format {
	case "duckdb", "parquet":
	default:
		add("warehouse.format", "must be duckdb or parquet, got %q", c.Warehouse.Format)
	}
	if c.Warehouse.Path == "" {
		add("warehouse.path", "required")
	} else if u == forSync {
		if err := writablePath(c.Warehouse.Format, c.Warehouse.Path); err != nil {
			add("warehouse.path", "%v", err)
		}
	}
	if n, ok := memoryBytes(c.Warehouse.MemoryLimit); !ok {
		add("warehouse.memory_limit", "must be a size such as 256MB or 1GiB, got %q", c.Warehouse.MemoryLimit)
	} else if n < minMemoryLimit {
		add("warehouse.memory_limit", "must be at least 64MB, got %s", c.Warehouse.MemoryLimit)
	} else if n < minParquetMemoryLimit && c.Warehouse.Format == "parquet" {
		add("warehouse.memory_limit", "must be at least 256MB with warehouse.format parquet (a delta rewrites whole partitions), got %s", c.Warehouse.MemoryLimit)
	}
	switch c.Warehouse.Parquet.Partition {
	case "month", "day", "none":
	default:
		add("warehouse.parquet.partition", "must be month, day or none, got %q", c.Warehouse.Parquet.Partition)
	}
	switch c.Warehouse.Parquet.Compression {
	case "zstd", "snappy", "gzip", "uncompressed":
	default:
		add("warehouse.parquet.compression", "must be zstd, snappy, gzip or uncompressed, got %q", c.Warehouse.Parquet.Compression)
	}
	if c.Sync.BatchSize < 1 {
		add("sync.batch_size", "must be at least 1, got %d", c.Sync.BatchSize)
	}
	if c.Sync.ShutdownGrace <= 0 {
		add("sync.shutdown_grace", "must be positive, got %s", c.Sync.ShutdownGrace)
	}
	if c.Schedule != "" {
		if _, err := parseSchedule(c.Schedule); err != nil {
			add("schedule", "%v", err)
		}
	}
	p = append(p, c.Metrics.problems()...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		add("log.format", "must be auto, json or text, got %q", c.Log.Format)
	}
	return p
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	File     string // the configuration file, if any: problems name its lines
	Problems []string
}

func (e *ConfigError) Error() string {
	in := ""
	if e.File != "" {
		in = " (" + e.File + ")"
	}
	return "invalid configuration" + in + ":\n  " + strings.Join(e.Problems, "\n  ")
}

// configError is a configuration that cannot be read at all.
func configError(format string, args ...any) *ConfigError {
	return &ConfigError{Problems: []string{fmt.Sprintf(format, args...)}}
}

// problems lists what is wrong with the metrics settings.
func (c MetricsConfig) problems() []string {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			add("metrics.listen", `must be HOST:PORT (e.g. 127.0.0.1:9464, :9464), or "" for none, got %q`, c.Listen)
		}
	}
	if c.Textfile != "" && !strings.HasSuffix(c.Textfile, ".prom") {
		add("metrics.textfile", "must end in .prom (the textfile collector reads only those), got %q", c.Textfile)
	}
	if c.Pushgateway != "" {
		if u, err := url.Parse(string(c.Pushgateway)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("metrics.pushgateway", "must be an http(s) URL, got %q", c.Pushgateway.String())
		}
	}
	if c.Job == "" {
		add("metrics.job", "required")
	}
	return p
}

// problems lists what is wrong with the source settings; that there is an
// API key only if needKey.
func (c SourceConfig) problems(needKey bool) []string {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("source.base_url", "must be an http(s) URL, got %q", c.BaseURL)
	}
	if needKey && c.APIKey == "" && c.APIKeyFile == "" { // a key file's problem is reported reading it
		add("source.api_key", "empty: set ONCEHUB_API_KEY, source.api_key (e.g. ${MY_VAR}) or source.api_key_file")
	}
	if c.PageSize < 1 || c.PageSize > 100 {
		add("source.page_size", "must be 1..100, got %d", c.PageSize)
	}
	for i, e := range c.Expand {
		switch strings.TrimPrefix(e, "data.") {
		case "contact", "owner", "bot", "website", "audience":
		default:
			add(fmt.Sprintf("source.expand[%d]", i), "must be one of contact, owner, bot, website, audience, got %q", e)
		}
	}
	if c.Start.IsZero() {
		add("source.start", "required: the time the first sync starts from (RFC 3339, e.g. 2024-01-01T00:00:00Z)")
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"source.lookback", c.Lookback}, {"source.settle_lag", c.SettleLag}, {"source.slice", c.Slice}, {"source.retry.max_elapsed", c.Retry.MaxElapsed}} {
		if d.d < 0 {
			add(d.key, "must not be negative, got %s", d.d)
		}
	}
	if c.Slice > 0 && c.Slice < time.Hour {
		// Every slice costs a call even when empty, and a run's slices are
		// planned up front: a millisecond slice over a year is billions.
		add("source.slice", "must be 0 (one slice) or at least 1h, got %s", c.Slice)
	}
	if c.Timeout <= 0 {
		add("source.timeout", "must be positive, got %s", c.Timeout)
	}
	if c.Retry.MaxElapsed == 0 {
		// Read as "no limit" it would let a Retry-After of a day be waited.
		add("source.retry.max_elapsed", "must be positive (how long a request's retries may take in all), got 0s")
	}
	switch ps := c.RateLimit.PerSecond; {
	case math.IsNaN(ps) || math.IsInf(ps, 0):
		add("source.rate_limit.per_second", "must be a finite number (0 disables the limit), got %v", ps)
	case ps < 0:
		add("source.rate_limit.per_second", "must not be negative (0 disables the limit), got %v", ps)
	}
	if c.RateLimit.Per5Min < 0 {
		add("source.rate_limit.per_5min", "must not be negative (0 disables the limit), got %d", c.RateLimit.Per5Min)
	}
	if c.Retry.MaxAttempts < 1 {
		add("source.retry.max_attempts", "must be at least 1, got %d", c.Retry.MaxAttempts)
	}
	return p
}
