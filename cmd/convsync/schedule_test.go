package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
)

// every is a schedule firing every d, even below cron's one second.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

func quietScheduler(job func(context.Context) (load.Run, error)) *scheduler {
	return &scheduler{log: slog.New(slog.DiscardHandler), metrics: newMetrics(), grace: 2 * time.Second, job: job}
}

func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return parseProm(t, rec.Body)
}

// TestScheduler_NeverOverlaps: ticks every 20ms, runs of 150ms: never two at
// once, the ticks in between are skipped and counted.
func TestScheduler_NeverOverlaps(t *testing.T) {
	var running, maxRunning, runs atomic.Int32
	s := quietScheduler(func(ctx context.Context) (load.Run, error) {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		runs.Add(1)
		time.Sleep(150 * time.Millisecond)
		return load.Run{ID: "r", Status: "succeeded"}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if err := s.run(ctx, every(20*time.Millisecond), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("run: %v, want the context's cause", err)
	}
	m := scrape(t, s.handler())
	skipped := m[`convsync_runs_skipped_total{reason="running"}`]
	if maxRunning.Load() != 1 || runs.Load() < 2 || skipped < 10 {
		t.Errorf("max %d at once, %d runs, %v ticks skipped; want 1 at once, at least 2 runs, at least 10 skipped",
			maxRunning.Load(), runs.Load(), skipped)
	}
}

// TestScheduler_RecoversFromPanic: a run that panics is a failed run; the
// schedule goes on.
func TestScheduler_RecoversFromPanic(t *testing.T) {
	var calls atomic.Int32
	s := quietScheduler(func(ctx context.Context) (load.Run, error) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return load.Run{ID: "r", Status: "succeeded"}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, every(10*time.Millisecond), nil) }()
	eventually(t, 5*time.Second, "a run after the panic", func() bool { return calls.Load() >= 3 })
	cancel()
	<-done
	m := scrape(t, s.handler())
	if m["convsync_run_panics_total"] != 1 || m[`convsync_runs_total{status="failed"}`] != 1 {
		t.Errorf("panics %v, failed runs %v; want 1 and 1", m["convsync_run_panics_total"], m[`convsync_runs_total{status="failed"}`])
	}
}

// TestScheduler_PanicEndsTheRunInProgress: a run that panics after
// syncAndReport marked it in progress leaves convsync_run_in_progress at 0;
// it stayed 1, a run going while none was, until the next run ended.
func TestScheduler_PanicEndsTheRunInProgress(t *testing.T) {
	var s *scheduler
	s = quietScheduler(func(ctx context.Context) (load.Run, error) {
		s.metrics.inProgress.Set(1) // as syncAndReport does
		panic("boom")
	})
	s.tick(context.Background())
	m := scrape(t, s.handler())
	if m["convsync_run_in_progress"] != 0 || m["convsync_run_panics_total"] != 1 {
		t.Errorf("in progress %v, panics %v after a run panicked; want 0 and 1", m["convsync_run_in_progress"], m["convsync_run_panics_total"])
	}
}

// TestScheduler_LockedTickIsSkipped: a tick that finds another process
// holding the warehouse is a skip, not a failed run.
func TestScheduler_LockedTickIsSkipped(t *testing.T) {
	s := quietScheduler(func(ctx context.Context) (load.Run, error) {
		return load.Run{}, &load.LockedError{Path: "w.duckdb.lock", Owner: "convsync backfill (host h, pid 1)"}
	})
	s.tick(context.Background())
	m := scrape(t, s.handler())
	if m[`convsync_runs_skipped_total{reason="locked"}`] != 1 || m[`convsync_runs_total{status="failed"}`] != 0 {
		t.Errorf("skipped(locked) %v, failed %v; want 1 and 0", m[`convsync_runs_skipped_total{reason="locked"}`], m[`convsync_runs_total{status="failed"}`])
	}
}

// TestScheduler_StopWaitsForRunWithinGrace: a stop cancels the run in flight
// and waits for it; a run ignoring the stop is left after the grace.
func TestScheduler_StopWaitsForRunWithinGrace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		obeys   bool
		minWait time.Duration
		maxWait time.Duration
	}{
		{"run stops", true, 100 * time.Millisecond, 1500 * time.Millisecond},
		{"run hangs", false, 300 * time.Millisecond, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			var finished atomic.Bool
			hang := make(chan struct{})
			defer close(hang)
			s := quietScheduler(func(ctx context.Context) (load.Run, error) {
				select {
				case started <- struct{}{}:
				default:
				}
				if tc.obeys {
					<-ctx.Done()
					time.Sleep(100 * time.Millisecond) // the rollback
					finished.Store(true)
					return load.Run{ID: "r", Status: "cancelled"}, ctx.Err()
				}
				<-hang
				return load.Run{}, nil
			})
			s.grace = 300 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.run(ctx, every(10*time.Millisecond), nil) }()
			<-started
			stop := time.Now()
			cancel()
			<-done
			d := time.Since(stop)
			if d < tc.minWait || d > tc.maxWait {
				t.Errorf("returned %s after the stop, want %s..%s", d, tc.minWait, tc.maxWait)
			}
			if tc.obeys && !finished.Load() {
				t.Error("returned before the run finished rolling back")
			}
		})
	}
}

