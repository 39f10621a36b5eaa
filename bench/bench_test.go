package bench

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/pipeline"

	_ "github.com/duckdb/duckdb-go/v2"
)

var conversations = flag.Int("conversations", 2000, "conversations in BenchmarkRun")

// BenchmarkRun runs the whole harness in process at a small size, so CI
// builds and exercises it: go test ./bench -run '^$' -bench Run -benchtime 1x
func BenchmarkRun(b *testing.B) {
	for range b.N {
		rep, err := Run(context.Background(), Config{Conversations: *conversations, Parquet: true, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if c := rep.Ceiling(); c != nil {
			b.ReportMetric(c.Elapsed.Seconds(), "ceiling-s")
		}
		for _, p := range rep.Phases {
			b.ReportMetric(p.Elapsed.Seconds(), strings.ReplaceAll(p.Name, " ", "_")+"-s")
		}
	}
}

// TestRun checks that every phase loads the data set it should: the same
// conversations and rows in the ceiling and every full sync, the whole
// delta in the delta runs, and the minimum API calls; and that the
// ceilings' tables hold what the sync's do.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	rep, err := Run(context.Background(), Config{Conversations: 1000, Delta: 0.02, Parquet: true, Split: true, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())
	c := rep.Ceiling()
	if c == nil || c.Conversations != 1000 || c.Rows <= 1000 {
		t.Fatalf("ceiling: %+v", c)
	}
	if len(rep.Phases) != 15 {
		t.Fatalf("got %d phases, want 15", len(rep.Phases))
	}
	if a := rep.phase(allCeilingName); a == nil || a.Conversations != c.Conversations || a.Rows != c.Rows {
		t.Errorf("every-table ceiling: %+v; the ceiling loaded %d, %d", a, c.Conversations, c.Rows)
	}
	sameTables(t, filepath.Join(dir, "ceiling-all.duckdb"), filepath.Join(dir, "replay.duckdb"), allTables...)
	sameTables(t, filepath.Join(dir, "ceiling.duckdb"), filepath.Join(dir, "replay.duckdb"), allTables[:3]...)
	if b := rep.BatchCeiling(); b == nil || b.Conversations != c.Conversations || b.Rows != c.Rows || rep.BatchSize != pipeline.DefaultBatchSize {
		t.Errorf("batch ceiling: %+v (batches of %d); the ceiling loaded %d, %d", b, rep.BatchSize, c.Conversations, c.Rows)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("against DuckDB's read_ndjson committing every %d conversations", pipeline.DefaultBatchSize)) {
		t.Errorf("no comparison with the batch ceiling in\n%s", out.String())
	}
	for _, p := range rep.Phases {
		// The process's CPU time, which can be neither 0 for work done
		// nor more than every core for the whole phase.
		if p.CPU <= 0 || p.CPU > p.Elapsed*time.Duration(runtime.NumCPU())+10*time.Millisecond {
			t.Errorf("%s: CPU %v in %v on %d cores", p.Name, p.CPU, p.Elapsed, runtime.NumCPU())
		}
		switch {
		case strings.HasPrefix(p.Name, "ceiling: "):
		case p.Full:
			if p.Conversations != c.Conversations || p.Rows != c.Rows {
				t.Errorf("%s: %d conversations, %d rows; the ceiling loaded %d, %d", p.Name, p.Conversations, p.Rows, c.Conversations, c.Rows)
			}
			if p.NoRSS != (p.PeakRSS == 0 && p.GoPeak == 0) {
				t.Errorf("%s: NoRSS %v with peak RSS %d and Go peak %d", p.Name, p.NoRSS, p.PeakRSS, p.GoPeak)
			}
			if p.NoRSS != strings.Contains(p.Name, "commits alone") || p.Bytes != rep.JSONBytes || p.RateLimited != 0 || (p.APICalls == 0) != strings.Contains(p.Name, "commits alone") {
				t.Errorf("%s: %+v", p.Name, p)
			}
		default:
			if p.Conversations != 20 || p.APICalls != 1 {
				t.Errorf("%s: %d conversations in %d calls, want the delta of 20 in 1 (a last page)", p.Name, p.Conversations, p.APICalls)
			}
		}
	}
}

var allTables = []string{"conversations", "conversation_answers", "conversation_bookings", "contacts", "users", "bots", "websites", "audiences"}

// sameTables fails t unless tables hold the same rows, lineage aside, in
// the DuckDB warehouses at paths a and b, and each holds some.
func sameTables(t *testing.T, a, b string, tables ...string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("ATTACH '%s' AS a (READ_ONLY); ATTACH '%s' AS b (READ_ONLY)", a, b)); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		var rows, differ int
		err := db.QueryRow(fmt.Sprintf(`SELECT (SELECT count(*) FROM a.%[1]s),
			(SELECT count(*) FROM (SELECT * EXCLUDE (synced_at, run_id) FROM a.%[1]s EXCEPT ALL SELECT * EXCLUDE (synced_at, run_id) FROM b.%[1]s)) +
			(SELECT count(*) FROM (SELECT * EXCLUDE (synced_at, run_id) FROM b.%[1]s EXCEPT ALL SELECT * EXCLUDE (synced_at, run_id) FROM a.%[1]s))`, table)).Scan(&rows, &differ)
		if err != nil {
			t.Fatal(err)
		}
		if rows == 0 || differ != 0 {
			t.Errorf("%s: %d rows in %s, %d differ from %s", table, rows, filepath.Base(a), differ, filepath.Base(b))
		}
	}
}

