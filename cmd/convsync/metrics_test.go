package main

import (
	"context"
	"net/http"
	"net/http/httptest"
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