// TestRun_ServesMetrics: `convsync run` syncs on its schedule and serves
// /healthz and /metrics with the run's values; a stop ends it.
func TestRun_ServesMetrics(t *testing.T) {
	p := newProdEnv(t, 80)
	path := p.write(t, "c.yaml", p.config())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done, stderr := startRun(t, ctx, p, path, "@every 1s")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != http.StatusOK || !strings.HasPrefix(body, "ok") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	var m map[string]float64
	eventually(t, 10*time.Second, "a successful run in /metrics", func() bool {
		_, body := get("/metrics")
		m = parseProm(t, strings.NewReader(body))
		return m[`convsync_runs_total{status="succeeded"}`] >= 1
	})
	calls := p.sim.Counts().Total
	if m[`convsync_conversations_total{result="inserted"}`] != 80 || m[`convsync_last_run_conversations{result="inserted"}`] != 80 {
		t.Errorf("inserted: total %v, last run %v; want 80", m[`convsync_conversations_total{result="inserted"}`], m[`convsync_last_run_conversations{result="inserted"}`])
	}
	if m[`convsync_runs_total{status="succeeded"}`] == 1 && m["convsync_api_calls_total"] != float64(calls) {
		t.Errorf("api calls %v, the simulator counted %d", m["convsync_api_calls_total"], calls)
	}
	if m["convsync_last_success_timestamp_seconds"] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v", m["convsync_last_success_timestamp_seconds"])
	}
	cancel()
	select {
	case code := <-done:
		if code != exitFailure { // main turns it into 128+signal
			t.Errorf("exit %d after a stop, want %d", code, exitFailure)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(stderr.String(), "stopped: context canceled") {
		t.Errorf("stderr lacks the stop:\n%s", stderr.String())
	}
}

// TestParseSchedule: a schedule that would never fire, or fire every
// second whatever it says, is an error.
func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want string // the error; "" for none
	}{
		{"*/15 * * * *", ""},
		{"@every 10m", ""},
		{"@every 1s", ""},
		{"@hourly", ""},
		{"CRON_TZ=Europe/Berlin 0 3 * * *", ""},
		{"0 0 29 2 *", ""},
		{"@every -5m", "@every needs an interval of at least 1s, got -5m"},
		{"@every 0s", "@every needs an interval of at least 1s, got 0s"},
		{"@every 500ms", "at least 1s"},
		{"0 0 30 2 *", `"0 0 30 2 *" never runs`},
		{"CRON_TZ=UTC 0 0 31 4 *", "never runs"},
		{"every quarter hour", "expected exactly 5 fields"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := parseSchedule(tc.spec)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRun_RejectsBadSchedule: `convsync run` refuses a schedule that never
// fires or fires constantly, from the flag or the file, naming which (exit
// 2, before it starts).
func TestRun_RejectsBadSchedule(t *testing.T) {
	// Were a schedule let through, its runs would go nowhere.
	text := "source:\n  start: 2024-01-01T00:00:00Z\n  base_url: http://127.0.0.1:1/v2\nwarehouse:\n  path: " +
		filepath.Join(t.TempDir(), "w.duckdb") + "\nmetrics:\n  listen: \"\"\n"
	good := writeFile(t, "good.yaml", text)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"flag, negative", []string{"--config", good, "--schedule", "@every -5m"}, "--schedule: @every needs an interval of at least 1s"},
		{"flag, zero", []string{"--config", good, "--schedule", "@every 0s"}, "--schedule: @every needs an interval of at least 1s"},
		{"flag, never", []string{"--config", good, "--schedule", "0 0 30 2 *"}, "--schedule: \"0 0 30 2 *\" never runs"},
		{"file, never", []string{"--config", writeFile(t, "c.yaml", "schedule: 0 0 30 2 *\n"+text)}, "schedule (line 1): \"0 0 30 2 *\" never runs"},
		{"bad listen", []string{"--config", good, "--schedule", "@every 1m", "--listen", "9464"}, `--listen: must be HOST:PORT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			r := runCmd(ctx, envOf(map[string]string{"ONCEHUB_API_KEY": "k"}), append([]string{"run"}, tc.args...)...)
			if r.code != exitConfig || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", r.code, exitConfig, tc.want, r.stderr)
			}
		})
	}
}

// TestRun_MetricsBeforeTheFirstRun: a `run` just (re)started serves the
// last success from the ledger and the counters at 0, and no last-run
// gauges that would read as a failed run.
func TestRun_MetricsBeforeTheFirstRun(t *testing.T) {
	p := newProdEnv(t, 30)
	path := p.write(t, "c.yaml", p.config())
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitOK {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	r, err := openReader(context.Background(), p.config())
	if err != nil {
		t.Fatal(err)
	}
	want := lastSuccess(context.Background(), r.DB())
	r.Close()
	if want.IsZero() {
		t.Fatal("no success in the ledger")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done, _ := startRun(t, ctx, p, path, "0 0 1 1 *")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m := parseProm(t, resp.Body)
	resp.Body.Close()
	if got := m["convsync_last_success_timestamp_seconds"]; got != float64(want.UnixMilli())/1e3 {
		t.Errorf("last success %v, want the ledger's %v", got, float64(want.UnixMilli())/1e3)
	}
	for _, name := range []string{`convsync_runs_skipped_total{reason="running"}`, `convsync_runs_skipped_total{reason="locked"}`,
		`convsync_conversations_total{result="inserted"}`, `convsync_runs_total{status="failed"}`} {
		if v, ok := m[name]; !ok || v != 0 {
			t.Errorf("%s = %v (exported: %v), want 0", name, v, ok)
		}
	}
	for _, name := range []string{"convsync_last_run_success", "convsync_last_run_timestamp_seconds", "convsync_last_run_duration_seconds",
		"convsync_last_run_pages", "convsync_last_run_api_calls"} {
		if v, ok := m[name]; ok {
			t.Errorf("%s = %v before any run, want it absent", name, v)
		}
	}
	cancel()
	<-done
}

// startRun starts `convsync run` with the config at path on schedule,
// serving metrics on a free port, and returns that address, the channel
// that gets its exit code, and its stderr.
func startRun(t *testing.T, ctx context.Context, p *prodEnv, path, schedule string) (string, <-chan int, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", path, "--schedule", schedule, "--listen", "127.0.0.1:0"}, p.getenv, io.Discard, stderr)
	}()
	var addr string
	eventually(t, 5*time.Second, "the metrics address in the log", func() bool {
		for _, line := range strings.Split(stderr.String(), "\n") {
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving metrics" {
				addr = l.Addr
			}
		}
		return addr != ""
	})
	return addr, done, stderr
}
