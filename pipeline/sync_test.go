package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/extract/oncehubtest"
	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
	"github.com/convsync/convsync/transform"
)

// The behaviour suite: every test here runs against both warehouses.

type warehouse interface {
	pipeline.Sink
	DB() *sql.DB
	Close() error
}

var warehouses = []struct {
	name string
	open func(ctx context.Context, dir string) (warehouse, error)
}{
	{"duckdb", func(ctx context.Context, dir string) (warehouse, error) {
		return load.OpenDuckDB(ctx, filepath.Join(dir, "warehouse.duckdb"), load.DuckDBOptions{})
	}},
	{"parquet", func(ctx context.Context, dir string) (warehouse, error) {
		return load.OpenParquet(ctx, filepath.Join(dir, "dataset"), load.ParquetOptions{})
	}},
}

// harness is a simulator, a client of it and an open warehouse.
type harness struct {
	sim    *oncehubtest.Server
	client *extract.Client
	wh     warehouse
	opts   pipeline.Options
	start  time.Time
	// reopen closes wh and opens it again, as the next scheduled run, a
	// new process, does.
	reopen func(t *testing.T)
}

var simStart = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, wh warehouse, n int) *harness {
	sim, url := oncehubtest.NewTestServer(t, oncehubtest.Options{Seed: 7, Conversations: n, Start: simStart, Span: 120 * 24 * time.Hour})
	return &harness{sim: sim, wh: wh, client: newClient(t, url, sim.APIKey()), start: simStart.Add(-130 * 24 * time.Hour),
		opts: pipeline.Options{SliceSize: 30 * 24 * time.Hour, BatchSize: 250, Lookback: 5 * time.Minute}}
}

func newClient(t *testing.T, url, key string) *extract.Client {
	t.Helper()
	c, err := extract.New(extract.Options{BaseURL: url, APIKey: key, Expand: []string{"contact", "owner", "bot", "website", "audience"},
		RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func forEachWarehouse(t *testing.T, n int, fn func(t *testing.T, h *harness)) {
	for _, w := range warehouses {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			wh, err := w.open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, wh, n)
			t.Cleanup(func() { h.wh.Close() })
			h.reopen = func(t *testing.T) {
				t.Helper()
				if err := h.wh.Close(); err != nil {
					t.Fatal(err)
				}
				if h.wh, err = w.open(context.Background(), dir); err != nil {
					t.Fatal(err)
				}
			}
			fn(t, h)
		})
	}
}

// sync runs one incremental sync on the simulator's clock.
func (h *harness) sync(t *testing.T) load.Run {
	t.Helper()
	run, err := h.run(context.Background(), h.wh)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return run
}

func (h *harness) run(ctx context.Context, sink pipeline.Sink) (load.Run, error) {
	o := h.opts
	// The simulator stamps updates up to and including its Now, and a
	// window's end is exclusive: read up to Now + 1ms to see them all.
	o.Start, o.Now = h.start, func() time.Time { return h.sim.Now().Add(time.Millisecond) }
	return pipeline.Run(ctx, h.client, sink, o)
}

// minimalCalls is the fewest list calls that read run's window: per slice,
// one call per 100 conversations updated in it, and one for an empty slice.
func minimalCalls(t *testing.T, h *harness, run load.Run) int64 {
	t.Helper()
	var n int64
	truth := expected(t, h.sim).Conversations
	for _, w := range extract.Slices(*run.WindowLo, *run.WindowHi, h.opts.SliceSize) {
		in := 0
		for _, c := range truth {
			if !c.LastUpdatedTime.Before(w.Lo) && c.LastUpdatedTime.Before(w.Hi) {
				in++
			}
		}
		n += int64(max(1, math.Ceil(float64(in)/100)))
	}
	return n
}

