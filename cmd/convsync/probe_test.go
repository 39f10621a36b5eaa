package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbe_AnAPIThatBehaves: against the simulator every check passes, in
// a handful of calls, and nothing is written.
func TestProbe_AnAPIThatBehaves(t *testing.T) {
	p := newProdEnv(t, 250)
	r := runCmd(context.Background(), p.getenv, "probe", "--config", p.write(t, "c.yaml", p.config()))
	if r.code != exitOK {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "  ok  "); n != 5 || strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "5 checks, 0 failed") {
		t.Errorf("want 5 checks passed:\n%s", r.stdout)
	}
	if calls := p.sim.Counts().Total; calls > 6 {
		t.Errorf("%d API calls, want at most 6", calls)
	}
}

// TestProbe_DateGranularFilters: an API whose last_updated_time filters
// compare dates only (reported of OnceHub's other lists, unverified) fails
// the filter checks, saying so, with exit 1: an incremental sync against it
// would miss data silently.
func TestProbe_DateGranularFilters(t *testing.T) {
	p := newProdEnv(t, 250)
	dates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, k := range []string{"last_updated_time.gt", "last_updated_time.lt"} {
			if v, err := time.Parse(time.RFC3339Nano, q.Get(k)); err == nil {
				q.Set(k, v.Truncate(24*time.Hour).Format("2006-01-02T15:04:05.000Z"))
			}
		}
		r.URL.RawQuery = q.Encode()
		p.sim.ServeHTTP(w, r)
	}))
	defer dates.Close()
	cfg := p.config()
	cfg.Source.BaseURL = dates.URL + "/v2"
	r := runCmd(context.Background(), p.getenv, "probe", "--config", p.write(t, "c.yaml", cfg))
	if r.code != exitFailure || !strings.Contains(r.stdout, "FAIL  filters") || !strings.Contains(r.stdout, "compare dates only") {
		t.Errorf("exit %d, want %d and a failed filter check:\n%s%s", r.code, exitFailure, r.stdout, r.stderr)
	}
}

// TestProbe_NeedsAKey: without a key the probe stops before any call, as a
// configuration problem; a key file that cannot be read is listed with its
// line beside the file's other problems.
func TestProbe_NeedsAKey(t *testing.T) {
	p := newProdEnv(t, 5)
	r := runCmd(context.Background(), envOf(nil), "probe", "--config", p.write(t, "c.yaml", p.config()))
	if r.code != exitConfig || !strings.Contains(r.stderr, "source.api_key") || p.sim.Counts().Total != 0 {
		t.Errorf("exit %d after %d calls, want %d naming source.api_key:\n%s", r.code, p.sim.Counts().Total, exitConfig, r.stderr)
	}
	bad := writeFile(t, "bad.yaml", "source:\n  base_url: "+p.url+"\n  start: 2025-01-01T00:00:00Z\n  api_key_file: /nonexistent/key\n  page_size: 500\n")
	r = runCmd(context.Background(), envOf(nil), "probe", "--config", bad)
	if r.code != exitConfig || !strings.Contains(r.stderr, "source.api_key_file (line 4)") || !strings.Contains(r.stderr, "source.page_size (line 5)") {
		t.Errorf("exit %d, want both problems with their lines:\n%s", r.code, r.stderr)
	}
}
