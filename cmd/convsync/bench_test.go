package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBench_Command runs `convsync bench` small, with its simulator in a
// child process (this test binary as convsync), and checks the report has
// every phase and --cpuprofile writes a profile.
func TestBench_Command(t *testing.T) {
	t.Setenv("CONVSYNC_TEST_MAIN", "1") // inherited by the simulator child
	dir := t.TempDir()
	out, prof := filepath.Join(dir, "report.txt"), filepath.Join(dir, "cpu.prof")
	r := runCmd(context.Background(), envOf(nil), "bench", "--conversations", "300", "--delta", "0.1",
		"--parquet=false", "--out", out, "--cpuprofile", prof)
	if r.code != exitOK {
		t.Fatalf("bench: exit %d\n%s", r.code, r.stderr)
	}
	report, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range []string{"duckdb: sync from simulator", "ceiling: DuckDB read_ndjson",
		"duckdb: sync from captured pages", "duckdb: delta 1 of 30", "duckdb: delta 3 of 30", "speed×ceil",
		"settings: batches of 5000, memory_limit 256MB (the Parquet writer's 256MB), "} {
		if !strings.Contains(string(report), phase) {
			t.Errorf("report lacks %q:\n%s", phase, report)
		}
	}
	if b, err := os.ReadFile(prof); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("--cpuprofile wrote no gzipped profile (%d bytes, %v)", len(b), err)
	}
}

// TestBench_CompareAt runs `convsync bench` at two sizes with deltas of the
// same size and checks both reports and the comparison of their deltas are
// printed and written to --out.
func TestBench_CompareAt(t *testing.T) {
	t.Setenv("CONVSYNC_TEST_MAIN", "1") // inherited by the simulator child
	dir := t.TempDir()
	out := filepath.Join(dir, "report.txt")
	r := runCmd(context.Background(), envOf(nil), "bench", "--conversations", "300", "--delta", "0.1", "--deltas", "2",
		"--compare-at", "600", "--parquet=false", "--dir", filepath.Join(dir, "work"), "--out", out)
	if r.code != exitOK {
		t.Fatalf("bench: exit %d\n%s", r.code, r.stderr)
	}
	report, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(report) != r.stdout {
		t.Errorf("--out differs from what was printed:\n%s\n---\n%s", report, r.stdout)
	}
	for _, line := range []string{"300 conversations, ", "600 conversations, ", "deltas at 600 conversations against 300",
		"duckdb: delta 1 of 30", "duckdb: delta 2 of 30", "duckdb: median of 2 deltas"} {
		if !strings.Contains(string(report), line) {
			t.Errorf("report lacks %q:\n%s", line, report)
		}
	}
	if strings.Contains(string(report), "of 60") {
		t.Errorf("the deltas at 600 are not the size of those at 300:\n%s", report)
	}
	for _, sub := range []string{"300", "600"} {
		if _, err := os.Stat(filepath.Join(dir, "work", sub, "sync.duckdb")); err != nil {
			t.Errorf("work folder of the run at %s: %v", sub, err)
		}
	}
}

// TestBench_LowMemory: --low-memory runs the bench with low_memory's
// settings, and its report says so.
func TestBench_LowMemory(t *testing.T) {
	t.Setenv("CONVSYNC_TEST_MAIN", "1") // inherited by the simulator child
	_, freed := stubLowMemory(t)
	r := runCmd(context.Background(), envOf(nil), "bench", "--low-memory", "--conversations", "300", "--delta", "-1",
		"--parquet=false", "--split=false")
	if r.code != exitOK {
		t.Fatalf("bench: exit %d\n%s", r.code, r.stderr)
	}
	want := "settings: batches of 2000, memory_limit 64MB (the Parquet writer's 256MB), Go memory limit 64 MiB, GOGC 100, DuckDB's allocator returns freed memory at once"
	if !strings.Contains(r.stdout, want) || *freed != 1 {
		t.Errorf("allocator set %d times (want once); report lacks %q:\n%s", *freed, want, r.stdout)
	}
}
