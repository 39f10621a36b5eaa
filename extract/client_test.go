package extract_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
)

const testKey = "sk_test_SECRET-KEY-1234"

// fakeAPI is an httptest server whose answers a test scripts: respond is
// called with the 0-based number of the request. It records every request.
type fakeAPI struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []*http.Request
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newFakeAPI(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{respond: respond}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		f.mu.Unlock()
		w.Header().Set("Request-Id", fmt.Sprintf("req_%04d", n))
		w.Header().Set("Content-Type", "application/json")
		f.respond(n, w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.reqs...)
}

// client returns a Client for f with millisecond retries; opts may override.
func (f *fakeAPI) client(t *testing.T, opts ...func(*extract.Options)) *extract.Client {
	t.Helper()
	o := extract.Options{
		BaseURL:      f.URL + "/v2",
		APIKey:       testKey,
		RetryInitial: time.Millisecond,
		RetryMax:     5 * time.Millisecond,
		MaxRetries:   4,
	}
	for _, fn := range opts {
		fn(&o)
	}
	c, err := extract.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// item is a valid list item with the given id.
func item(id string) string {
	return fmt.Sprintf(`{"object":"conversation","id":%q,"creation_time":"2025-03-05T10:41:02.117Z",`+
		`"last_updated_time":"2025-03-05T10:41:37.540Z","status":"closed","contact":"CTC-1","owner":"USR-1",`+
		`"bot":"BOT-1","website":"WEB-1","audience":null,"answers":[],"bookings":[]}`, id)
}

// list is a list envelope with items of the given ids; hasMore "" omits it.
func list(hasMore string, ids ...string) string {
	items := make([]string, len(ids))
	for i, id := range ids {
		items[i] = item(id)
	}
	s := `{"object":"list","data":[` + strings.Join(items, ",") + `]`
	if hasMore != "" {
		s += `,"has_more":` + hasMore
	}
	return s + "}"
}

// nextLinkTo sets the Link header the way OnceHub's example does (no /v2).
func nextLinkTo(w http.ResponseWriter, after string) {
	w.Header().Set("Link", fmt.Sprintf(`<https://api.oncehub.com/conversations?after=%s&limit=100&expand=data.contact,data.owner>; rel="next", <https://api.oncehub.com/conversations?before=X&limit=100>; rel="previous"`, after))
}

func apiError(w http.ResponseWriter, status int, typ, msg, param string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":%q,"message":%q,"param":%q}`, typ, msg, param)
}

// collect runs Pages and returns the ids of every conversation seen.
func collect(t *testing.T, c *extract.Client, w extract.Window, after string) ([]string, []extract.Page, error) {
	t.Helper()
	var ids []string
	var pages []extract.Page
	err := c.Pages(context.Background(), w, after, func(p extract.Page) error {
		pages = append(pages, p)
		for _, cv := range p.Conversations {
			ids = append(ids, cv.ID)
		}
		return nil
	})
	return ids, pages, err
}

func TestClient_Pages(t *testing.T) {
	tests := []struct {
		name      string
		respond   func(n int, w http.ResponseWriter, r *http.Request)
		wantIDs   string
		wantCalls int
	}{
		{
			name: "StopsWhenHasMoreFalse",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					nextLinkTo(w, "CVR-2")
					fmt.Fprint(w, list("true", "CVR-1", "CVR-2"))
					return
				}
				// A stray Link must not keep paging once has_more is false.
				nextLinkTo(w, "CVR-3")
				fmt.Fprint(w, list("false", "CVR-3"))
			},
			wantIDs: "CVR-1 CVR-2 CVR-3", wantCalls: 2,
		},
		{
			name: "StopsWithoutNextLink",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					nextLinkTo(w, "CVR-2")
					fmt.Fprint(w, list("", "CVR-1", "CVR-2"))
					return
				}
				fmt.Fprint(w, list("", "CVR-3"))
			},
			wantIDs: "CVR-1 CVR-2 CVR-3", wantCalls: 2,
		},
		{
			name: "StopsOnEmptyPage",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					nextLinkTo(w, "CVR-2")
					fmt.Fprint(w, list("true", "CVR-1", "CVR-2"))
					return
				}
				nextLinkTo(w, "CVR-2")
				fmt.Fprint(w, list("true"))
			},
			wantIDs: "CVR-1 CVR-2", wantCalls: 2,
		},
		{
			name: "EmptyWindowTakesOneCall",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, list("false"))
			},
			wantIDs: "", wantCalls: 1,
		},
		{
			name: "HasMoreWithoutLinkGoesOnFromLastItem",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					fmt.Fprint(w, list("true", "CVR-1", "CVR-2"))
					return
				}
				if got := r.URL.Query().Get("after"); got != "CVR-2" {
					apiError(w, 400, "invalid_request_error", "after="+got, "after")
					return
				}
				fmt.Fprint(w, list("false", "CVR-3"))
			},
			wantIDs: "CVR-1 CVR-2 CVR-3", wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, tt.respond)
			ids, _, err := collect(t, api.client(t), extract.Window{}, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ids, " "); got != tt.wantIDs {
				t.Errorf("ids = %q, want %q", got, tt.wantIDs)
			}
			if got := len(api.requests()); got != tt.wantCalls {
				t.Errorf("API calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestClient_Pages_FollowsLinkCursorNotLinkURL(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			// The Link's after differs from the last id: the server's word wins.
			nextLinkTo(w, "CVR-CURSOR")
			fmt.Fprint(w, list("true", "CVR-1", "CVR-2"))
		default:
			fmt.Fprint(w, list("false", "CVR-3"))
		}
	})
	lo := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	win := extract.Window{Lo: lo, Hi: lo.Add(time.Hour)}
	c := api.client(t, func(o *extract.Options) { o.Expand = []string{"contact", "data.owner"} })
	_, pages, err := collect(t, c, win, "")
	if err != nil {
		t.Fatal(err)
	}
	if pages[0].Next != "CVR-CURSOR" || pages[1].Next != "" {
		t.Errorf("Next = %q, %q; want CVR-CURSOR, \"\"", pages[0].Next, pages[1].Next)
	}
	if pages[0].RequestID != "req_0000" {
		t.Errorf("RequestID = %q, want req_0000", pages[0].RequestID)
	}
	reqs := api.requests()
	for i, r := range reqs {
		q := r.URL.Query()
		want := url.Values{
			"limit":                {"100"},
			"last_updated_time.gt": {"2025-02-28T23:59:59.999Z"},
			"last_updated_time.lt": {"2025-03-01T01:00:00.000Z"},
			"expand":               {"data.contact,data.owner"},
		}
		if i == 1 {
			want.Set("after", "CVR-CURSOR")
		}
		if q.Encode() != want.Encode() {
			t.Errorf("request %d query\n got %s\nwant %s", i, q.Encode(), want.Encode())
		}
		if q.Has("before") {
			t.Errorf("request %d sends before", i)
		}
		if r.URL.Path != "/v2/conversations" {
			t.Errorf("request %d path = %s, want /v2/conversations", i, r.URL.Path)
		}
		if r.Header.Get("API-Key") != testKey || r.Header.Get("Accept") != "application/json" {
			t.Errorf("request %d headers = %v", i, r.Header)
		}
	}
}

