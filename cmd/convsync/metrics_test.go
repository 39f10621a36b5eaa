package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPush_RefusesRedirects: a Pushgateway URL that redirects fails the
// push, naming the target. Followed, a 301 or 302 turned the POST into a
// GET that any 200 answered (the push "succeeded" and nothing was pushed),
// and the basic auth went along to another port of the same host.
func TestPush_RefusesRedirects(t *testing.T) {
	var reached atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer other.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, code)
		}))
		c := MetricsConfig{Pushgateway: URL(strings.Replace(gw.URL, "http://", "http://pusher:s3cret@", 1)), Job: "convsync"}
		err := pushMetrics(context.Background(), c, newMetrics().reg)
		gw.Close()
		if err == nil || !strings.Contains(err.Error(), other.URL) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%d: push error %v, want one naming the redirect's target %s, without the password", code, err, other.URL)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests, want none", n)
	}
}

// TestSync_TextfileKeepsLastSuccessWhenRunDidNotStart: a sync that did not
// start (its warehouse unopenable, its cursor unreadable) rewrites the
// textfile as a failed run and keeps the last success the file had. The
// file is rewritten whole: the metric vanished, and with it an alert on its
// age, just when runs stopped succeeding.
func TestSync_TextfileKeepsLastSuccessWhenRunDidNotStart(t *testing.T) {
	for name, spoil := range notStarting {
		t.Run(name, func(t *testing.T) {
			p := newProdEnv(t, 10)
			cfg := p.config()
			cfg.Metrics.Textfile = filepath.Join(p.dir, "convsync.prom")
			path := p.write(t, "c.yaml", cfg)
			if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitOK {
				t.Fatalf("sync: %d %s", r.code, r.stderr)
			}
			want := readProm(t, cfg.Metrics.Textfile)["convsync_last_success_timestamp_seconds"]
			spoil(t, cfg.Warehouse.Path)
			if r := runCmd(context.Background(), p.getenv, "sync", "--config", path); r.code != exitFailure {
				t.Fatalf("sync: %d, want %d: %s", r.code, exitFailure, r.stderr)
			}
			m := readProm(t, cfg.Metrics.Textfile)
			if got, ok := m["convsync_last_success_timestamp_seconds"]; !ok || got != want || m["convsync_last_run_success"] != 0 {
				t.Errorf("last success %v (present %v), want %v; last run success %v, want 0", got, ok, want, m["convsync_last_run_success"])
			}
		})
	}
}

func readProm(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return parseProm(t, f)
}
