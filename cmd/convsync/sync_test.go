package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
)

// TestSync_ExitCodes: every documented exit code, from run() itself.
func TestSync_ExitCodes(t *testing.T) {
	p := newProdEnv(t, 50)
	good := p.write(t, "good.yaml", p.config())
	bad := p.config()
	bad.Source.PageSize = 500
	badPath := p.write(t, "bad.yaml", bad)
	lockedCfg := p.config()
	lockedCfg.Warehouse.Path = filepath.Join(p.dir, "locked", "w.duckdb")
	lockedPath := p.write(t, "locked.yaml", lockedCfg)
	if err := os.MkdirAll(filepath.Dir(lockedCfg.Warehouse.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := load.AcquireLock(lockedCfg.Warehouse.Path+".lock", "the test's holder")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	wrongKey := func(k string) string {
		if k == "ONCEHUB_API_KEY" {
			return "not-the-key"
		}
		return ""
	}

	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
		code   int
		stderr string
	}{
		{"success", p.getenv, []string{"sync", "--config", good}, exitOK, `"status":"succeeded"`},
		{"failure: 401", wrongKey, []string{"sync", "--config", good}, exitFailure, "401"},
		{"invalid configuration", p.getenv, []string{"sync", "--config", badPath}, exitConfig, "source.page_size (line 7): must be 1..100, got 500"},
		{"missing config file", p.getenv, []string{"sync", "--config", filepath.Join(p.dir, "nope.yaml")}, exitConfig, "nope.yaml"},
		{"unknown flag", p.getenv, []string{"sync", "--bogus"}, exitConfig, "bogus"},
		{"unknown command", p.getenv, []string{"frobnicate"}, exitConfig, "unknown command"},
		{"no command", p.getenv, nil, exitConfig, "usage: convsync COMMAND"},
		{"help", p.getenv, []string{"sync", "-h"}, exitOK, "-full-refresh"},
		{"config help", p.getenv, []string{"config", "-h"}, exitOK, "-config"},
		{"locked", p.getenv, []string{"sync", "--config", lockedPath}, exitLocked, "locked by the test's holder (host "},
		{"backfill without range", p.getenv, []string{"backfill", "--config", good}, exitConfig, "--from is required"},
		{"run without schedule", p.getenv, []string{"run", "--config", good}, exitConfig, "schedule: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(context.Background(), tc.getenv, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, r.stderr)
			}
		})
	}
}

// TestRun_Usage: asked for, the usage goes to stdout (exit 0); after a
// mistake, to stderr (exit 2).
func TestRun_Usage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  bool // on stdout, else on stderr
	}{
		{nil, exitConfig, false},
		{[]string{"frobnicate"}, exitConfig, false},
		{[]string{"help"}, exitOK, true},
		{[]string{"--help"}, exitOK, true},
	} {
		r := runCmd(context.Background(), envOf(nil), tc.args...)
		got, other := r.stderr, r.stdout
		if tc.out {
			got, other = r.stdout, r.stderr
		}
		if r.code != tc.code || !strings.Contains(got, "usage: convsync COMMAND") || other != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and the usage on stdout %v", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
}

// TestUsage_MatchesREADME: the usage lists each command with the arguments
// the README's Commands table gives it.
func TestUsage_MatchesREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(b), "\n## Commands\n")
	table, _, _ = strings.Cut(table, "\n#")
	readme := map[string]string{} // command -> its arguments
	for _, line := range strings.Split(table, "\n") {
		if cell, ok := strings.CutPrefix(line, "| `"); ok {
			cell, _, _ = strings.Cut(cell, "` |")
			name, args, _ := strings.Cut(strings.ReplaceAll(cell, `\|`, "|"), " ")
			readme[name] = args
		}
	}
	for _, c := range commands() {
		args, ok := readme[c.name]
		if !ok {
			t.Errorf("the README's Commands table lacks %s", c.name)
		} else if args != c.args {
			t.Errorf("%s: usage gives\n  %s\nthe README\n  %s", c.name, c.args, args)
		}
		delete(readme, c.name)
	}
	if len(readme) > 0 {
		t.Errorf("the README lists commands convsync lacks: %v", readme)
	}
}