func TestClient_Pages_ResumesAfterCursor(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, list("false", "CVR-9"))
	})
	c := api.client(t, func(o *extract.Options) { o.PageSize = 7 })
	if _, _, err := collect(t, c, extract.Window{}, "CVR-8"); err != nil {
		t.Fatal(err)
	}
	q := api.requests()[0].URL.Query()
	if q.Get("after") != "CVR-8" || q.Get("limit") != "7" || q.Has("before") || q.Has("last_updated_time.gt") {
		t.Errorf("query = %s", q.Encode())
	}
}

// TestClient_Pages_GoneCursorRereadsTheWindow checks that a cursor the API
// no longer knows (its conversation deleted since it was saved) does not
// stop the read: the window is read again from its first page. A cursor
// that keeps failing ends the read after maxCursorRestarts rereads.
func TestClient_Pages_GoneCursorRereadsTheWindow(t *testing.T) {
	gone := func(w http.ResponseWriter, after string) {
		apiError(w, 400, "invalid_request_error", fmt.Sprintf("No such conversation: '%s'", after), "after")
	}
	t.Run("Resumed", func(t *testing.T) {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if after := r.URL.Query().Get("after"); after != "" {
				gone(w, after)
				return
			}
			fmt.Fprint(w, list("false", "CVR-A", "CVR-B"))
		})
		got, _, err := collect(t, api.client(t), extract.Window{}, "CVR-GONE")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "CVR-A,CVR-B" || len(api.requests()) != 2 || api.requests()[1].URL.Query().Has("after") {
			t.Errorf("read %v in %d requests, want CVR-A,CVR-B in 2, the second without a cursor", got, len(api.requests()))
		}
	})
	t.Run("KeepsFailing", func(t *testing.T) {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if after := r.URL.Query().Get("after"); after != "" {
				gone(w, after)
				return
			}
			nextLinkTo(w, "CVR-A")
			fmt.Fprint(w, list("true", "CVR-A"))
		})
		_, pages, err := collect(t, api.client(t), extract.Window{}, "")
		var apiErr *extract.APIError
		if !errors.As(err, &apiErr) || apiErr.Param != "after" || !strings.HasPrefix(err.Error(), "fetch page after CVR-A: ") {
			t.Fatalf("err = %v, want the API's refusal of cursor CVR-A", err)
		}
		// The first page and its cursor, then three rereads of both.
		if len(pages) != 4 || len(api.requests()) != 8 {
			t.Errorf("%d pages in %d requests, want 4 in 8", len(pages), len(api.requests()))
		}
	})
}

