package oncehubtest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Messages of the documented error bodies (reference §7).
const (
	msgInvalidKey  = "Invalid API key."
	msgRateLimited = "Request rate limit exceeded"
	msgBothCursors = "Received both before and after parameters. Please provide only one."
)

// ServeHTTP serves GET /v2/test, GET /v2/conversations and
// GET /v2/conversations/{id}. Every response is JSON and carries a
// Request-Id header. Checks run in this order: method (405), route (404),
// API-Key (401), rate limits (429), injected faults, then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := s.nextRequestID()
	h := w.Header()
	h.Set("Request-Id", rid)
	h.Set("Content-Type", "application/json")
	kind, id := route(r.URL.Path)
	start := s.wallNow()
	entry := Request{Time: start, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Kind: kind, RequestID: rid}
	// The request is logged when its status is sent, before its body: a
	// client that has read the answer always finds the request in the log.
	logged := false
	sw := &statusWriter{ResponseWriter: w, onStatus: func(code int) {
		entry.Status, logged = code, true
		s.reqlog.add(entry)
	}}
	defer func() {
		if !logged { // a dropped connection: no status was sent
			s.reqlog.add(entry)
		}
	}()
	switch {
	case r.Method != http.MethodGet:
		writeError(sw, http.StatusMethodNotAllowed, "invalid_request_error",
			fmt.Sprintf("Method not allowed: %s %s", r.Method, r.URL.Path), "")
		return
	case kind == "":
		writeError(sw, http.StatusNotFound, "invalid_request_error",
			fmt.Sprintf("Unrecognized request URL (GET: %s)", r.URL.Path), "")
		return
	case r.Header.Get("API-Key") != s.opts.APIKey:
		writeError(sw, http.StatusUnauthorized, "authentication_error", msgInvalidKey, "")
		return
	case !s.limits.allow(r.Header.Get("API-Key"), clientIP(r), start):
		writeError(sw, http.StatusTooManyRequests, "rate_limit_error", msgRateLimited, "")
		return
	}
	if kind != KindTest && s.faults.inject(sw) {
		return
	}
	switch kind {
	case KindTest:
		writeJSON(sw, http.StatusOK, []byte(`{"message":`+string(appendString(nil,
			"The API key is valid for account: "+s.opts.Account))+`}`))
	case KindList:
		s.serveList(sw, r)
	case KindGet:
		s.serveGet(sw, r, id)
	}
}

// Request kinds, as recorded in the request log.
const (
	KindTest = "test" // GET /v2/test
	KindList = "list" // GET /v2/conversations
	KindGet  = "get"  // GET /v2/conversations/{id}
)

// route maps a path to its endpoint kind and, for KindGet, the id; kind ""
// is an unknown route.
func route(path string) (kind, id string) {
	switch {
	case path == "/v2/test":
		return KindTest, ""
	case path == "/v2/conversations" || path == "/v2/conversations/":
		return KindList, ""
	case strings.HasPrefix(path, "/v2/conversations/"):
		id = strings.TrimPrefix(path, "/v2/conversations/")
		if id != "" && !strings.Contains(id, "/") {
			return KindGet, id
		}
	}
	return "", ""
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, id string) {
	exp, apiErr := parseExpand(r.URL.Query()["expand"])
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	s.mu.RLock()
	rec := s.byID[id]
	var body []byte
	if rec != nil {
		body = s.appendConversation(make([]byte, 0, 1024), rec, exp)
	}
	s.mu.RUnlock()
	if rec == nil {
		writeError(w, http.StatusNotFound, "invalid_request_error", fmt.Sprintf("No such conversation: '%s'", id), "id")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// apiError is the documented error body.
type apiError struct {
	status              int
	typ, message, param string
}

func (e *apiError) write(w http.ResponseWriter) { writeError(w, e.status, e.typ, e.message, e.param) }

func badRequest(message, param string) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request_error", message, param}
}

func writeError(w http.ResponseWriter, status int, typ, message, param string) {
	b := append([]byte(`{"type":`), appendString(nil, typ)...)
	b = append(b, `,"message":`...)
	b = appendString(b, message)
	if param != "" {
		b = append(b, `,"param":`...)
		b = appendString(b, param)
	}
	writeJSON(w, status, append(b, '}'))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client gone away is not the server's error
}

// statusWriter remembers the status sent, and calls onStatus (if set)
// with it before it goes out.
type statusWriter struct {
	http.ResponseWriter
	status   int
	onStatus func(int)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.onStatus != nil {
			w.onStatus(code)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// clientIP is the remote address without its port: the rate-limit client.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// nextRequestID is a fresh Request-Id in OnceHub's format (req_ + 16 hex).
func (s *Server) nextRequestID() string {
	s.reqlog.mu.Lock()
	s.reqSeq++
	n := s.reqSeq
	s.reqlog.mu.Unlock()
	// Mix the sequence so ids look random but stay unique and deterministic.
	return fmt.Sprintf("req_%016x", (n*0x9E3779B97F4A7C15)^s.opts.Seed)
}

var _ http.Handler = (*Server)(nil)

// retryAfterSeconds renders a Retry-After value: whole seconds, rounded up.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
