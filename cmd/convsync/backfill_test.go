package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convsync/convsync/extract/oncehubtest"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// TestBackfill_RereadsRangeWithoutMovingCursor: a backfill restores rows
// lost from the warehouse in its range, leaves the watermark where it was
// and is recorded as a backfill.
func TestBackfill_RereadsRangeWithoutMovingCursor(t *testing.T) {
	p := newProdEnv(t, 150)
	cfg := p.config()
	path := p.write(t, "c.yaml", cfg)
	if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitOK {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	from := p.sim.Now().Add(-90 * 24 * time.Hour).Truncate(24 * time.Hour)
	to := from.Add(30 * 24 * time.Hour)
	d := openDuckDB(t, cfg.Warehouse.Path)
	before, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lost := `SELECT id FROM conversations WHERE last_updated_time >= $1 AND last_updated_time < $2`
	if _, err := d.DB().Exec(`DELETE FROM conversation_answers WHERE conversation_id IN (`+lost+`)`, from, to); err != nil {
		t.Fatal(err)
	}
	res, err := d.DB().Exec(`DELETE FROM conversations WHERE id IN (`+lost+`)`, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("no conversations in the range: the test proves nothing")
	}
	d.Close()

	r := runCmd(context.Background(), p.getenv, "backfill", "--config", path, "--from", from.Format(time.RFC3339), "--to", to.Format(time.DateOnly))
	if r.code != exitOK {
		t.Fatalf("backfill: %d %s", r.code, r.stderr)
	}
	d = openDuckDB(t, cfg.Warehouse.Path)
	after, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !after.Watermark.Equal(before.Watermark) || after.Pending != nil || after.Backfill != nil {
		t.Errorf("state after the backfill %+v, want the watermark %s untouched and nothing pending", after, before.Watermark)
	}
	assertConverged(t, d.DB(), p.sim)
	var mode, status string
	if err := d.DB().QueryRow(`SELECT mode, status FROM _convsync_runs ORDER BY started_at DESC LIMIT 1`).Scan(&mode, &status); err != nil || mode != "backfill" || status != "succeeded" {
		t.Errorf("last ledger row %s %s (%v), want backfill succeeded", mode, status, err)
	}
}

// TestBackfill_ResumesWhenRunAgain: a backfill stopped midway keeps its
// progress; the same command again finishes it under the same run id,
// without reading its range from the start.
func TestBackfill_ResumesWhenRunAgain(t *testing.T) {
	sim := oncehubtest.New(oncehubtest.Options{Seed: 3, Conversations: 200, NoQuirks: true, Start: time.Now().Add(-time.Hour)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lists, served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer served.Add(1)
		if lists.Add(1) == 5 {
			// The stop signal, while the fifth page is being fetched, once
			// the loader has had time to commit the pages before it.
			time.Sleep(time.Second)
			cancel()
		}
		time.Sleep(50 * time.Millisecond) // slow pages: the loader commits each before the next comes
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	p := &prodEnv{sim: sim, url: srv.URL + "/v2", dir: t.TempDir(), key: sim.APIKey()}
	cfg := p.config()
	cfg.Source.PageSize, cfg.Sync.BatchSize, cfg.Source.Slice = 10, 10, 0
	path := p.write(t, "c.yaml", cfg)
	from, to := cfg.Source.Start.Format(time.RFC3339), sim.Now().Add(time.Minute).Format(time.RFC3339)

	r := runCmd(ctx, p.getenv, "backfill", "--config", path, "--from", from, "--to", to)
	if r.code != exitFailure {
		t.Fatalf("stopped backfill: exit %d, want %d\n%s", r.code, exitFailure, r.stderr)
	}
	d := openDuckDB(t, cfg.Warehouse.Path)
	st, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Backfill == nil || st.Backfill.After == "" || !st.Watermark.IsZero() || st.Pending != nil {
		t.Fatalf("state after the stop %+v, want backfill progress mid-slice and no watermark\n%s\n%+v", st, r.stderr, readLedger(t, d.DB()))
	}
	first := readLedger(t, d.DB())[st.Backfill.RunID]
	if first.status != "cancelled" || first.pages < 1 || first.pages > 4 {
		t.Errorf("stopped run %+v, want cancelled after 1 to 4 committed pages", first)
	}
	d.Close()

	// The abandoned fifth request is still served (and counted) after the
	// client gave up on it.
	eventually(t, 5*time.Second, "the stopped run's requests to be served", func() bool { return served.Load() == lists.Load() })
	lists.Store(100) // no more stops
	callsBefore := sim.Counts().Total
	if r := runCmd(context.Background(), p.getenv, "backfill", "--config", path, "--from", from, "--to", to); r.code != exitOK {
		t.Fatalf("resumed backfill: %d %s", r.code, r.stderr)
	}
	d = openDuckDB(t, cfg.Warehouse.Path)
	assertConverged(t, d.DB(), sim)
	ledger := readLedger(t, d.DB())
	// The resuming run has its own ledger row, counting what it did; the
	// stopped run's row stays as it was.
	var resumed ledgerRow
	for id, r := range ledger {
		if id != st.Backfill.RunID {
			resumed = r
		}
	}
	if len(ledger) != 2 || ledger[st.Backfill.RunID] != first || resumed.status != "succeeded" || first.inserted+resumed.inserted != 200 {
		t.Errorf("ledger %+v, want the stopped run unchanged and the resuming one succeeded, the two inserting all 200 (first %d)", ledger, first.inserted)
	}
	if calls := int64(sim.Counts().Total - callsBefore); calls != 20-first.pages {
		t.Errorf("the resumed run made %d calls, want %d: the %d committed pages are not read again", calls, 20-first.pages, first.pages)
	}
	if st, _ := d.State(context.Background()); st.Backfill != nil || !st.Watermark.IsZero() {
		t.Errorf("state after the backfill %+v, want no progress and still no watermark", st)
	}
}

// TestBackfill_AnotherRangeWarnsOfTheDroppedOne: a backfill of another range
// than the interrupted one's replaces its progress (only one is kept), and
// says so: that range, run again, starts over.
func TestBackfill_AnotherRangeWarnsOfTheDroppedOne(t *testing.T) {
	p := newProdEnv(t, 50)
	cfg := p.config()
	path := p.write(t, "c.yaml", cfg)
	// An interrupted backfill of the first half of the source's range.
	d, err := load.OpenDuckDB(context.Background(), cfg.Warehouse.Path, load.DuckDBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mid := p.sim.Now().Add(-100 * 24 * time.Hour).Truncate(time.Hour)
	stopped := load.Run{ID: "run-stopped", Mode: "backfill", Start: time.Now(), Status: "cancelled"}
	st := load.State{Backfill: &load.Progress{RunID: stopped.ID, WindowLo: cfg.Source.Start, WindowHi: mid, SliceLo: cfg.Source.Start, SliceHi: mid}}
	if _, err := d.Commit(context.Background(), &transform.Batch{}, st, stopped); err != nil {
		t.Fatal(err)
	}
	d.Close()

	from, to := mid.Format(time.RFC3339), p.sim.Now().Add(time.Minute).Format(time.RFC3339)
	r := runCmd(context.Background(), p.getenv, "backfill", "--config", path, "--from", from, "--to", to)
	if r.code != exitOK {
		t.Fatalf("backfill: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `"level":"WARN"`) || !strings.Contains(r.stderr, `"interrupted_run_id":"run-stopped"`) ||
		!strings.Contains(r.stderr, `"interrupted_to":"`+mid.Format(time.RFC3339Nano)+`"`) {
		t.Errorf("no warning that the interrupted backfill's progress is dropped:\n%s", r.stderr)
	}
	// The same range as the interrupted one resumes it: no warning.
	d = openDuckDB(t, cfg.Warehouse.Path)
	if _, err := d.Commit(context.Background(), &transform.Batch{}, st, stopped); err != nil {
		t.Fatal(err)
	}
	d.Close()
	r = runCmd(context.Background(), p.getenv, "backfill", "--config", path, "--from", cfg.Source.Start.Format(time.RFC3339), "--to", mid.Format(time.RFC3339))
	if r.code != exitOK || strings.Contains(r.stderr, "WARN") {
		t.Errorf("resumed backfill: exit %d, want 0 and no warning:\n%s", r.code, r.stderr)
	}
}

// TestBackfill_ReportsBothBadFlags: every bad flag is listed, exit 2.
func TestBackfill_ReportsBothBadFlags(t *testing.T) {
	r := runCmd(context.Background(), envOf(nil), "backfill", "--config", "/nonexistent/c.yaml", "--from", "yesterday", "--to", "tomorrow")
	if r.code != exitConfig {
		t.Errorf("exit %d, want %d", r.code, exitConfig)
	}
	for _, want := range []string{`--from: want RFC 3339 (2025-01-01T00:00:00Z) or a date (2025-01-01), got "yesterday"`, `--to: want RFC 3339 (2025-01-01T00:00:00Z) or a date (2025-01-01), got "tomorrow"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