// TestClient_Pages_ExpandFallsBackToBareNames checks that when the list
// endpoint rejects the documented "data."-prefixed expand paths, the client
// asks again with bare names, once, and keeps them for later requests; and
// that it does not loop when those are rejected too.
func TestClient_Pages_ExpandFallsBackToBareNames(t *testing.T) {
	expand := func(o *extract.Options) { o.Expand = []string{"contact", "owner"} }
	t.Run("Prefixed rejected", func(t *testing.T) {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			switch {
			case strings.Contains(q.Get("expand"), "data."):
				apiError(w, 400, "invalid_request_error", "This property cannot be expanded: data.contact", "expand")
			case q.Get("after") == "":
				nextLinkTo(w, "CVR-A")
				fmt.Fprint(w, list("true", "CVR-A"))
			default:
				fmt.Fprint(w, list("false", "CVR-B"))
			}
		})
		c := api.client(t, expand)
		for run := 1; run <= 2; run++ {
			got, _, err := collect(t, c, extract.Window{}, "")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != "CVR-A,CVR-B" {
				t.Errorf("run %d read %v", run, got)
			}
		}
		var sent []string
		for _, r := range api.requests() {
			sent = append(sent, r.URL.Query().Get("expand"))
		}
		want := "data.contact,data.owner|contact,owner|contact,owner|contact,owner|contact,owner"
		if strings.Join(sent, "|") != want {
			t.Errorf("expand sent %q, want %q", strings.Join(sent, "|"), want)
		}
	})
	t.Run("Both rejected", func(t *testing.T) {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
			apiError(w, 400, "invalid_request_error", "This property cannot be expanded: contact", "expand")
		})
		_, _, err := collect(t, api.client(t, expand), extract.Window{}, "")
		var apiErr *extract.APIError
		if !errors.As(err, &apiErr) || apiErr.Param != "expand" || len(api.requests()) != 2 {
			t.Errorf("err = %v after %d requests, want the refusal after 2", err, len(api.requests()))
		}
	})
}

func TestClient_Pages_CallbackErrorStops(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		nextLinkTo(w, fmt.Sprintf("CVR-%d", n))
		fmt.Fprint(w, list("true", fmt.Sprintf("CVR-%d", n)))
	})
	stop := errors.New("sink full")
	err := api.client(t).Pages(context.Background(), extract.Window{}, "", func(extract.Page) error { return stop })
	if err != stop {
		t.Fatalf("err = %v, want the callback's error as is", err)
	}
	if got := len(api.requests()); got != 1 {
		t.Errorf("API calls = %d, want 1", got)
	}
}