// TestSync_ConvergesToSource: sync, advance the source's clock, sync again,
// several rounds, in one process and then each in a new one (which starts
// without the sink's cache of committed rows); the warehouse then equals
// the source exactly, and each run made only the API calls its window
// needed.
func TestSync_ConvergesToSource(t *testing.T) {
	forEachWarehouse(t, 600, func(t *testing.T, h *harness) {
		steps := []time.Duration{0, 3 * time.Hour, 26 * time.Hour, 40 * time.Minute, 9 * 24 * time.Hour, 2 * time.Hour, 30 * time.Hour, 5 * time.Hour}
		for round, step := range steps {
			if round > len(steps)/2 {
				h.reopen(t)
			}
			h.sim.Advance(step)
			before := h.sim.Counts().List
			want := int64(0)
			run := h.sync(t)
			if run.WindowLo != nil {
				want = minimalCalls(t, h, run)
			}
			if calls := int64(h.sim.Counts().List - before); calls != run.APICalls || calls != want {
				t.Errorf("round %d: %d list calls (ledger says %d), the window needs %d", round, calls, run.APICalls, want)
			}
			if run.Status != "succeeded" || run.Rejected != 0 {
				t.Errorf("round %d: run %+v", round, run)
			}
			assertMatchesSource(t, h.wh.DB(), h.sim)
		}
		assertNoDuplicateKeys(t, h.wh.DB())
	})
}

func assertNoDuplicateKeys(t *testing.T, db *sql.DB) {
	t.Helper()
	for table, key := range map[string]string{
		"conversations": "id", "conversation_answers": "conversation_id, position", "conversation_bookings": "conversation_id, position",
		"contacts": "id", "users": "id", "bots": "id", "websites": "id", "audiences": "id",
	} {
		var dups int
		q := "SELECT count(*) FROM (SELECT " + key + " FROM " + table + " GROUP BY ALL HAVING count(*) > 1)"
		if err := db.QueryRow(q).Scan(&dups); err != nil {
			t.Fatal(err)
		}
		if dups != 0 {
			t.Errorf("%s has %d duplicated keys (%s)", table, dups, key)
		}
	}
}

// TestSync_RemovedChildRowsDisappear: an answer removed at the source and a
// bookings list emptied at the source leave no rows behind.
func TestSync_RemovedChildRowsDisappear(t *testing.T) {
	forEachWarehouse(t, 200, func(t *testing.T, h *harness) {
		h.sync(t)
		var id string
		for _, c := range h.sim.Conversations() {
			if len(c.Answers) >= 3 && len(c.Bookings) > 0 {
				id = c.ID
				break
			}
		}
		if id == "" {
			t.Fatal("the simulator has no conversation with 3 answers and a booking")
		}
		h.sim.Advance(time.Minute)
		err := h.sim.Update(id, h.sim.Now(), func(c *oncehubtest.Conversation) {
			c.Answers = append(c.Answers[:1], c.Answers[2:]...)
			c.Bookings = nil
		})
		if err != nil {
			t.Fatal(err)
		}
		h.sim.Advance(time.Minute)
		h.sync(t)
		var answers, bookings int
		db := h.wh.DB()
		if err := db.QueryRow("SELECT count(*) FROM conversation_answers WHERE conversation_id = ?", id).Scan(&answers); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("SELECT count(*) FROM conversation_bookings WHERE conversation_id = ?", id).Scan(&bookings); err != nil {
			t.Fatal(err)
		}
		c, _ := h.sim.Conversation(id)
		if answers != len(c.Answers) || bookings != 0 {
			t.Errorf("%s: %d answers (source has %d), %d bookings (source has 0)", id, answers, len(c.Answers), bookings)
		}
		assertMatchesSource(t, db, h.sim)
	})
}

// TestSync_BoundaryUpdatesNotMissed: conversations updated exactly on a
// run's window end and exactly on a slice boundary are read exactly once.
func TestSync_BoundaryUpdatesNotMissed(t *testing.T) {
	forEachWarehouse(t, 200, func(t *testing.T, h *harness) {
		h.opts.Lookback = 0
		convs := h.sim.Conversations()
		first := h.sync(t)
		windowEnd := *first.WindowHi
		sliceEdge := windowEnd.Add(h.opts.SliceSize) // the first slice boundary of the next run
		h.sim.AdvanceTo(windowEnd.Add(h.opts.SliceSize + time.Hour))
		for id, at := range map[string]time.Time{convs[0].ID: windowEnd, convs[1].ID: sliceEdge, convs[2].ID: sliceEdge.Add(-time.Millisecond)} {
			if err := h.sim.Update(id, at, func(c *oncehubtest.Conversation) { c.Status = "closed" }); err != nil {
				t.Fatal(err)
			}
		}
		second := h.sync(t)
		if !second.WindowLo.Equal(windowEnd) {
			t.Fatalf("second window starts at %s, want the first's end %s", second.WindowLo, windowEnd)
		}
		assertMatchesSource(t, h.wh.DB(), h.sim)
	})
}

