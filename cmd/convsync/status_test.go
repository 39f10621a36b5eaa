package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatus_RunInProgressIsNotInterrupted: a Parquet warehouse can be read
// during a sync, and status then names the run going on as such, not as
// "interrupted"; once the run is stopped, it is the interrupted run.
func TestStatus_RunInProgressIsNotInterrupted(t *testing.T) {
	p := newProdEnv(t, 300)
	cfg := slowConfig(p)
	cfg.Warehouse.Format, cfg.Warehouse.Path = "parquet", filepath.Join(p.dir, "wh")
	path := p.write(t, "slow.yaml", cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- runCmd(ctx, p.getenv, "sync", "--config", path) }()
	defer func() { cancel(); <-done }()

	var line string // status's line of the unfinished run
	eventually(t, 10*time.Second, "a commit of the sync", func() bool {
		r := runCmd(context.Background(), p.getenv, "status", "--config", path)
		line = progressLine(r.stdout)
		return line != ""
	})
	if strings.HasPrefix(line, "interrupted run") || !strings.Contains(line, "in progress") {
		t.Errorf("during the sync, status says:\n%s", line)
	}

	cancel()
	if r := <-done; r.code != exitFailure { // in process, a cancelled run exits 1 (the signal's code is main's)
		t.Fatalf("stopped sync: exit %d, want %d:\n%s", r.code, exitFailure, r.stderr)
	}
	done <- result{}
	r := runCmd(context.Background(), p.getenv, "status", "--config", path)
	if line := progressLine(r.stdout); !strings.HasPrefix(line, "interrupted run: run-") {
		t.Errorf("after the stopped sync, status says:\n%s", r.stdout)
	}
}

// progressLine is status's line of an unfinished run, or "".
func progressLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "resumes in slice") {
			return l
		}
	}
	return ""
}