func TestClient_Pages_RepeatedCursorIsAnError(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		nextLinkTo(w, "CVR-1")
		fmt.Fprint(w, list("true", "CVR-1"))
	})
	_, _, err := collect(t, api.client(t), extract.Window{}, "")
	if err == nil || !strings.Contains(err.Error(), "repeated cursor CVR-1") {
		t.Fatalf("err = %v, want a repeated-cursor error", err)
	}
	if got := len(api.requests()); got != 2 {
		t.Errorf("API calls = %d, want 2", got)
	}
}

func TestClient_Pages_Retries(t *testing.T) {
	fail := func(failures int, fail func(w http.ResponseWriter)) func(int, http.ResponseWriter, *http.Request) {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			if n < failures {
				fail(w)
				return
			}
			fmt.Fprint(w, list("false", "CVR-1"))
		}
	}
	tests := []struct {
		name            string
		respond         func(int, http.ResponseWriter, *http.Request)
		wantRetries     int64
		wantRateLimited int64
	}{
		{"RetriesAfter429", fail(2, func(w http.ResponseWriter) {
			apiError(w, 429, "rate_limit_error", "Request rate limit exceeded", "")
		}), 2, 2},
		{"RetriesAfter500", fail(1, func(w http.ResponseWriter) {
			apiError(w, 500, "api_error", "boom", "")
		}), 1, 0},
		{"RetriesAfter503WithHTMLBody", fail(3, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			fmt.Fprint(w, "<html>Service Unavailable</html>")
		}), 3, 0},
		{"RetriesAfterNetworkError", fail(2, func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}), 2, 0},
		{"RetriesAfterTruncatedBody", fail(1, func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "500")
			fmt.Fprint(w, `{"object":"list","data":[`)
		}), 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, tt.respond)
			c := api.client(t)
			ids, _, err := collect(t, c, extract.Window{}, "")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ids, " ") != "CVR-1" {
				t.Errorf("ids = %v", ids)
			}
			want := extract.Stats{APICalls: tt.wantRetries + 1, Retries: tt.wantRetries, RateLimited: tt.wantRateLimited, Pages: 1}
			if got := c.Stats(); got != want {
				t.Errorf("Stats = %+v, want %+v", got, want)
			}
		})
	}
}

// TestClient_Pages_RetriesARequestTimeout: the HTTP client's timeout (an
// error wrapping context.DeadlineExceeded) is retried like any network
// error, while the caller's context is live.
func TestClient_Pages_RetriesARequestTimeout(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			select { // hang past the client's timeout
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		fmt.Fprint(w, list("false", "CVR-1"))
	})
	c := api.client(t, func(o *extract.Options) { o.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} })
	got, _, err := collect(t, c, extract.Window{}, "")
	if err != nil || strings.Join(got, ",") != "CVR-1" || len(api.requests()) != 2 || c.Stats().Retries != 1 {
		t.Errorf("read %v, err %v, in %d requests and %d retries; want CVR-1 after one retry", got, err, len(api.requests()), c.Stats().Retries)
	}
}

func TestClient_Pages_GivesUpAfterMaxRetries(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		apiError(w, 502, "api_error", "bad gateway", "")
	})
	c := api.client(t, func(o *extract.Options) { o.MaxRetries = 3 })
	_, _, err := collect(t, c, extract.Window{}, "CVR-7")
	want := "fetch page after CVR-7: oncehub: 502 api_error: bad gateway (request req_0003)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if got := len(api.requests()); got != 4 {
		t.Errorf("API calls = %d, want 4 (1 + 3 retries)", got)
	}
}

func TestClient_Pages_NoRetriesWhenNegative(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		apiError(w, 503, "api_error", "down", "")
	})
	c := api.client(t, func(o *extract.Options) { o.MaxRetries = -1 })
	if _, _, err := collect(t, c, extract.Window{}, ""); err == nil {
		t.Fatal("want an error")
	}
	if got := len(api.requests()); got != 1 {
		t.Errorf("API calls = %d, want 1", got)
	}
}

