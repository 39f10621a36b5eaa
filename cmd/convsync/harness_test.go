package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/convsync/convsync/extract/oncehubtest"
	"github.com/convsync/convsync/load"
)

// TestMain lets a test run the real program in a child process: with
// CONVSYNC_TEST_MAIN=1 the test binary is convsync, its arguments the
// command line (signals, exit codes and all).
func TestMain(m *testing.M) {
	if os.Getenv("CONVSYNC_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// prodEnv is a simulator and a warehouse folder for the production tests.
type prodEnv struct {
	sim *oncehubtest.Server
	url string
	dir string
	key string
}

// newProdEnv starts a simulator with n clean conversations whose data clock
// is two hours behind the wall clock, so runs (which end their window at
// the wall clock) see everything, also after an Advance of up to two hours.
func newProdEnv(t *testing.T, n int) *prodEnv {
	t.Helper()
	key := "sk-live-7Q2xVb9-prodtest"
	sim, url := oncehubtest.NewTestServer(t, oncehubtest.Options{
		Seed: 7, Conversations: n, APIKey: key, NoQuirks: true,
		Start: time.Now().Add(-2 * time.Hour),
	})
	return &prodEnv{sim: sim, url: url, dir: t.TempDir(), key: key}
}

// config is a fast configuration for the environment: no client rate limit,
// no settle lag, the warehouse in the folder.
func (p *prodEnv) config() Config {
	c := defaultConfig()
	c.Source.BaseURL = p.url
	c.Source.Start = p.sim.Now().Add(-200 * 24 * time.Hour).Truncate(time.Hour)
	c.Source.SettleLag = 0
	c.Source.RateLimit = RateConfig{}
	c.Source.Retry.MaxElapsed = 10 * time.Second
	c.Warehouse.Path = filepath.Join(p.dir, "w.duckdb")
	c.Log.Format = "json"
	return c
}

// write saves c as a config file (the API key stays out: it comes from the
// environment) and returns its path.
func (p *prodEnv) write(t *testing.T, name string, c Config) string {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// getenv is the environment of a run: the API key.
func (p *prodEnv) getenv(k string) string {
	if k == "ONCEHUB_API_KEY" {
		return p.key
	}
	return ""
}

// result is what a command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs the program in process.
func runCmd(ctx context.Context, getenv func(string) string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(ctx, args, getenv, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// openDuckDB opens a warehouse for the test's checks; closed at cleanup.
func openDuckDB(t *testing.T, path string) *load.DuckDB {
	t.Helper()
	d, err := load.OpenDuckDB(context.Background(), path, load.DuckDBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// stored is a conversation as the warehouse has it.
type stored struct {
	updated  time.Time
	answers  int64 // answer_count
	children int64 // rows in conversation_answers
	runID    string
}

func readConversations(t *testing.T, db *sql.DB) map[string]stored {
	t.Helper()
	rows, err := db.Query(`SELECT c.id, c.last_updated_time, c.answer_count, c.run_id,
		(SELECT count(*) FROM conversation_answers a WHERE a.conversation_id = c.id)
		FROM conversations c`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]stored{}
	for rows.Next() {
		var id string
		var s stored
		if err := rows.Scan(&id, &s.updated, &s.answers, &s.runID, &s.children); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertConverged checks the warehouse holds exactly the simulator's
// conversations, each in its current version with all its answers.
func assertConverged(t *testing.T, db *sql.DB, sim *oncehubtest.Server) {
	t.Helper()
	got := readConversations(t, db)
	truth := sim.Conversations()
	if len(got) != len(truth) {
		t.Errorf("warehouse has %d conversations, the source %d", len(got), len(truth))
	}
	bad := 0
	for _, c := range truth {
		s, ok := got[c.ID]
		if !ok || !s.updated.Equal(c.LastUpdatedTime) || s.answers != int64(len(c.Answers)) || s.children != s.answers {
			if bad++; bad <= 3 {
				t.Errorf("%s: stored %+v (present %v), source updated %s with %d answers", c.ID, s, ok, c.LastUpdatedTime, len(c.Answers))
			}
		}
	}
	if bad > 3 {
		t.Errorf("... %d conversations differ in all", bad)
	}
}

// ledgerRow is a row of _convsync_runs.
type ledgerRow struct {
	mode, status                                  string
	pages, apiCalls, inserted, updated, unchanged int64
	errText                                       sql.NullString
}

func readLedger(t *testing.T, db *sql.DB) map[string]ledgerRow {
	t.Helper()
	rows, err := db.Query(`SELECT run_id, mode, status, pages, api_calls, inserted, updated, unchanged, error FROM _convsync_runs`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]ledgerRow{}
	for rows.Next() {
		var id string
		var r ledgerRow
		if err := rows.Scan(&id, &r.mode, &r.status, &r.pages, &r.apiCalls, &r.inserted, &r.updated, &r.unchanged, &r.errText); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
