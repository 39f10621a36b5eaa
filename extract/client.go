// Package extract reads conversations from the OnceHub REST API v2: a Client
// that lists them page by page over a Window of last_updated_time, under the
// API's rate limits, retrying what is transient, and decoding each item on
// its own so that one malformed item becomes a Reject, not a failed run.
package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"golang.org/x/time/rate"
)

// Defaults and OnceHub's documented limits, for callers that fill Options.
const (
	DefaultBaseURL = "https://api.oncehub.com/v2"
	MaxPageSize    = 100

	// OnceHubRatePerSecond and OnceHubRequestsPer5Min are the API's
	// documented rate limits (per account and per client IP).
	OnceHubRatePerSecond   = 5
	OnceHubRequestsPer5Min = 200
)

// maxBody bounds a response body read into memory (a page of 100 expanded
// conversations is well under 1 MB). A 2xx answer past it is an error,
// not retried (errBodyTooLarge); an error page is cut to it.
const maxBody = 64 << 20

// Options configure a Client. Zero values take the documented defaults.
type Options struct {
	BaseURL  string   // API root including /v2; default DefaultBaseURL
	APIKey   string   // required; sent as the API-Key header, never logged
	PageSize int      // items per page, 1..100; default 100
	Expand   []string // list fields to expand: "contact", "owner", "bot", "website", "audience" ("data." prefix optional)

	// RatePerSecond and RequestsPer5Min are the limits the client keeps
	// under (set them to OnceHubRatePerSecond and OnceHubRequestsPer5Min
	// against the real API); 0 means unlimited.
	RatePerSecond   float64
	RequestsPer5Min int

	// Retries of one request on 429, 5xx and network errors: at most
	// MaxRetries (default 8; negative: never retry) and MaxElapsed in total
	// (default 5m), waiting RetryInitial (default 1s) doubling with jitter
	// up to RetryMax (default 30s), or the server's Retry-After if longer.
	// A Retry-After past what is left of MaxElapsed is not waited: the
	// request fails at once, its error saying the wait asked.
	MaxRetries   int
	MaxElapsed   time.Duration
	RetryInitial time.Duration
	RetryMax     time.Duration

	HTTPClient *http.Client // default: a client with a 60 s timeout; its redirects are never followed
	Logger     *slog.Logger // optional; retries are logged at Warn, requests at Debug
}

// Client reads conversations from the OnceHub API v2. It is safe for
// concurrent use; the rate limits are shared by all its calls (they are
// proven for one call in flight at a time, which is how Pages works).
type Client struct {
	base  string
	key   string
	limit int
	// expand is the expand fields, bare ("contact,owner"); "" for none. A
	// list request spells them "data.contact,data.owner", as the docs
	// prescribe, until the endpoint refuses that (bare is set): then bare.
	expand string
	bare   atomic.Bool
	http   *http.Client
	log    *slog.Logger
	get    sendFunc // send wrapped in the rate limits and the retries
	stats  counters
}

// Stats count a Client's work since New. APICalls counts every HTTP request
// sent, retries included (net/http itself silently resends a GET whose
// reused keep-alive connection was closed before any answer; such a resend
// is not counted); Retries the retried attempts; RateLimited the 429
// answers; Pages the list pages returned to a Pages callback.
type Stats struct {
	APICalls    int64
	Retries     int64
	RateLimited int64
	Pages       int64
}

type counters struct{ calls, retries, rateLimited, pages atomic.Int64 }

// New checks opts and returns a Client. It makes no request.
func New(opts Options) (*Client, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:   strings.TrimRight(o.BaseURL, "/"),
		key:    o.APIKey,
		limit:  o.PageSize,
		expand: strings.Join(o.Expand, ","),
		http:   noRedirects(o.HTTPClient),
		log:    o.Logger,
	}
	var limits []*rate.Limiter
	// The slow limit first, the per-second one last: see withLimits.
	for _, l := range []*rate.Limiter{limiter(o.RequestsPer5Min, 5*time.Minute), perSecondLimiter(o.RatePerSecond)} {
		if l != nil {
			limits = append(limits, l)
		}
	}
	policy := retryPolicy{maxRetries: o.MaxRetries, initial: o.RetryInitial, maxInterval: o.RetryMax, maxElapsed: o.MaxElapsed}
	c.get = withRetry(withLimits(c.send, limits...), policy, c.onRetry)
	return c, nil
}