func TestClient_Pages_HonoursRetryAfter(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			apiError(w, 429, "rate_limit_error", "Request rate limit exceeded", "")
			return
		}
		fmt.Fprint(w, list("false", "CVR-1"))
	})
	start := time.Now()
	if _, _, err := collect(t, api.client(t), extract.Window{}, ""); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("retried after %v, want at least the Retry-After of 1s", el)
	}
}

func TestClient_Pages_RetryAfterBeyondMaxElapsedGivesUp(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		apiError(w, 429, "rate_limit_error", "Request rate limit exceeded", "")
	})
	c := api.client(t, func(o *extract.Options) { o.MaxElapsed = time.Second })
	start := time.Now()
	_, _, err := collect(t, c, extract.Window{}, "")
	var apiErr *extract.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 429 || apiErr.RetryAfter != time.Hour {
		t.Fatalf("err = %v, want the 429 with its Retry-After", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("took %v, want no waiting for a Retry-After past MaxElapsed", el)
	}
}

func TestClient_Pages_PermanentErrors(t *testing.T) {
	body400, err := os.ReadFile("testdata/error-400-invalid-request.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request)
		want    extract.APIError
		wantMsg string
	}{
		{
			name: "StopsAt401",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				apiError(w, 401, "authentication_error", "Invalid API key.", "")
			},
			want:    extract.APIError{Status: 401, Type: "authentication_error", Message: "Invalid API key.", RequestID: "req_0000"},
			wantMsg: "fetch first page: oncehub: 401 authentication_error: Invalid API key. (request req_0000)",
		},
		{
			name: "SurfacesParamOf400",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(400)
				w.Write(body400)
			},
			want: extract.APIError{Status: 400, Type: "invalid_request_error", Param: "limit", RequestID: "req_0000",
				Message: "Out of range value: 500. Please provide a number between 1 and 100."},
			wantMsg: "fetch first page: oncehub: 400 invalid_request_error: Out of range value: 500. Please provide a number between 1 and 100. (param limit) (request req_0000)",
		},
		{
			name: "StopsAt404WithoutBody",
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(404)
			},
			want:    extract.APIError{Status: 404, RequestID: "req_0000"},
			wantMsg: "fetch first page: oncehub: 404: Not Found (request req_0000)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, tt.respond)
			_, _, err := collect(t, api.client(t), extract.Window{}, "")
			var apiErr *extract.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if *apiErr != tt.want {
				t.Errorf("APIError = %+v, want %+v", *apiErr, tt.want)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Error() =\n %s\nwant\n %s", err, tt.wantMsg)
			}
			if got := len(api.requests()); got != 1 {
				t.Errorf("API calls = %d, want 1 (no retry)", got)
			}
		})
	}
}