// TestSync_RetriesTransientErrorsAndConverges: 429s (with Retry-After),
// 5xx and dropped connections are retried; the run still converges.
func TestSync_RetriesTransientErrorsAndConverges(t *testing.T) {
	forEachWarehouse(t, 300, func(t *testing.T, h *harness) {
		h.sim.Fail(2, 429, 10*time.Millisecond)
		run := h.sync(t)
		h.sim.Advance(5 * time.Hour)
		h.sim.Fail(1, 503, 0)
		h.sim.Fail(1, 500, 0)
		h.sim.Drop(1)
		run2 := h.sync(t)
		// (net/http itself may retry the dropped idempotent GET.)
		if run.RateLimited != 2 || run.Retries < 2 || run2.Retries < 2 {
			t.Errorf("retries: first run %d (429s %d), second run %d", run.Retries, run.RateLimited, run2.Retries)
		}
		assertMatchesSource(t, h.wh.DB(), h.sim)
	})
}

// TestSync_UnauthorizedStopsAtOnce: a 401 stops the run after one call,
// with the API's message; nothing is written but the ledger row.
func TestSync_UnauthorizedStopsAtOnce(t *testing.T) {
	forEachWarehouse(t, 50, func(t *testing.T, h *harness) {
		_, url := oncehubtest.NewTestServer(t, oncehubtest.Options{Seed: 1, Conversations: 10})
		h.client = newClient(t, url, "wrong-key")
		run, err := h.run(context.Background(), h.wh)
		var apiErr *extract.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || !strings.Contains(err.Error(), "Invalid API key.") {
			t.Fatalf("err = %v, want the API's 401", err)
		}
		if strings.Contains(err.Error(), "wrong-key") {
			t.Errorf("the error shows the API key: %v", err)
		}
		if run.APICalls != 1 || run.Status != "failed" {
			t.Errorf("run = %+v, want failed after 1 call", run)
		}
		st, _ := h.wh.State(context.Background())
		var n, runs int
		h.wh.DB().QueryRow("SELECT count(*) FROM conversations").Scan(&n)
		h.wh.DB().QueryRow("SELECT count(*) FROM _convsync_runs WHERE status = 'failed' AND error LIKE '%Invalid API key.%'").Scan(&runs)
		if !st.Watermark.IsZero() || st.Pending != nil || n != 0 || runs != 1 {
			t.Errorf("after 401: state %+v, %d conversations, %d failed ledger rows", st, n, runs)
		}
	})
}

// failingSink fails its commit number failAt, as a process killed during
// that commit would. (That a commit interrupted at any step inside the
// sink leaves nothing behind is proven by each sink's own crash tests.)
type failingSink struct {
	pipeline.Sink
	commits, failAt int
}

func (s *failingSink) Commit(ctx context.Context, b *transform.Batch, st load.State, run load.Run) (load.Counts, error) {
	s.commits++
	if s.commits == s.failAt {
		return load.Counts{}, errors.New("killed mid-batch")
	}
	return s.Sink.Commit(ctx, b, st, run)
}