func (o Options) withDefaults() (Options, error) {
	var problems []string
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("base URL: want http(s)://host/…, got %q", o.BaseURL))
	}
	if o.APIKey == "" {
		problems = append(problems, "API key: missing")
	} else if strings.ContainsFunc(o.APIKey, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		problems = append(problems, "API key: contains control characters")
	}
	if o.PageSize == 0 {
		o.PageSize = MaxPageSize
	}
	if o.PageSize < 1 || o.PageSize > MaxPageSize {
		problems = append(problems, fmt.Sprintf("page size: must be 1..%d, got %d", MaxPageSize, o.PageSize))
	}
	if o.RatePerSecond < 0 || o.RequestsPer5Min < 0 {
		problems = append(problems, "rate limits: must be >= 0")
	}
	if len(problems) > 0 {
		return o, fmt.Errorf("oncehub client: %s", strings.Join(problems, "; "))
	}
	o.Expand = bareFields(o.Expand)
	o.MaxRetries = cmp0(o.MaxRetries, 8)
	o.MaxElapsed = cmp0(o.MaxElapsed, 5*time.Minute)
	o.RetryInitial = cmp0(o.RetryInitial, time.Second)
	o.RetryMax = cmp0(o.RetryMax, 30*time.Second)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// noRedirects is a copy of hc that returns a redirect instead of following
// it. net/http sends custom headers, API-Key among them, wherever a redirect
// points (it strips only Authorization and cookies, and only for another
// host), and follows up to 10 redirects outside the rate limits and the
// call counts. The API documents no redirect: one means a wrong base URL or
// a proxy in the way, which the user must see.
func noRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// cmp0 returns v, or def when v is the zero value.
func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// bareFields is the expand fields without blanks and the optional "data."
// prefix.
func bareFields(fields []string) []string {
	var out []string
	for _, f := range fields {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, strings.TrimPrefix(f, "data."))
		}
	}
	return out
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		APICalls:    c.stats.calls.Load(),
		Retries:     c.stats.retries.Load(),
		RateLimited: c.stats.rateLimited.Load(),
		Pages:       c.stats.pages.Load(),
	}
}

// maxCursorRestarts bounds how often one Pages call reads its window again
// from the first page because the API no longer knows a cursor.
const maxCursorRestarts = 3

// Pages lists the conversations whose last_updated_time is in w, one page
// at a time, starting after the cursor `after` ("" for the first page), and
// calls fn with each page in the API's order (newest creation_time first),
// including an empty last page. Page.Next is the cursor a caller may persist
// to resume after that page. A cursor is a conversation's id: if the API no
// longer knows it (400 or 404 on param "after": the conversation was
// deleted since), the window is read again from its first page, so fn may
// see a conversation twice (an upsert absorbs it); at most
// maxCursorRestarts times. A page whose next cursor was already sent in
// this reading (the API repeating a page, or pages cycling) is an error, not
// an endless read. An error of fn stops paging and is returned as
// is; an API or network failure that survives the retries is returned
// wrapped as "fetch page after CVR-…: …".
func (c *Client) Pages(ctx context.Context, w Window, after string, fn func(Page) error) error {
	restarts := 0
	// seen holds the cursors this reading of the window has sent: pages
	// whose cursors cycle (A, B, A) would be read forever.
	seen := map[string]bool{after: true}
	for {
		p, err := c.page(ctx, w, after)
		if after != "" && restarts < maxCursorRestarts && rejected(err, "after") {
			restarts++
			c.log.Warn("oncehub: the API no longer knows the page cursor (its conversation was deleted?); reading the window again from its first page",
				"after", after, "window", w, "error", err)
			after = ""
			seen = map[string]bool{after: true}
			continue
		}
		if err == nil && p.Next != "" && seen[p.Next] {
			err = fmt.Errorf("API repeated cursor %s%s", p.Next, requestOf(p.RequestID))
		}
		if err != nil {
			if after == "" {
				return fmt.Errorf("fetch first page: %w", err)
			}
			return fmt.Errorf("fetch page after %s: %w", after, err)
		}
		seen[p.Next] = true
		c.stats.pages.Add(1)
		if err := fn(p); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		after = p.Next
	}
}

// page fetches and decodes one page.
func (c *Client) page(ctx context.Context, w Window, after string) (Page, error) {
	q := url.Values{"limit": {strconv.Itoa(c.limit)}}
	w.query(q)
	if after != "" {
		q.Set("after", after)
	}
	if c.expand != "" {
		q.Set("expand", c.listExpand())
	}
	r, err := c.get(ctx, "/conversations", q)
	if c.expand != "" && rejected(err, "expand") && c.bare.CompareAndSwap(false, true) {
		c.log.Warn("oncehub: the list endpoint rejected expand paths with the documented data. prefix; using bare field names", "error", err)
		q.Set("expand", c.listExpand())
		r, err = c.get(ctx, "/conversations", q)
	}
	if err != nil {
		return Page{}, err
	}
	p, env, err := decodePage(r.Body)
	if err != nil {
		return Page{}, fmt.Errorf("%w%s", err, requestOf(r.requestID()))
	}
	p.RequestID = r.requestID()
	if p.Next, err = nextCursor(env, strings.Join(r.Header.Values("Link"), ", "), after); err != nil {
		return Page{}, fmt.Errorf("%w%s", err, requestOf(p.RequestID))
	}
	return p, nil
}