func TestClient_MalformedEnvelopeNamesTheRequest(t *testing.T) {
	tests := map[string]string{
		"NotJSON":         `<html>`,
		"WrongObject":     `{"object":"conversation","id":"CVR-1"}`,
		"DataNotAnArray":  `{"object":"list","data":{"id":"CVR-1"}}`,
		"HasMoreNotABool": `{"object":"list","data":[],"has_more":"yes"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
			_, _, err := collect(t, api.client(t), extract.Window{}, "CVR-5")
			if err == nil || !strings.HasPrefix(err.Error(), "fetch page after CVR-5: malformed list envelope") ||
				!strings.Contains(err.Error(), "(request req_0000)") {
				t.Fatalf("err = %v", err)
			}
			if got := len(api.requests()); got != 1 {
				t.Errorf("API calls = %d, want 1", got)
			}
		})
	}
}

func TestClient_APIKeyNeverInErrors(t *testing.T) {
	responders := map[string]func(int, http.ResponseWriter, *http.Request){
		"401": func(n int, w http.ResponseWriter, r *http.Request) {
			apiError(w, 401, "authentication_error", "Invalid API key.", "")
		},
		"500":       func(n int, w http.ResponseWriter, r *http.Request) { apiError(w, 500, "api_error", "x", "") },
		"malformed": func(n int, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{") },
		"network": func(n int, w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		},
	}
	for name, respond := range responders {
		t.Run(name, func(t *testing.T) {
			api := newFakeAPI(t, respond)
			c := api.client(t, func(o *extract.Options) { o.MaxRetries = 1 })
			_, _, err := collect(t, c, extract.Window{}, "")
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the API key: %v", err)
			}
			if _, err := c.Check(context.Background()); err == nil || strings.Contains(err.Error(), testKey) {
				t.Errorf("Check error = %v", err)
			}
		})
	}
	if _, err := extract.New(extract.Options{APIKey: "bad\nkey" + testKey}); err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("New error = %v, want a refusal that does not echo the key", err)
	}
}

func TestClient_CancelStopsWaiting(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(*extract.Options)
		respond func(int, http.ResponseWriter, *http.Request)
	}{
		{
			name: "InRetryAfter",
			opts: func(o *extract.Options) {},
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "30")
				apiError(w, 429, "rate_limit_error", "Request rate limit exceeded", "")
			},
		},
		{
			name: "InRateLimiter",
			opts: func(o *extract.Options) { o.RatePerSecond = 0.01 },
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				nextLinkTo(w, fmt.Sprintf("CVR-%d", n))
				fmt.Fprint(w, list("true", fmt.Sprintf("CVR-%d", n)))
			},
		},
		{
			name: "InSlowResponse",
			opts: func(o *extract.Options) {},
			respond: func(n int, w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, tt.respond)
			c := api.client(t, tt.opts, func(o *extract.Options) { o.MaxElapsed = time.Minute })
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			err := c.Pages(ctx, extract.Window{}, "", func(extract.Page) error { return nil })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			if el := time.Since(start); el > time.Second {
				t.Errorf("returned %v after start, want promptly after the cancel at 100ms", el)
			}
		})
	}
}

func TestClient_Get(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/conversations/CVR-7Q2KD9LM4X" {
			apiError(w, 404, "invalid_request_error", "No such conversation: 'x'", "id")
			return
		}
		if n == 0 {
			fmt.Fprint(w, item("CVR-7Q2KD9LM4X"))
			return
		}
		fmt.Fprint(w, `{"id":"CVR-7Q2KD9LM4X","object":"conversation","deleted":true}`)
	})
	c := api.client(t, func(o *extract.Options) { o.Expand = []string{"contact", "bot"} })
	conv, err := c.Get(context.Background(), "CVR-7Q2KD9LM4X")
	if err != nil {
		t.Fatal(err)
	}
	if conv.ID != "CVR-7Q2KD9LM4X" || conv.Status != "closed" {
		t.Errorf("conversation = %+v", conv)
	}
	if got := api.requests()[0].URL.Query().Get("expand"); got != "contact,bot" {
		t.Errorf("expand = %q, want contact,bot (no data. prefix on a retrieve)", got)
	}
	if _, err := c.Get(context.Background(), "CVR-7Q2KD9LM4X"); err == nil || !strings.Contains(err.Error(), "missing creation_time") {
		t.Errorf("deleted conversation: err = %v", err)
	}
	_, err = c.Get(context.Background(), "CVR-NOPE")
	var apiErr *extract.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Param != "id" {
		t.Errorf("missing conversation: err = %v", err)
	}
}

func TestClient_Check(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/test" || r.Header.Get("API-Key") != testKey {
			apiError(w, 401, "authentication_error", "Invalid API key.", "")
			return
		}
		fmt.Fprint(w, `{"message":"The API key is valid for account: admin@example.com"}`)
	})
	msg, err := api.client(t).Check(context.Background())
	if err != nil || msg != "The API key is valid for account: admin@example.com" {
		t.Errorf("Check = %q, %v", msg, err)
	}
}

func TestNew_RejectsBadOptions(t *testing.T) {
	tests := map[string]extract.Options{
		"NoKey":         {},
		"PageSizeOver":  {APIKey: "k", PageSize: 101},
		"PageSizeUnder": {APIKey: "k", PageSize: -1},
		"BaseURL":       {APIKey: "k", BaseURL: "api.oncehub.com/v2"},
		"NegativeRate":  {APIKey: "k", RatePerSecond: -1},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := extract.New(o); err == nil {
				t.Error("want an error")
			}
		})
	}
}

// TestClient_RedirectIsNotFollowed: a redirect, to another host above all,
// must not carry the API-Key header there (net/http forwards custom
// headers on every redirect); a redirect loop must not make uncounted,
// unlimited requests.
func TestClient_RedirectIsNotFollowed(t *testing.T) {
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

// TestClient_Pages_CursorCycleIsAnError: pages whose cursors cycle (A → B → A) would
// be read forever; the API repeating an older cursor is an error, as
// repeating the current one is.
func TestClient_Pages_CursorCycleIsAnError(t *testing.T) {
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

// TestClient_Pages_NotAListIsAnError: a 200 whose JSON is not a list envelope (a
// proxy's or another API's answer) must fail the read, not pass for an
// empty last page that ends the window and moves the watermark over it.
func TestClient_Pages_NotAListIsAnError(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"status":"ok"}`, `{"has_more":false}`} {
		api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
		_, pages, err := collect(t, api.client(t), extract.Window{}, "")
		if err == nil || !strings.Contains(err.Error(), "malformed list envelope") {
			t.Errorf("%s: err = %v after %d pages, want a malformed list envelope", body, err, len(pages))
		}

	}
}

