package oncehubtest

import (
	"sync"
	"time"
)

// limiter enforces OnceHub's two limits with GCRA (a token bucket kept as one
// "theoretical arrival time" per client): rate r with burst r per API key per
// second, and burst m refilled over 5 minutes per client IP. A request is
// admitted only if both buckets have a token, and a rejected request spends
// none, so a client-side token bucket with the same limits never sees a 429:
// its requests reach the server no earlier than it admitted them.
type limiter struct {
	mu     sync.Mutex
	perKey *bucket
	perIP  *bucket
	keyTAT map[string]time.Time
	ipTAT  map[string]time.Time
}

// bucket is one limit: interval between tokens and the tolerance (burst-1
// intervals plus slack for arrival jitter).
type bucket struct {
	interval, tolerance time.Duration
}

func newBucket(burst int, per, slack time.Duration) *bucket {
	if burst <= 0 {
		return nil
	}
	interval := per / time.Duration(burst)
	slack = min(slack, interval/2)
	return &bucket{interval: interval, tolerance: time.Duration(burst-1)*interval + slack}
}

func (l *limiter) init(perSecond, per5Min int, slack time.Duration) {
	l.perKey = newBucket(perSecond, time.Second, slack)
	l.perIP = newBucket(per5Min, 5*time.Minute, slack)
	l.keyTAT = map[string]time.Time{}
	l.ipTAT = map[string]time.Time{}
}

// allow admits a request of key from ip at now, spending a token of each
// configured bucket, or reports false and spends nothing.
func (l *limiter) allow(key, ip string, now time.Time) bool {
	if l.perKey == nil && l.perIP == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	kt, ok1 := l.perKey.next(l.keyTAT[key], now)
	it, ok2 := l.perIP.next(l.ipTAT[ip], now)
	if !ok1 || !ok2 {
		return false
	}
	if l.perKey != nil {
		l.keyTAT[key] = kt
	}
	if l.perIP != nil {
		l.ipTAT[ip] = it
	}
	return true
}

// next is the bucket's new arrival time if a request at now conforms.
func (b *bucket) next(tat, now time.Time) (time.Time, bool) {
	if b == nil {
		return tat, true
	}
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > b.tolerance {
		return tat, false
	}
	return tat.Add(b.interval), true
}
