package extract

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// APIError is a non-2xx answer of the OnceHub API. Status is the HTTP
// status; Type, Message and Param come from the documented error body
// ({"type","message","param"}) and are empty when the body was not one (a
// proxy's HTML page, say). RequestID is the response's Request-Id header.
// RetryAfter is the server's Retry-After hint, 0 when absent.
type APIError struct {
	Status     int
	Type       string
	Message    string
	Param      string
	RequestID  string
	RetryAfter time.Duration
}

// Error reads like `oncehub: 401 authentication_error: Invalid API key.
// (request req_…)`, with `(retry after 1m0s)` when the answer said so. It
// never contains the API key: nothing in an APIError comes from the
// request, and the Client blanks the key out of an answer that echoes it
// (see Client.withoutKey).
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oncehub: %d", e.Status)
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	b.WriteString(": " + msg)
	if e.Param != "" {
		b.WriteString(" (param " + e.Param + ")")
	}
	if e.RetryAfter > 0 {
		// It says why a 429 past the retry budget was not waited for.
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	b.WriteString(requestOf(e.RequestID))
	return b.String()
}

// newAPIError builds the APIError of a non-2xx response from its status,
// headers and body. A body that is not the documented JSON keeps its first
// bytes as the message, so a gateway's error page is still readable. A
// redirect (never followed: see noRedirects) says where it points instead.
func newAPIError(status int, h http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{
		Status:     status,
		RequestID:  h.Get("Request-Id"),
		RetryAfter: retryAfter(h.Get("Retry-After"), now),
	}
	if loc := h.Get("Location"); status >= 300 && status <= 399 && loc != "" {
		e.Message = "redirected to " + truncate(loc, 200) + ", which convsync does not follow (check source.base_url)"
		return e
	}
	var doc struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Param   string `json:"param"`
	}
	if err := json.Unmarshal(body, &doc); err == nil && (doc.Type != "" || doc.Message != "") {
		e.Type, e.Message, e.Param = doc.Type, doc.Message, doc.Param
		return e
	}
	if s := strings.TrimSpace(string(body)); s != "" {
		e.Message = truncate(s, 200)
	}
	return e
}

// retryAfter reads a Retry-After header, given in seconds or as an HTTP date,
// as a wait from now. It returns 0 when the header is absent, unreadable or in
// the past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	// Past what an int holds, Atoi says so and gives the largest (or the
	// smallest) int: the wait is as long as one past what a Duration holds.
	if s, err := strconv.Atoi(v); err == nil || errors.Is(err, strconv.ErrRange) {
		if s <= 0 {
			return 0
		}
		// Past what a Duration holds, s*time.Second wrapped round, as often
		// to a negative wait (read as none) as to a short one.
		return time.Duration(min(s, int(math.MaxInt64/time.Second))) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return 0
	}
	return t.Sub(now)
}

// transient is the one place that decides whether a failed request is worth
// retrying: 429 and 5xx answers and network errors are, a request timeout
// (the HTTP client's, which wraps context.DeadlineExceeded) included; other
// API errors (a bad key, a bad parameter, a missing object), an answer too
// large to read and a cancelled request are not. The caller's own context
// is checked apart (withRetry).
func transient(err error) bool {
	var apiErr *APIError
	switch {
	case err == nil:
		return false
	case errors.As(err, &apiErr):
		return apiErr.Status == http.StatusTooManyRequests || apiErr.Status >= 500
	case errors.Is(err, context.Canceled), errors.Is(err, errBodyTooLarge):
		return false
	default:
		return true
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n-- // not inside a character
	}
	return s[:n] + "…"
}
