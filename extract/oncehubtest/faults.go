package oncehubtest

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// fault is one injected failure of a list or get request.
type fault struct {
	status     int           // 0: drop the connection
	retryAfter time.Duration // 0: no Retry-After header
}

// faults is the FIFO of injected failures, and the random ones of
// Options.FaultRate when none is queued.
type faults struct {
	mu    sync.Mutex
	queue []fault
	rate  float64
	rng   *rand.Rand
}

// randomFaults are the failures Options.FaultRate draws from.
var randomFaults = []fault{
	{status: http.StatusInternalServerError}, {status: http.StatusBadGateway}, {status: http.StatusServiceUnavailable},
	{status: http.StatusTooManyRequests, retryAfter: time.Second}, {},
}

// Fail makes the next n list or get requests (after auth and rate limits)
// answer status with the documented error body for it: 429
// rate_limit_error, 5xx api_error, 401/403 authentication_error, other 4xx
// invalid_request_error. A positive retryAfter adds a Retry-After header in
// whole seconds (rounded up). Faults queue up behind earlier ones.
func (s *Server) Fail(n, status int, retryAfter time.Duration) {
	s.faults.push(n, fault{status: status, retryAfter: retryAfter})
}

// Drop makes the next n list or get requests fail at the network level: the
// connection is closed without a response (the request log records status 0).
// It aborts the handler with http.ErrAbortHandler, so serve through an
// http.Server (httptest.NewServer), not a ResponseRecorder.
func (s *Server) Drop(n int) {
	s.faults.push(n, fault{})
}

// PendingFaults is how many injected failures have not fired yet.
func (s *Server) PendingFaults() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return len(s.faults.queue)
}

func (f *faults) push(n int, ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.queue = append(f.queue, ft)
	}
}

// inject answers the request with the next queued fault, if any, and reports
// whether it did. A drop aborts the handler, which closes the connection.
func (f *faults) inject(w http.ResponseWriter) bool {
	f.mu.Lock()
	var ft fault
	switch {
	case len(f.queue) > 0:
		ft = f.queue[0]
		f.queue = f.queue[1:]
	case f.rate > 0 && f.rng.Float64() < f.rate:
		ft = randomFaults[f.rng.IntN(len(randomFaults))]
	default:
		f.mu.Unlock()
		return false
	}
	f.mu.Unlock()
	if ft.status == 0 {
		panic(http.ErrAbortHandler)
	}
	if ft.retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(ft.retryAfter))
	}
	typ, msg := faultBody(ft.status)
	writeError(w, ft.status, typ, msg, "")
	return true
}

// faultBody is the documented error type and message for a status.
func faultBody(status int) (typ, msg string) {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_error", msgRateLimited
	case status == http.StatusUnauthorized:
		return "authentication_error", msgInvalidKey
	case status == http.StatusForbidden:
		return "authentication_error", "Your account plan does not support API access. To use the OnceHub API, you must upgrade to the Enterprise plan."
	case status >= 500:
		return "api_error", "An unexpected error occurred. Please try again later."
	}
	return "invalid_request_error", http.StatusText(status)
}
