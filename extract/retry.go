package extract

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"
)

// response is one HTTP answer with a 2xx status, its body read in full.
type response struct {
	Header http.Header
	Body   []byte
}

// requestID is the response's Request-Id header.
func (r *response) requestID() string { return r.Header.Get("Request-Id") }

// requestOf is " (request req_…)", for an error about the response the API
// gave id, or "" when it gave none.
func requestOf(id string) string {
	if id == "" {
		return ""
	}
	return " (request " + id + ")"
}

// sendFunc sends one GET of path with query q. It returns the 2xx response,
// an *APIError for any other status, or the transport's error. Behaviour
// (rate limiting, retrying) is added by wrapping a sendFunc, never by
// branching inside one.
type sendFunc func(ctx context.Context, path string, q url.Values) (*response, error)

// retryPolicy bounds the retries of one request: exponential backoff with
// jitter from initial up to maxInterval, at most maxRetries retries and at
// most maxElapsed in total.
type retryPolicy struct {
	maxRetries  int
	initial     time.Duration
	maxInterval time.Duration
	maxElapsed  time.Duration
}

// withRetry wraps send so that a transient failure (see transient) is tried
// again under policy p, waiting at least the server's Retry-After when it
// gave one. A permanent failure returns at once; a cancelled ctx stops the
// wait at once and returns ctx's error. onRetry, if not nil, is called before
// each wait.
func withRetry(send sendFunc, p retryPolicy, onRetry func(err error, wait time.Duration)) sendFunc {
	return func(ctx context.Context, path string, q url.Values) (*response, error) {
		if p.maxRetries < 0 {
			return send(ctx, path, q)
		}
		b := p.backOff()
		op := func() (*response, error) {
			r, err := send(ctx, path, q)
			switch {
			case err == nil:
			case ctx.Err() != nil:
				return nil, backoff.Permanent(ctx.Err())
			case !transient(err):
				return nil, backoff.Permanent(err)
			}
			var apiErr *APIError
			if errors.As(err, &apiErr) {
				b.hint = apiErr.RetryAfter
			}
			return r, err
		}
		r, err := backoff.RetryNotifyWithData(op, backoff.WithContext(b, ctx), onRetry)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return r, err
	}
}

func (p retryPolicy) backOff() *hintedBackOff {
	e := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.initial),
		backoff.WithMaxInterval(p.maxInterval),
		backoff.WithMaxElapsedTime(p.maxElapsed),
	)
	return &hintedBackOff{
		BackOff:    backoff.WithMaxRetries(e, uint64(p.maxRetries)),
		maxElapsed: p.maxElapsed,
	}
}

// hintedBackOff is a BackOff that waits at least the Retry-After hint of the
// last failure, and stops rather than wait past maxElapsed for it.
type hintedBackOff struct {
	backoff.BackOff
	maxElapsed time.Duration
	start      time.Time
	hint       time.Duration
}

func (b *hintedBackOff) Reset() {
	b.BackOff.Reset()
	b.start, b.hint = time.Now(), 0
}

func (b *hintedBackOff) NextBackOff() time.Duration {
	d := b.BackOff.NextBackOff()
	hint := b.hint
	b.hint = 0
	if d == backoff.Stop || hint <= d {
		return d
	}
	// Not time.Since(b.start)+hint: a Retry-After near the largest Duration
	// wrapped that round to a negative sum, and was waited.
	if b.maxElapsed > 0 && hint > b.maxElapsed-time.Since(b.start) {
		return backoff.Stop
	}
	return hint
}

// withLimits wraps send so that every request, retries included, first waits
// on each limiter in turn. The last limiter is the one whose timing is
// tightest (the per-second one): the request leaves right after it admits
// it. A cancelled ctx stops the wait at once.
func withLimits(send sendFunc, limiters ...*rate.Limiter) sendFunc {
	return func(ctx context.Context, path string, q url.Values) (*response, error) {
		for _, l := range limiters {
			if err := l.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, err
			}
		}
		return send(ctx, path, q)
	}
}

// limiter returns a token bucket that admits at most n requests in any
// window of length per, whatever way the server counts (fixed windows,
// sliding windows or its own bucket), with room for one request delayed by
// a later limiter: it holds a burst of n/10 (at least 1) and refills at
// (n - burst - 1)/per. For 200 per 5 minutes that is a burst of 20, then
// one request every 1.68 s (179 per 5 minutes). It returns nil for n <= 0
// (no limit).
func limiter(n int, per time.Duration) *rate.Limiter {
	if n <= 0 {
		return nil
	}
	burst := max(1, n/10)
	refill := max(float64(n-burst-1), 0.5)
	return rate.NewLimiter(rate.Limit(refill/per.Seconds()), burst)
}

// perSecondLimiter returns a limiter that spaces requests evenly at 90% of
// perSecond (burst 1), so that no one-second window holds more than
// perSecond requests even with some network jitter. It returns nil for
// perSecond <= 0 (no limit).
func perSecondLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(0.9*perSecond), 1)
}