// listExpand is the expand parameter of a list request: "data.<field>"
// as the docs prescribe, or the bare names once the API has refused those.
func (c *Client) listExpand() string {
	if c.bare.Load() {
		return c.expand
	}
	return "data." + strings.ReplaceAll(c.expand, ",", ",data.")
}

// rejected reports whether err is the API's refusal (400 or 404) of query
// parameter param.
func rejected(err error, param string) bool {
	var e *APIError
	return errors.As(err, &e) && (e.Status == http.StatusBadRequest || e.Status == http.StatusNotFound) && e.Param == param
}

// Get retrieves one conversation, with the client's expand fields expanded.
// A missing conversation is an *APIError with Status 404; a conversation
// that does not decode or validate is an error naming the field.
func (c *Client) Get(ctx context.Context, id string) (Conversation, error) {
	q := url.Values{}
	if c.expand != "" {
		q.Set("expand", c.expand)
	}
	r, err := c.get(ctx, "/conversations/"+url.PathEscape(id), q)
	if err != nil {
		return Conversation{}, fmt.Errorf("get conversation %s: %w", id, err)
	}
	conv, err := decodeConversation(r.Body)
	if err != nil {
		return Conversation{}, fmt.Errorf("get conversation %s: %w%s", id, err, requestOf(r.requestID()))
	}
	return conv, nil
}

// Check calls GET /test and returns the API's message ("The API key is
// valid for account: …"). An invalid key is an *APIError with Status 401.
func (c *Client) Check(ctx context.Context) (string, error) {
	r, err := c.get(ctx, "/test", nil)
	if err != nil {
		return "", fmt.Errorf("check API key: %w", err)
	}
	var doc struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		return "", fmt.Errorf("check API key: malformed answer%s: %w", requestOf(r.requestID()), err)
	}
	return doc.Message, nil
}

// send is the single request function every call goes through; see sendFunc.
func (c *Client) send(ctx context.Context, path string, q url.Values) (*response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("API-Key", c.key)
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	c.stats.calls.Add(1)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := readBody(res)
	if err != nil {
		return nil, fmt.Errorf("read response of %s: %w", path, err)
	}
	c.log.DebugContext(ctx, "oncehub request", "path", path, "status", res.StatusCode,
		"request_id", res.Header.Get("Request-Id"), "duration", time.Since(start))
	if len(body) > maxBody {
		if res.StatusCode >= 200 && res.StatusCode <= 299 {
			return nil, fmt.Errorf("read response of %s: %w", path, errBodyTooLarge)
		}
		body = body[:maxBody] // an error page's first bytes are its message
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		if res.StatusCode == http.StatusTooManyRequests {
			c.stats.rateLimited.Add(1)
		}
		return nil, newAPIError(res.StatusCode, res.Header, c.withoutKey(body), time.Now())
	}
	return &response{Header: res.Header, Body: body}, nil
}

// withoutKey blanks the API key out of an error answer's body: a gateway may
// echo the request's headers in its error page, and the error is logged and
// stored in the ledger. It is done before the error takes anything from the
// body: the first bytes an error keeps could end inside the key, and leave
// its first part.
func (c *Client) withoutKey(body []byte) []byte {
	return bytes.ReplaceAll(body, []byte(c.key), []byte("[API key]"))
}

func (c *Client) onRetry(err error, wait time.Duration) {
	c.stats.retries.Add(1)
	c.log.Warn("oncehub request failed, retrying", "error", err, "wait", wait)
}

// readBody reads res's body, up to maxBody and one byte more (so that the
// caller can tell a body cut at maxBody), into a buffer of the size the
// response announced: io.ReadAll grows its buffer from 512 bytes, which
// allocated twice the body and copied it several times.
func readBody(res *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	if n := res.ContentLength; n > 0 && n <= maxBody {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead free to read EOF
	}
	_, err := buf.ReadFrom(io.LimitReader(res.Body, maxBody+1))
	return buf.Bytes(), err
}

// errBodyTooLarge is a 2xx answer past maxBody. Cut, it failed to decode
// as "unexpected end of JSON input", which hid the cause; it is not
// retried (see transient): the same request would get the same answer.
var errBodyTooLarge = fmt.Errorf("answer larger than %d MiB, the most convsync reads", maxBody>>20)