// TestSync_FailedBatchLeavesNothingAndNextRunCompletes: a batch that fails
// leaves the warehouse and cursor as they were before it; the next run
// resumes from the last committed page and converges.
func TestSync_FailedBatchLeavesNothingAndNextRunCompletes(t *testing.T) {
	forEachWarehouse(t, 800, func(t *testing.T, h *harness) {
		h.opts.BatchSize = 100
		sink := &failingSink{Sink: h.wh, failAt: 3}
		if _, err := h.run(context.Background(), sink); err == nil {
			t.Fatal("the run did not fail")
		}
		st, err := h.wh.State(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == nil || !st.Watermark.IsZero() {
			t.Fatalf("state after the failed batch = %+v, want the progress of commit 2", st)
		}
		var n int
		h.wh.DB().QueryRow("SELECT count(*) FROM conversations").Scan(&n)
		if n == 0 || n > 200 {
			t.Errorf("%d conversations after two committed batches of 100 pages' worth", n)
		}
		run := h.sync(t)
		if !run.WindowHi.Equal(st.Pending.WindowHi) || int64(n)+run.Inserted != int64(h.sim.Len()) {
			t.Errorf("the next run read [%s, %s) and inserted %d: want the rest of the frozen window [%s, %s), %d conversations",
				run.WindowLo, run.WindowHi, run.Inserted, st.Pending.WindowLo, st.Pending.WindowHi, h.sim.Len()-n)
		}
		assertMatchesSource(t, h.wh.DB(), h.sim)
	})
}

// TestSync_BadItemsAreRejectedWithReason: an item that cannot be loaded is
// kept in _convsync_rejects with its reason and raw JSON; the run succeeds,
// the rest is loaded and the warehouse stays readable. That includes an
// item that is not UTF-8, which the warehouse's text columns cannot hold
// (it failed every commit of DuckDB, and made Parquet files unreadable),
// and a reason quoting a long non-ASCII value, cut short between characters.
func TestSync_BadItemsAreRejectedWithReason(t *testing.T) {
	tests := []struct {
		name, field, value string
		reason, raw        string // what the reject's reason and raw hold
	}{
		{"BadTime", "last_updated_time", `"yesterday"`, "last_updated_time", `"yesterday"`},
		{"NotUTF8", "status", "\"closed \xff\"", `invalid UTF-8 at byte`, "\"closed \uFFFD\""},
		{"LongNonASCIIValue", "creation_time", `"` + strings.Repeat("日", 40) + `"`, "creation_time: invalid time", "日日"},
		// A numeric time past what the warehouse holds failed every DuckDB
		// commit of its batch, and Parquet stored a wrapped-around date.
		{"NumericTimeTooLate", "creation_time", `1e17`, "creation_time: invalid time 1e17: out of range", `1e17`},
		{"NumericTimeOverflow", "last_interacted_time", `-1e30`, "last_interacted_time: invalid time -1e30: out of range", `-1e30`},
		// An expanded object without an id loaded a NULL reference and
		// dropped the object's attributes, without a word.
		{"ExpandedWithoutID", "contact", `{"object":"contact","first_name":"Bob"}`, "contact: expanded object without an id", `"Bob"`},
		{"ExpandedWithEmptyID", "bot", `{"id":"","object":"bot","name":"Ann"}`, "bot: expanded object without an id", `"Ann"`},
		// A reason names the field inside an object, with its own value.
		{"ContactFieldWrongType", "contact", `{"id":"CTC-QA","object":"contact","first_name":"Ann","last_name":"Lee","email":"ann@example.com","employees":1e30}`,
			"contact.employees: want integer, got number 1e30 (value 1e30)", `"employees":1e30`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachWarehouse(t, 100, func(t *testing.T, h *harness) {
				id := h.sim.Conversations()[5].ID
				if err := h.sim.Corrupt(id, tt.field, tt.value); err != nil {
					t.Fatal(err)
				}
				run := h.sync(t)
				if run.Rejected != 1 || run.Status != "succeeded" || run.Inserted != 99 {
					t.Fatalf("run = %+v, want 99 inserted and 1 reject", run)
				}
				var reason, raw string
				err := h.wh.DB().QueryRow("SELECT reason, raw FROM _convsync_rejects WHERE conversation_id = ?", id).Scan(&reason, &raw)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(reason, tt.reason) || !strings.Contains(raw, tt.raw) {
					t.Errorf("reject reason %q raw %.80s", reason, raw)
				}
				for _, table := range []string{"conversations", "conversation_answers", "contacts", "_convsync_rejects", "_convsync_runs"} {
					var n sql.NullInt64 // to_json reads every column of every row
					if err := h.wh.DB().QueryRow("SELECT sum(length(to_json(t)::VARCHAR)) FROM " + table + " t").Scan(&n); err != nil {
						t.Errorf("read %s: %v", table, err)
					}
				}
				// The next run, which reads the item again, succeeds too.
				if run := h.sync(t); run.Status != "succeeded" {
					t.Errorf("second run = %+v", run)
				}
			})
		})
	}
}