// TestClient_NoRequestIDNamesNone: an answer without a Request-Id header
// (a proxy's) gives an error that does not end in "(request )".
func TestClient_NoRequestIDNamesNone(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	defer srv.Close()
	c, err := extract.New(extract.Options{BaseURL: srv.URL, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Pages(context.Background(), extract.Window{}, "", func(extract.Page) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "malformed list envelope") || strings.Contains(err.Error(), "(request") {
		t.Errorf("err = %v, want a malformed envelope without a request id", err)
	}
}

// TestClient_EchoedKeyIsNotInErrors: a gateway that echoes the request's
// API-Key in its error page must not put the key in convsync's error (which
// is logged and stored in the ledger).
func TestClient_EchoedKeyIsNotInErrors(t *testing.T) {
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

// TestClient_Pages_EmptyPageWithNextLinkGoesOn: a page emptied after it was cut (the
// API drops deleted conversations from lists) that still says has_more with
// a Link to a new cursor must not end the window: the pages after it would
// be lost without a word.
func TestClient_Pages_EmptyPageWithNextLinkGoesOn(t *testing.T) {
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

// TestClient_Pages_OversizedBodySaysSo: a 2xx body past the client's 64 MiB bound
// fails with an error that says so, at once, not as malformed JSON.
func TestClient_Pages_OversizedBodySaysSo(t *testing.T) {
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

// TestClient_Pages_RetryAfterPastTheBudgetSaysSo: a 429 whose Retry-After is past
// MaxElapsed ends the read at once with an error that says what the API
// asked, and a Retry-After too large for a Duration is not read as absent
// (which retried at once, spending calls the API had refused).
func TestClient_Pages_RetryAfterPastTheBudgetSaysSo(t *testing.T) {
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

// TestClient_Pages_HugeRetryAfterLateInTheRetriesIsNotWaited: the check of a
// Retry-After against MaxElapsed added it to the time spent, which wraps
// round for a Retry-After near the largest Duration once a second has
// passed: the client then waited it (292 years).
func TestClient_Pages_HugeRetryAfterLateInTheRetriesIsNotWaited(t *testing.T) {
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

// TestClient_EchoedKeyCutByTheMessageIsNotInErrors: an error page that is
// not JSON is kept as its first 200 bytes; one that echoes the API-Key
// across that cut must not leave the key's first part in the error.
func TestClient_EchoedKeyCutByTheMessageIsNotInErrors(t *testing.T) {
	api := newFakeAPI(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "<html>%s API-Key: %s</html>", strings.Repeat("x", 170), r.Header.Get("API-Key"))
	})
	_, _, err := collect(t, api.client(t, func(o *extract.Options) { o.MaxRetries = -1 }), extract.Window{}, "")
	if err == nil || strings.Contains(err.Error(), testKey[:len(testKey)/2]) {
		t.Errorf("err = %v, want no part of the key %s", err, testKey)
	}
}