// TestCommands_RejectStrayArguments: a positional argument where a command
// takes none (a config file without --config, say) is exit 2 naming it. The
// other flags make each command stop at once were the argument ignored.
func TestCommands_RejectStrayArguments(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, args := range [][]string{
		{"sync", "--config", missing, "/etc/convsync/prod.yaml"},
		{"sync", "/etc/convsync/prod.yaml", "--full-refresh"},
		{"status", "--config", missing, "/etc/convsync/prod.yaml"},
		{"config", "check", "--config", missing, "/etc/convsync/prod.yaml"},
		{"backfill", "--config", missing, "--from", "2025-01-01", "--to", "2025-02-01", "/etc/convsync/prod.yaml"},
		{"run", "--config", missing, "/etc/convsync/prod.yaml"},
		{"demo", "--format", "none", "/etc/convsync/prod.yaml"},
		{"simulate", "--addr", "256.0.0.1:1", "/etc/convsync/prod.yaml"},
		{"bench", "--serve-simulator", "--start", "never", "/etc/convsync/prod.yaml"},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := runCmd(context.Background(), envOf(nil), args...)
			if r.code != exitConfig || !strings.Contains(r.stderr, `unexpected argument "/etc/convsync/prod.yaml"`) {
				t.Errorf("%q: exit %d, want %d naming the argument:\n%s", args, r.code, exitConfig, r.stderr)
			}
		})
	}
	r := runCmd(context.Background(), envOf(nil), "sync", "prod.yaml")
	if !strings.Contains(r.stderr, `unexpected argument "prod.yaml" (the configuration file is --config FILE)`) {
		t.Errorf("the message does not point at --config:\n%s", r.stderr)
	}
}

// TestSync_LockedMessageNamesHolder: the refused run says who holds the lock
// and since when, and does not wait for it.
func TestSync_LockedMessageNamesHolder(t *testing.T) {
	p := newProdEnv(t, 10)
	cfg := p.config()
	path := p.write(t, "c.yaml", cfg)
	lock, err := load.AcquireLock(cfg.Warehouse.Path+".lock", "convsync incremental")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	start := time.Now()
	r := runCmd(context.Background(), p.getenv, "sync", "--config", path)
	host, _ := os.Hostname()
	for _, want := range []string{"convsync incremental", "host " + host, fmt.Sprintf("pid %d", os.Getpid()), " since 20"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refused after %s, want at once", d)
	}
	if r.code != exitLocked {
		t.Errorf("exit %d, want %d", r.code, exitLocked)
	}
}

