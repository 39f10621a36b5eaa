package extract_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
)

// TestQA_RedirectIsNotFollowed: a redirect, to another host above all,
// must not carry the API-Key header there (net/http forwards custom
// headers on every redirect); a redirect loop must not make uncounted,
// unlimited requests.
func TestQA_RedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		leaked.Store(leaked.Load() || r.Header.Get("API-Key") != "")
		fmt.Fprint(w, list("false", "CVR-1"))
	}))
	defer other.Close()
	for _, code := range []int{301, 302, 307, 308} {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.RequestURI(), code)
		})
		c := api.client(t)
		_, _, err := collect(t, c, extract.Window{}, "")
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("oncehub: %d", code)) || !strings.Contains(err.Error(), "redirect") ||
			!strings.Contains(err.Error(), other.URL) {
			t.Errorf("%d: err = %v, want the redirect refused, naming where to", code, err)
		}
		if got := len(api.requests()); got != 1 || c.Stats().APICalls != 1 {
			t.Errorf("%d: %d requests (client counted %d), want 1: a redirect is not retried", code, got, c.Stats().APICalls)
		}
	}
	if leaked.Load() || elsewhere.Load() != 0 {
		t.Errorf("the other host got %d requests (API key sent: %v)", elsewhere.Load(), leaked.Load())
	}
	loop := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
	})
	c := loop.client(t)
	if _, _, err := collect(t, c, extract.Window{}, ""); err == nil {
		t.Error("redirect loop: want an error")
	}
	if got := len(loop.requests()); got != 1 {
		t.Errorf("redirect loop: %d requests (client counted %d), want 1", got, c.Stats().APICalls)
	}
}

// TestQA_CursorCycleIsAnError: pages whose cursors cycle (A → B → A) would
// be read forever; the API repeating an older cursor is an error, as
// repeating the current one is.
func TestQA_CursorCycleIsAnError(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n > 50 {
			apiError(w, 400, "invalid_request_error", "test: too many requests", "")
			return
		}
		next := map[string]string{"": "CVR-A", "CVR-A": "CVR-B", "CVR-B": "CVR-A"}[r.URL.Query().Get("after")]
		nextLinkTo(w, next)
		fmt.Fprint(w, list("true", next))
	})
	_, _, err := collect(t, api.client(t), extract.Window{}, "")
	if err == nil || !strings.Contains(err.Error(), "repeated cursor CVR-A") {
		t.Errorf("err = %v, want a repeated-cursor error", err)
	}
	if got := len(api.requests()); got != 3 {
		t.Errorf("API calls = %d, want 3", got)
	}
}

// TestQA_NotAListIsAnError: a 200 whose JSON is not a list envelope (a
// proxy's or another API's answer) must fail the read, not pass for an
// empty last page that ends the window and moves the watermark over it.
func TestQA_NotAListIsAnError(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"status":"ok"}`, `{"has_more":false}`} {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
		_, pages, err := collect(t, api.client(t), extract.Window{}, "")
		if err == nil || !strings.Contains(err.Error(), "malformed list envelope") {
			t.Errorf("%s: err = %v after %d pages, want a malformed list envelope", body, err, len(pages))
		}
	}
}

// TestQA_EchoedKeyIsNotInErrors: a gateway that echoes the request's
// API-Key in its error page must not put the key in convsync's error (which
// is logged and stored in the ledger).
func TestQA_EchoedKeyIsNotInErrors(t *testing.T) {
	for _, status := range []int{401, 403, 502} {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"type":"authentication_error","message":"Invalid API key %s"}`, r.Header.Get("API-Key"))
		})
		_, _, err := collect(t, api.client(t, func(o *extract.Options) { o.MaxRetries = -1 }), extract.Window{}, "")
		if err == nil || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "Invalid API key") {
			t.Errorf("%d: err = %v, want the message without the key", status, err)
		}
	}
}

// TestQA_EmptyPageWithNextLinkGoesOn: a page emptied after it was cut (the
// API drops deleted conversations from lists) that still says has_more with
// a Link to a new cursor must not end the window: the pages after it would
// be lost without a word.
func TestQA_EmptyPageWithNextLinkGoesOn(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("after") {
		case "":
			nextLinkTo(w, "CVR-2")
			fmt.Fprint(w, list("true", "CVR-1", "CVR-2"))
		case "CVR-2":
			nextLinkTo(w, "CVR-5")
			fmt.Fprint(w, list("true"))
		default:
			fmt.Fprint(w, list("false", "CVR-6"))
		}
	})
	ids, _, err := collect(t, api.client(t), extract.Window{}, "")
	if err != nil || strings.Join(ids, " ") != "CVR-1 CVR-2 CVR-6" || len(api.requests()) != 3 {
		t.Errorf("read %v, err %v, in %d calls; want CVR-1 CVR-2 CVR-6 in 3", ids, err, len(api.requests()))
	}
}

// TestQA_OversizedBodySaysSo: a 2xx body past the client's 64 MiB bound
// fails with an error that says so, at once, not as malformed JSON.
func TestQA_OversizedBodySaysSo(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[`)
		chunk := []byte(strings.Repeat(item("CVR-X")+",", 1000))
		for written := 0; written <= 65<<20; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		fmt.Fprint(w, item("CVR-Y")+`],"has_more":false}`)
	})
	_, _, err := collect(t, api.client(t), extract.Window{}, "")
	if err == nil || !strings.Contains(err.Error(), "64 MiB") {
		t.Errorf("err = %v, want the body's size named", err)
	}
	if got := len(api.requests()); got != 1 {
		t.Errorf("API calls = %d, want 1", got)
	}
}

// TestQA_RetryAfterPastTheBudget: a 429 whose Retry-After is past
// MaxElapsed ends the read at once with an error that says what the API
// asked, and a Retry-After too large for a Duration is not read as absent
// (which retried at once, spending calls the API had refused).
func TestQA_RetryAfterPastTheBudget(t *testing.T) {
	for ra, want := range map[string]string{"86400": "retry after 24h0m0s", "9223372037": "retry after 2562047h"} {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", ra)
			apiError(w, 429, "rate_limit_error", "Request rate limit exceeded", "")
		})
		_, _, err := collect(t, api.client(t, func(o *extract.Options) { o.MaxElapsed = time.Minute }), extract.Window{}, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Retry-After %s: err = %v, want it to say %q", ra, err, want)
		}
		if got := len(api.requests()); got != 1 {
			t.Errorf("Retry-After %s: %d calls, want 1", ra, got)
		}
	}
}

// TestQA_HugeRetryAfterLateInTheRetriesIsNotWaited: the check of a
// Retry-After against MaxElapsed added it to the time spent, which wraps
// round for a Retry-After near the largest Duration once a second has
// passed: the client then waited it (292 years).
func TestQA_HugeRetryAfterLateInTheRetriesIsNotWaited(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			time.Sleep(time.Second)
			apiError(w, 503, "api_error", "busy", "")
			return
		}
		w.Header().Set("Retry-After", "9223372036")
		apiError(w, 429, "rate_limit_error", "Request rate limit exceeded", "")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	err := api.client(t).Pages(ctx, extract.Window{}, "", func(extract.Page) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Errorf("err = %v, want the 429 at once", err)
	}
}
