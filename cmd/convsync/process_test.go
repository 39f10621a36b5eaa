package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
)

// convsyncProcess starts the program (this test binary, see TestMain) as a
// child process with args and the API key in its environment.
func convsyncProcess(t *testing.T, p *prodEnv, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{"CONVSYNC_TEST_MAIN=1", "ONCEHUB_API_KEY=" + p.key, "PATH=" + os.Getenv("PATH")}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test failed midway
	return cmd, out
}

// waitExit waits for cmd to exit and returns its exit code and how long
// that took.
func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), time.Since(start)
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		t.Fatalf("%v still running after %s", cmd.Args[1:], timeout)
		return 0, 0
	}
}

// TestProcess_LockThenSIGTERM is the production story with real processes:
// a slow incremental sync runs; a second sync on the same warehouse exits at
// once with code 3 naming the first; a reader is refused the same way;
// SIGTERM stops the first mid-run with code 143, leaving a consistent
// warehouse (the watermark where it was, committed batches matching the
// ledger, no half conversation); and the next run resumes and converges to
// the source.
func TestProcess_LockThenSIGTERM(t *testing.T) {
	p, fast, st0, old := syncedThenActive(t)
	slowCfg := slowConfig(p)
	slowCfg.Sync.ShutdownGrace = 5 * time.Second
	slow := p.write(t, "slow.yaml", slowCfg)
	calls0 := p.sim.Counts().Total
	a, aOut := convsyncProcess(t, p, "sync", "--config", slow)
	eventually(t, 10*time.Second, "the first sync to hold the lock and commit twice", func() bool {
		if strings.Contains(aOut.String(), "error") {
			t.Fatalf("first sync ended: %s", aOut.String())
		}
		b, _ := os.ReadFile(slowCfg.Warehouse.Path + ".lock")
		return bytes.Contains(b, []byte(fmt.Sprintf(`"pid":%d`, a.Process.Pid))) && p.sim.Counts().Total-calls0 >= 5
	})

	b, bOut := convsyncProcess(t, p, "sync", "--config", slow)
	code, took := waitExit(t, b, 10*time.Second)
	if code != exitLocked || took > 3*time.Second {
		t.Errorf("second sync: exit %d after %s, want %d at once", code, took, exitLocked)
	}
	for _, want := range []string{"locked by convsync incremental", fmt.Sprintf("pid %d", a.Process.Pid), " since "} {
		if !strings.Contains(bOut.String(), want) {
			t.Errorf("second sync's output lacks %q:\n%s", want, bOut.String())
		}
	}
	r := runCmd(context.Background(), envOf(nil), "status", "--config", slow)
	if r.code != exitLocked || !strings.Contains(r.stderr, fmt.Sprintf("PID %d", a.Process.Pid)) {
		t.Errorf("status during a sync: exit %d, want %d naming pid %d:\n%s", r.code, exitLocked, a.Process.Pid, r.stderr)
	}

	if err := a.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, took = waitExit(t, a, 10*time.Second)
	if code != 128+int(syscall.SIGTERM) || took > slowCfg.Sync.ShutdownGrace {
		t.Fatalf("SIGTERM: exit %d after %s, want 143 within %s\n%s", code, took, slowCfg.Sync.ShutdownGrace, aOut.String())
	}
	var summary struct{ Status string }
	first, _, _ := strings.Cut(aOut.String(), "\n")
	if err := json.Unmarshal([]byte(first), &summary); err != nil || summary.Status != "cancelled" {
		t.Errorf("first output line should be the cancelled run's summary: %v\n%s", err, aOut.String())
	}
	if strings.Contains(aOut.String()+bOut.String()+r.stderr, p.key) {
		t.Error("the API key appears in the output")
	}

	// The warehouse after the stop.
	d := openDuckDB(t, slowCfg.Warehouse.Path)
	st, now := assertStopped(t, d, p, old)
	if !st.Watermark.Equal(st0.Watermark) || st.Pending == nil {
		t.Fatalf("state after SIGTERM %+v: want the watermark %s unmoved and the run's progress", st, st0.Watermark)
	}
	runA := st.Pending.RunID
	row := readLedger(t, d.DB())[runA]
	if row.status != "cancelled" || row.pages == 0 || row.pages == 20 {
		t.Errorf("ledger row of the stopped run %+v: want cancelled after some of its pages", row)
	}
	written := int64(0)
	for _, s := range now {
		if s.runID == runA {
			written++
		}
	}
	if written != row.inserted+row.updated || written == 0 {
		t.Errorf("%d conversations carry the stopped run's id, its ledger row says %d inserted + %d updated", written, row.inserted, row.updated)
	}
	d.Close()

	// The next run resumes the stopped one and converges.
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", fast); r.code != exitOK {
		t.Fatalf("next sync: exit %d, want %d:\n%s", r.code, exitOK, r.stderr)
	}
	d = openDuckDB(t, slowCfg.Warehouse.Path)
	assertConverged(t, d.DB(), p.sim)
	if after := readLedger(t, d.DB())[runA]; after != row {
		t.Errorf("the stopped run's ledger row changed from %+v to %+v", row, after)
	}
	if st, _ := d.State(context.Background()); st.Pending != nil || !st.Watermark.After(st0.Watermark) {
		t.Errorf("state after the next run %+v, want the watermark moved and nothing pending", st)
	}
}