func listItem(id string) string {
	return fmt.Sprintf(`{"object":"conversation","id":%q,"creation_time":"2026-05-05T10:41:02.117Z",`+
		`"last_updated_time":"2026-05-10T00:00:00.000Z","status":"closed","contact":"CTC-1","owner":"USR-1",`+
		`"bot":"BOT-1","website":"WEB-1","audience":null,"answers":[],"bookings":[]}`, id)
}

// TestSync_PagesReadBeforeAFailureAreCommitted: when a page fails (here a
// 401: the key was revoked mid-run), the pages read before it, whether a
// full batch or part of one, are committed with their cursor, so the next
// run does not spend API calls reading them again.
func TestSync_PagesReadBeforeAFailureAreCommitted(t *testing.T) {
	for _, batchSize := range []int{3, 100} {
		for _, w := range warehouses {
			t.Run(fmt.Sprintf("%s/batch%d", w.name, batchSize), func(t *testing.T) {
				var revoked atomic.Bool
				revoked.Store(true)
				var calls atomic.Int64
				srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					switch r.URL.Query().Get("after") {
					case "":
						fmt.Fprintf(rw, `{"object":"list","data":[%s,%s],"has_more":true}`, listItem("CVR-1"), listItem("CVR-2"))
					case "CVR-2":
						fmt.Fprintf(rw, `{"object":"list","data":[%s,%s],"has_more":true}`, listItem("CVR-3"), listItem("CVR-4"))
					case "CVR-4":
						if revoked.Load() {
							rw.WriteHeader(401)
							fmt.Fprint(rw, `{"type":"authentication_error","message":"Invalid API key."}`)
							return
						}
						fmt.Fprintf(rw, `{"object":"list","data":[%s],"has_more":false}`, listItem("CVR-5"))
					default:
						rw.WriteHeader(400)
						fmt.Fprint(rw, `{"type":"invalid_request_error","message":"unexpected","param":"after"}`)
					}
				}))
				defer srv.Close()
				c, err := extract.New(extract.Options{BaseURL: srv.URL + "/v2", APIKey: "test-key-123456", RetryInitial: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				wh, err := w.open(context.Background(), t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				defer wh.Close()
				now := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
				opts := pipeline.Options{Start: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Now: now, SliceSize: -1, BatchSize: batchSize}
				run, err := pipeline.Run(context.Background(), c, wh, opts)
				if err == nil || !strings.Contains(err.Error(), "401 authentication_error") || run.Status != "failed" {
					t.Fatalf("run 1: err %v, status %s; want failed on the 401", err, run.Status)
				}
				var n int
				if err := wh.DB().QueryRow("SELECT count(*) FROM conversations").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 4 || run.Pages != 2 {
					t.Errorf("run 1 committed %d conversations in %d pages, want the 4 of the 2 pages read", n, run.Pages)
				}
				revoked.Store(false)
				before := calls.Load()
				if run, err = pipeline.Run(context.Background(), c, wh, opts); err != nil {
					t.Fatal(err)
				}
				if got := calls.Load() - before; got != 1 {
					t.Errorf("run 2 made %d calls, want 1: the page after CVR-4", got)
				}
			})
		}
	}
}

// TestSync_SignalAtTheStartIsRecorded: a run cancelled before or while its
// start is recorded (a SIGTERM in its first milliseconds) still leaves its
// ledger row, cancelled. The start's write was made under the cancelled
// context: it failed, and the run ended with no row at all.
func TestSync_SignalAtTheStartIsRecorded(t *testing.T) {
	forEachWarehouse(t, 50, func(t *testing.T, h *harness) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		run, err := h.run(ctx, h.wh)
		if !errors.Is(err, context.Canceled) || run.Status != "cancelled" || h.sim.Counts().List != 0 {
			t.Fatalf("run %s after %d calls, err %v; want cancelled before any call", run.Status, h.sim.Counts().List, err)
		}
		var status string
		if err := h.wh.DB().QueryRow("SELECT status FROM _convsync_runs WHERE run_id = ?", run.ID).Scan(&status); err != nil || status != "cancelled" {
			t.Errorf("ledger row of the run: status %q, err %v; want cancelled", status, err)
		}
		h.sync(t)
		assertMatchesSource(t, h.wh.DB(), h.sim)
	})
}