// TestReaders_DoNotNeedTheLock: sql and status work while convsync's lock is
// held: on a DuckDB warehouse between a sync's open and DuckDB's own lock, on
// a Parquet dataset for the whole of a sync (here a writer open in process).
func TestReaders_DoNotNeedTheLock(t *testing.T) {
	for _, format := range []string{"duckdb", "parquet"} {
		t.Run(format, func(t *testing.T) {
			p := newProdEnv(t, 30)
			cfg := p.config()
			if format == "parquet" {
				cfg.Warehouse.Format, cfg.Warehouse.Path = "parquet", filepath.Join(p.dir, "w")
			}
			path := p.write(t, "c.yaml", cfg)
			if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitOK {
				t.Fatalf("sync: %d %s", r.code, r.stderr)
			}
			if format == "parquet" {
				w, err := load.OpenParquet(context.Background(), cfg.Warehouse.Path, load.ParquetOptions{Owner: "another sync"})
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
			} else {
				lock, err := load.AcquireLock(cfg.Warehouse.Path+".lock", "another sync")
				if err != nil {
					t.Fatal(err)
				}
				defer lock.Release()
			}
			if r := runCmd(context.Background(), envOf(nil), "status", "--config", path); r.code != exitOK || !strings.Contains(r.stdout, "watermark: 20") {
				t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r := runCmd(context.Background(), envOf(nil), "sql", "--config", path, "--format", "csv", "SELECT count(*) AS n FROM conversations")
			if r.code != exitOK || r.stdout != "n\n30\n" {
				t.Errorf("sql: exit %d %q %s", r.code, r.stdout, r.stderr)
			}
			if r := runCmd(context.Background(), envOf(nil), "sql", "--config", path, "DELETE FROM conversations"); r.code != exitFailure {
				t.Errorf("a write through sql: exit %d, want %d (read-only)", r.code, exitFailure)
			}
		})
	}
}

// TestSync_KeyNeverPrinted: runs that fail (rejected key, bad configuration)
// and the configuration check never show the key, in output or warehouse.
func TestSync_KeyNeverPrinted(t *testing.T) {
	p := newProdEnv(t, 10)
	const key = "sk-DISTINCTIVE-9f8e7d6c5b4a"
	cfg := p.config()
	cfg.Metrics.Textfile = filepath.Join(p.dir, "convsync.prom")
	path := p.write(t, "c.yaml", cfg)
	withKey := func(k string) string {
		if k == "ONCEHUB_API_KEY" {
			return key
		}
		return ""
	}
	inline := writeFile(t, "inline.yaml", "source:\n  api_key: "+key+"\n  page_size: 0\n  start: 2025-01-01T00:00:00Z\nwarehouse:\n  format: csv\n")
	var all strings.Builder
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"sync", "--config", path}, exitFailure}, // 401: the simulator wants another key
		{[]string{"sync", "--config", inline}, exitConfig},
		{[]string{"config", "check", "--config", inline}, exitConfig},
		{[]string{"config", "check", "--config", path}, exitOK},
		{[]string{"backfill", "--config", path, "--from", "2025-01-01", "--to", "2025-02-01"}, exitFailure},
	} {
		r := runCmd(context.Background(), withKey, tc.args...)
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, r.code, tc.code, r.stderr)
		}
		all.WriteString(r.stdout + r.stderr)
	}
	if !strings.Contains(all.String(), "401") || !strings.Contains(all.String(), "********") {
		t.Fatalf("expected a 401 and a masked key in the output:\n%s", all.String())
	}
	d := openDuckDB(t, cfg.Warehouse.Path)
	for _, q := range []string{"SELECT * FROM _convsync_runs", "SELECT * FROM _convsync_state", "SELECT * FROM _convsync_rejects"} {
		var buf bytes.Buffer
		if err := query(context.Background(), d.DB(), &buf, "csv", q); err != nil {
			t.Fatal(err)
		}
		all.WriteString(buf.String())
	}
	if !strings.Contains(all.String(), "failed") {
		t.Fatalf("the ledger should hold the failed runs:\n%s", all.String())
	}
	prom, err := os.ReadFile(cfg.Metrics.Textfile)
	if err != nil {
		t.Fatal(err)
	}
	all.Write(prom)
	if strings.Contains(all.String(), key) || strings.Contains(all.String(), key[3:15]) {
		t.Errorf("the API key appears in the output, the warehouse or the metrics:\n%s", all.String())
	}
}