// TestSplitLines checks the batch ceiling's files: n lines each but the
// last, the lines in order and unchanged, a line longer than the reader's
// buffer and a last line without a newline included.
func TestSplitLines(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 3<<20)
	lines := []string{"a", "b", long, "d", "e", "f", "g"}
	src := filepath.Join(dir, "all.ndjson")
	if err := os.WriteFile(src, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := splitLines(src, filepath.Join(dir, "parts"), 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{"a\nb\n" + long + "\n", "d\ne\nf\n", "g\n"}
	if !slices.Equal(got, want) {
		t.Errorf("got %d files of %v bytes, want %d", len(got), lens(got), len(want))
	}
}

func lens(ss []string) (n []int) {
	for _, s := range ss {
		n = append(n, len(s))
	}
	return n
}

// TestReport_Against checks the lines that compare the full DuckDB syncs
// with the every-table ceiling and the ceiling committing every batch: its
// time over theirs, only for those phases; and the cores a phase kept busy.
func TestReport_Against(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	r := &Report{Conversations: 1000, BatchSize: 250, Phases: []Phase{
		{Name: "duckdb: sync from simulator", Full: true, Elapsed: sec(8), CPU: sec(12)},
		{Name: ceilingName, Full: true, Elapsed: sec(2)},
		{Name: allCeilingName, Full: true, Elapsed: sec(3)},
		{Name: batchCeilingName, Full: true, Elapsed: sec(4)},
		{Name: "duckdb: sync from captured pages", Full: true, Elapsed: sec(5)},
		{Name: "parquet: sync from simulator", Full: true, Elapsed: sec(4)},
		{Name: "duckdb: delta 1 of 20", Elapsed: sec(1)},
	}}
	var out strings.Builder
	r.Print(&out)
	if row := strings.Fields(strings.Split(out.String(), "\n")[3]); !slices.Equal(row[4:6], []string{"8.00", "1.50"}) {
		t.Errorf("sync from simulator: seconds and cores %q, want 8.00 and 1.50 (CPU over elapsed), in\n%s", row[4:6], out.String())
	}
	for heading, want := range map[string][]string{
		"against DuckDB's read_ndjson filling every table the syncs fill, in one transaction (3.00 s):\n": {
			"duckdb: sync from simulator 0.38", "duckdb: sync from captured pages 0.60"},
		"against DuckDB's read_ndjson committing every 250 conversations as the syncs do (4.00 s):\n": {
			"duckdb: sync from simulator 0.50", "duckdb: sync from captured pages 0.80"},
	} {
		_, tail, _ := strings.Cut(out.String(), heading)
		var got []string
		for _, line := range strings.Split(tail, "\n") {
			if !strings.HasPrefix(line, "  ") {
				break
			}
			got = append(got, strings.Join(strings.Fields(line), " "))
		}
		if !slices.Equal(got, want) {
			t.Errorf("under %q got %q, want %q in\n%s", heading, got, want, out.String())
		}
	}
}

// TestCompareDeltas checks the delta comparison: each delta phase both
// reports have, its ratio, and the median of each sink's deltas (odd and
// even counts), leaving out full loads, the ceiling and phases of one
// report only.
func TestCompareDeltas(t *testing.T) {
	report := func(n int, phases map[string]float64) *Report {
		r := &Report{Conversations: n}
		for _, name := range []string{"duckdb: sync from simulator", ceilingName, "duckdb: delta 1 of 20", "duckdb: delta 2 of 20",
			"duckdb: delta 3 of 20", "parquet: delta 1 of 20", "parquet: delta 2 of 20", "duckdb: rate-limited backfill of 5"} {
			if s, ok := phases[name]; ok {
				r.Phases = append(r.Phases, Phase{Name: name, Elapsed: time.Duration(s * float64(time.Second)), Full: strings.Contains(name, "sync from")})
			}
		}
		return r
	}
	small := report(1000, map[string]float64{"duckdb: sync from simulator": 1, ceilingName: 1,
		"duckdb: delta 1 of 20": 0.2, "duckdb: delta 2 of 20": 0.1, "duckdb: delta 3 of 20": 0.4,
		"parquet: delta 1 of 20": 1, "parquet: delta 2 of 20": 2, "duckdb: rate-limited backfill of 5": 1})
	large := report(5000, map[string]float64{"duckdb: sync from simulator": 5, ceilingName: 5,
		"duckdb: delta 1 of 20": 0.3, "duckdb: delta 2 of 20": 0.9, "duckdb: delta 3 of 20": 0.2,
		"parquet: delta 1 of 20": 3, "parquet: delta 2 of 20": 3, "duckdb: rate-limited backfill of 5": 2})
	large.Phases = append(large.Phases, Phase{Name: "duckdb: delta 4 of 20", Elapsed: time.Second}) // not in small
	var out strings.Builder
	CompareDeltas(&out, small, large)
	var got []string
	for _, line := range strings.Split(out.String(), "\n")[4:] {
		if f := strings.Fields(line); len(f) > 0 {
			got = append(got, strings.Join(f, " "))
		}
	}
	want := []string{
		"duckdb: delta 1 of 20 0.20 0.30 1.50",
		"duckdb: delta 2 of 20 0.10 0.90 9.00",
		"duckdb: delta 3 of 20 0.40 0.20 0.50",
		"parquet: delta 1 of 20 1.00 3.00 3.00",
		"parquet: delta 2 of 20 2.00 3.00 1.50",
		"duckdb: median of 3 deltas 0.20 0.30 1.50",
		"parquet: median of 2 deltas 1.50 3.00 2.00",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s\nfrom\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out.String())
	}
}