// TestProcess_RunStopsOnSIGINT: the long-running mode serves until a signal,
// then exits with 128+signal (130 for SIGINT, Ctrl-C).
func TestProcess_RunStopsOnSIGINT(t *testing.T) {
	p := newProdEnv(t, 20)
	path := p.write(t, "c.yaml", p.config())
	cmd, out := convsyncProcess(t, p, "run", "--config", path, "--schedule", "@every 1s", "--listen", "127.0.0.1:0")
	eventually(t, 10*time.Second, "a scheduled run", func() bool { return strings.Contains(out.String(), `"status":"succeeded"`) })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code, took := waitExit(t, cmd, 10*time.Second); code != 128+int(syscall.SIGINT) || took > 3*time.Second {
		t.Errorf("SIGINT: exit %d after %s, want 130 at once\n%s", code, took, out.String())
	}
	if !strings.Contains(out.String(), "convsync run: stopped: signal interrupt") {
		t.Errorf("output lacks the stop:\n%s", out.String())
	}
}

// TestProcess_SIGKILLMidRun: a sync killed without warning (kill -9, the
// OOM killer) leaves the warehouse as its last durable commit had it: every
// stored conversation whole and at a version the source had, the cursor
// consistent with the rows; the next run converges to the source.
func TestProcess_SIGKILLMidRun(t *testing.T) {
	p, fast, _, old := syncedThenActive(t)
	slowCfg := slowConfig(p)
	slow := p.write(t, "slow.yaml", slowCfg)
	calls0 := p.sim.Counts().Total
	a, aOut := convsyncProcess(t, p, "sync", "--config", slow)
	eventually(t, 10*time.Second, "the sync to commit twice", func() bool {
		if strings.Contains(aOut.String(), "error") {
			t.Fatalf("sync ended: %s", aOut.String())
		}
		return p.sim.Counts().Total-calls0 >= 5
	})
	if err := a.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()

	d := openDuckDB(t, slowCfg.Warehouse.Path)
	assertStopped(t, d, p, old)
	d.Close()
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", fast); r.code != exitOK {
		t.Fatalf("next sync: exit %d, want %d:\n%s", r.code, exitOK, r.stderr)
	}
	d = openDuckDB(t, slowCfg.Warehouse.Path)
	assertConverged(t, d.DB(), p.sim)
}

// syncedThenActive is the start of the process tests: a simulator of 300
// conversations, a first sync through config file fast (returned with the
// state and rows it left), then activity after its window: 40 new
// conversations and 160 updated.
func syncedThenActive(t *testing.T) (p *prodEnv, fast string, st0 load.State, old map[string]stored) {
	t.Helper()
	p = newProdEnv(t, 300)
	p.sim.AdvanceN(time.Since(p.sim.Now()), 0, 0) // the data clock to the wall clock, quietly
	fast = p.write(t, "fast.yaml", p.config())
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", fast); r.code != exitOK {
		t.Fatalf("first sync: %d %s", r.code, r.stderr)
	}
	d := openDuckDB(t, p.config().Warehouse.Path)
	st0, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	old = readConversations(t, d.DB())
	d.Close()
	p.sim.AdvanceN(st0.Watermark.Sub(p.sim.Now()), 0, 0)
	p.sim.AdvanceN(time.Since(st0.Watermark)-time.Millisecond, 40, 160)
	return p, fast, st0, old
}

// slowConfig is p's configuration for a sync of about 20 pages of 10 at 4
// requests a second (some 5 seconds), committing every 20 conversations.
func slowConfig(p *prodEnv) Config {
	cfg := p.config()
	cfg.Source.PageSize, cfg.Sync.BatchSize = 10, 20
	cfg.Source.RateLimit = RateConfig{PerSecond: 4}
	return cfg
}

// assertStopped checks the warehouse d after a stopped sync: every stored
// conversation has all its answers and is at the version it had before
// (old) or at the source's; every conversation the source updated before
// the stored watermark is loaded. It returns the state and the rows.
func assertStopped(t *testing.T, d *load.DuckDB, p *prodEnv, old map[string]stored) (load.State, map[string]stored) {
	t.Helper()
	st, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]time.Time{}
	for _, c := range p.sim.Conversations() {
		truth[c.ID] = c.LastUpdatedTime
	}
	now := readConversations(t, d.DB())
	for id, s := range now {
		if s.children != s.answers {
			t.Errorf("%s: %d answer rows for answer_count %d", id, s.children, s.answers)
		}
		if o, ok := old[id]; !(ok && s.updated.Equal(o.updated)) && !s.updated.Equal(truth[id]) {
			t.Errorf("%s: stored version %s is neither the one before nor the source's", id, s.updated)
		}
	}
	for id, u := range truth {
		if u.Before(st.Watermark) && !now[id].updated.Equal(u) {
			t.Errorf("%s updated %s, before the watermark %s, is not loaded", id, u, st.Watermark)
		}
	}
	return st, now
}