// parseProm reads Prometheus text: "name{labels}" → value.
func parseProm(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metric line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestSync_MetricsTextfile: a one-shot sync leaves a textfile whose values
// are the run's, as the simulator and the ledger count them.
func TestSync_MetricsTextfile(t *testing.T) {
	p := newProdEnv(t, 120)
	cfg := p.config()
	cfg.Source.PageSize = 25
	cfg.Metrics.Textfile = filepath.Join(p.dir, "metrics", "convsync.prom")
	if err := os.MkdirAll(filepath.Dir(cfg.Metrics.Textfile), 0o755); err != nil {
		t.Fatal(err)
	}
	path := p.write(t, "c.yaml", cfg)
	p.sim.Fail(1, http.StatusTooManyRequests, 0)
	before := time.Now()
	r := runCmd(context.Background(), p.getenv, "sync", "--config", path)
	if r.code != exitOK {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "oncehub request failed, retrying") {
		t.Errorf("the retry of the 429 is not logged:\n%s", r.stderr)
	}
	f, err := os.Open(cfg.Metrics.Textfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := parseProm(t, f)
	calls := p.sim.Counts().Total
	for name, want := range map[string]float64{
		`convsync_last_run_success`:                          1,
		`convsync_runs_total{status="succeeded"}`:            1,
		`convsync_runs_total{status="failed"}`:               0,
		`convsync_last_run_conversations{result="inserted"}`: 120,
		`convsync_last_run_conversations{result="updated"}`:  0,
		`convsync_conversations_total{result="inserted"}`:    120,
		`convsync_last_run_api_calls`:                        float64(calls),
		`convsync_api_calls_total`:                           float64(calls),
		`convsync_last_run_api_rate_limited`:                 1,
		`convsync_last_run_api_retries`:                      1,
		`convsync_last_run_rejects`:                          0,
		`convsync_run_in_progress`:                           0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if m["convsync_last_run_pages"] < 120/25 || m["convsync_last_run_duration_seconds"] <= 0 {
		t.Errorf("pages %v, duration %v", m["convsync_last_run_pages"], m["convsync_last_run_duration_seconds"])
	}
	ok := m["convsync_last_success_timestamp_seconds"]
	if ok < float64(before.Unix()) || ok > float64(time.Now().Unix()+1) {
		t.Errorf("last success %v, want between %d and now", ok, before.Unix())
	}
	if entries, _ := os.ReadDir(filepath.Dir(cfg.Metrics.Textfile)); len(entries) != 1 {
		t.Errorf("metrics folder holds %d files, want only convsync.prom (no temp files left)", len(entries))
	}

	// A failed run: success 0, failed 1, and the last success still known
	// (from the ledger), so an alert on its age keeps working.
	p.sim.Fail(1, http.StatusUnauthorized, 0)
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitFailure {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(cfg.Metrics.Textfile)
	m2 := parseProm(t, bytes.NewReader(b))
	if m2["convsync_last_run_success"] != 0 || m2[`convsync_runs_total{status="failed"}`] != 1 || m2["convsync_last_success_timestamp_seconds"] != ok {
		t.Errorf("after a failed run:\n%s", b)
	}
}

// TestSync_Pushgateway: the metrics are POSTed to the job's group, with the
// URL's credentials as basic auth.
func TestSync_Pushgateway(t *testing.T) {
	type push struct {
		method, path, user, pass string
		body                     []byte
	}
	got := make(chan push, 2)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, pw, _ := r.BasicAuth()
		b, _ := io.ReadAll(r.Body)
		got <- push{r.Method, r.URL.Path, u, pw, b}
		w.WriteHeader(http.StatusOK)
	}))
	defer gw.Close()
	p := newProdEnv(t, 20)
	cfg := p.config()
	cfg.Metrics.Pushgateway = URL(strings.Replace(gw.URL, "http://", "http://pusher:s3cret@", 1))
	cfg.Metrics.Job = "convsync_test"
	path := p.write(t, "c.yaml", cfg) // writes the URL masked, as config check prints it
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("pusher:xxxxx@"), []byte("pusher:s3cret@"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitOK {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	select {
	case g := <-got:
		if g.method != http.MethodPost || g.path != "/metrics/job/convsync_test" || g.user != "pusher" || g.pass != "s3cret" {
			t.Errorf("push %s %s as %s:%s", g.method, g.path, g.user, g.pass)
		}
		if !bytes.Contains(g.body, []byte("convsync_last_run_conversations")) {
			t.Errorf("pushed body lacks the run metrics (%d bytes)", len(g.body))
		}
	default:
		t.Fatal("nothing was pushed")
	}
}

// TestSync_NoProgressOffTerminal: with stderr not a terminal, a run writes
// log lines only, no progress bar.
func TestSync_NoProgressOffTerminal(t *testing.T) {
	p := newProdEnv(t, 60)
	cfg := p.config()
	cfg.Source.PageSize, cfg.Sync.BatchSize = 10, 10
	path := p.write(t, "c.yaml", cfg)
	r := runCmd(context.Background(), p.getenv, "sync", "--config", path)
	if r.code != exitOK {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `{"time":`) || strings.ContainsAny(r.stderr, "\r\x1b") {
		t.Errorf("stderr should be the one JSON summary line, got:\n%q", r.stderr)
	}
}

// TestProgress_Draws: on a terminal the bar shows slices done of the total,
// the conversations and their rate, and clears itself at the end.
func TestProgress_Draws(t *testing.T) {
	var buf bytes.Buffer
	bar := newBar(&buf, "incremental")
	for i := 1; i <= 3; i++ {
		var r pipeline.Report
		r.Run.Inserted, r.SlicesDone, r.SlicesTotal = int64(100*i), i, 4
		bar.update(r)
	}
	out := buf.String()
	for _, want := range []string{"incremental: 300 conversations (", "/s), slices done", "3/4"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q: %q", want, out)
		}
	}
	bar.done()
	var nilBar *progress // what a non-terminal gets
	nilBar.update(pipeline.Report{})
	nilBar.done()
	if newProgress(&buf, "x") != nil {
		t.Error("a buffer got a progress bar")
	}
}

// TestProgress_LogLinesOnTheirOwnLine: a line logged while the bar is drawn
// (a retry warning, the summary line of a stopped run, whose bar never
// reaches its end) starts on a cleared line, not glued to the bar.
func TestProgress_LogLinesOnTheirOwnLine(t *testing.T) {
	var buf bytes.Buffer
	bar := newBar(&buf, "incremental")
	var r pipeline.Report
	r.Run.Inserted, r.SlicesDone, r.SlicesTotal = 100, 1, 4
	bar.update(r)
	log := newLoggerOn(bar.logTo(&buf), true, LogConfig{Level: "info", Format: "auto"})
	log.Error("sync run", "status", "cancelled")
	before, _, ok := strings.Cut(buf.String(), "time=")
	if !ok {
		t.Fatalf("no text log line: %q", buf.String())
	}
	// What the terminal shows on the log line's row before it: the text
	// after the last carriage return or newline.
	if row := before[strings.LastIndexAny(before, "\r\n")+1:]; strings.TrimSpace(row) != "" {
		t.Errorf("the log line follows %q on its row", row)
	}
	bar.update(r)
	if tail := buf.String()[len(before):]; !strings.Contains(tail, "1/4") {
		t.Errorf("the bar was not drawn again after the log line: %q", tail)
	}
}

// TestWithGrace: a stop waits for the run to roll back, but no longer than
// the grace.
func TestWithGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := withGrace(ctx, time.Second, func() error { time.Sleep(20 * time.Millisecond); return context.Canceled })
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "grace") {
		t.Errorf("a run stopping in time: %v, want its own error", err)
	}
	hang := make(chan struct{})
	defer close(hang)
	start := time.Now()
	err = withGrace(ctx, 100*time.Millisecond, func() error { <-hang; return nil })
	if d := time.Since(start); err == nil || !strings.Contains(err.Error(), "shutdown grace of 100ms") || d > time.Second {
		t.Errorf("a run that does not stop: %v after %s", err, d)
	}
	if err := withGrace(context.Background(), time.Millisecond, func() error { time.Sleep(20 * time.Millisecond); return nil }); err != nil {
		t.Errorf("no signal: the grace does not apply, got %v", err)
	}
}

