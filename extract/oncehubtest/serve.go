package oncehubtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// NewTestServer starts a simulator with opts on a local httptest server,
// closed when the test ends. baseURL is the API root to give a client
// (".../v2").
func NewTestServer(tb testing.TB, opts Options) (s *Server, baseURL string) {
	tb.Helper()
	s = New(opts)
	hs := httptest.NewServer(s)
	tb.Cleanup(hs.Close)
	return s, hs.URL + "/v2"
}

// Serve builds a simulator with opts and serves it on addr until ctx is
// done (see ListenAndServe). It is what `convsync simulate` runs.
func Serve(ctx context.Context, addr string, opts Options, logw io.Writer) error {
	return New(opts).ListenAndServe(ctx, addr, logw)
}

// ListenAndServe serves the simulator on addr until ctx is done, then shuts
// down gracefully (5 s at most). It writes one line per request to logw (nil:
// none) and, with Options.Live, advances the data clock to the wall clock
// every second. It returns nil after ctx ends, or the error that stopped it.
func (s *Server) ListenAndServe(ctx context.Context, addr string, logw io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("simulate: listen %s: %w", addr, err)
	}
	if logw == nil {
		logw = io.Discard
	}
	fmt.Fprintf(logw, "oncehub simulator: %d conversations, API root http://%s/v2\n", s.Len(), ln.Addr())
	hs := &http.Server{Handler: logRequests(s, logw), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.follow(ctx)
		shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		_ = hs.Shutdown(shutdown) // after the timeout, open connections are simply dropped
	}()
	err = hs.Serve(ln)
	cancel()
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("simulate: serve: %w", err)
}

// follow blocks until ctx is done, advancing the data clock to the wall
// clock every second when Options.Live is set.
func (s *Server) follow(ctx context.Context) {
	if !s.opts.Live {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.AdvanceTo(now)
		}
	}
}

// logRequests writes "METHOD /path?query status duration" per request.
func logRequests(s *Server, w io.Writer) http.Handler {
	var mu sync.Mutex // one line at a time
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: rw}
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "%s %s %s %d %s\n", start.UTC().Format(milliLayout), r.Method, r.URL.RequestURI(), sw.status, time.Since(start).Round(time.Microsecond))
		}()
		s.ServeHTTP(sw, r)
	})
}