// notStarting spoils the DuckDB warehouse at path, new or synced, so that a
// sync does not start: it cannot be opened, or its cursor cannot be read.
var notStarting = map[string]func(t *testing.T, path string){
	"WarehouseUnopenable": func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte("not a DuckDB file"), 0o644); err != nil {
			t.Fatal(err)
		}
	},
	"CursorUnreadable": func(t *testing.T, path string) {
		d, err := load.OpenDuckDB(context.Background(), path, load.DuckDBOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := d.DB().Exec(`DELETE FROM _convsync_state; INSERT INTO _convsync_state VALUES (1, '{"watermark": 5}', now())`); err != nil {
			t.Fatal(err)
		}
	},
}

// TestSync_RunThatDidNotStartIsLogged: a sync whose warehouse cannot be
// opened, or whose cursor cannot be read, has no summary line and no ledger
// row; it logs a JSON line saying so (off a terminal) and exits 1.
func TestSync_RunThatDidNotStartIsLogged(t *testing.T) {
	for name, spoil := range notStarting {
		t.Run(name, func(t *testing.T) {
			p := newProdEnv(t, 10)
			cfg := p.config()
			spoil(t, cfg.Warehouse.Path)
			r := runCmd(context.Background(), p.getenv, "sync", "--config", p.write(t, "c.yaml", cfg))
			if r.code != exitFailure {
				t.Fatalf("exit %d, want %d: %s", r.code, exitFailure, r.stderr)
			}
			var found bool
			for _, line := range strings.Split(r.stderr, "\n") {
				var l struct{ Level, Msg, Error string }
				if json.Unmarshal([]byte(line), &l) != nil {
					continue
				}
				switch l.Msg {
				case "run did not start":
					found = l.Level == "ERROR" && l.Error != ""
				case "sync run":
					t.Errorf("a summary line for a run that did not start: %s", line)
				}
			}
			if !found || strings.Contains(r.stderr, "run :") {
				t.Errorf("want one JSON line for the run that did not start, and no empty run id, in:\n%s", r.stderr)
			}
		})
	}
}

// TestLogger_DurationsInSeconds: a JSON log line gives a duration in
// seconds, as the summary line does, not slog's nanoseconds.
func TestLogger_DurationsInSeconds(t *testing.T) {
	var buf bytes.Buffer
	newLogger(&buf, LogConfig{Level: "info", Format: "json"}).Warn("retrying", "wait", 1500*time.Millisecond)
	var l struct{ Wait float64 }
	if err := json.Unmarshal(buf.Bytes(), &l); err != nil || l.Wait != 1.5 {
		t.Errorf("wait = %v (%v) in %s, want 1.5", l.Wait, err, buf.String())
	}
}
