package oncehubtest

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestRateLimit_PerSecondPerKey(t *testing.T) {
	_, base := newTest(t, Options{Seed: 1, Conversations: 5, RatePerSecond: 5})
	for i := range 5 {
		if r := call(t, base, "/test"); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := call(t, base, "/conversations")
	if r.status != 429 || string(r.body) != `{"type":"rate_limit_error","message":"Request rate limit exceeded"}` {
		t.Errorf("6th request: %d %s", r.status, r.body)
	}
	time.Sleep(250 * time.Millisecond) // one token back at 5/s
	if r := call(t, base, "/test"); r.status != 200 {
		t.Errorf("after a token refilled: %d", r.status)
	}
}

func TestRateLimit_Per5MinutesPerClient(t *testing.T) {
	s, base := newTest(t, Options{Seed: 1, Conversations: 5, RatePer5Minutes: 3})
	for range 3 {
		call(t, base, "/test")
	}
	if r := call(t, base, "/conversations"); r.status != 429 {
		t.Errorf("4th request in 5 minutes: %d", r.status)
	}
	if c := s.Counts(); c.ByStatus[429] != 1 || c.ByStatus[200] != 3 {
		t.Errorf("counts %+v", c)
	}
}

func TestRateLimit_OffByDefault(t *testing.T) {
	_, base := newTest(t, Options{Seed: 1, Conversations: 5})
	for i := range 300 {
		if r := call(t, base, "/test"); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
}

// TestRateLimit_ClientBucketWithSameLimitsNeverSees429 runs a client
// limiter set to the server's limits from several goroutines.
func TestRateLimit_ClientBucketWithSameLimitsNeverSees429(t *testing.T) {
	const perSecond, per5Min, requests = 50, 100, 100
	_, base := newTest(t, Options{Seed: 1, Conversations: 5, RatePerSecond: perSecond, RatePer5Minutes: per5Min})
	perKey := rate.NewLimiter(perSecond, perSecond)
	perIP := rate.NewLimiter(rate.Every(5*time.Minute/per5Min), per5Min)
	var limited atomic.Int32
	var wg sync.WaitGroup
	next := make(chan int, requests)
	for i := range requests {
		next <- i
	}
	close(next)
	for range 4 {
		wg.Go(func() {
			for range next {
				ctx := context.Background()
				if perKey.Wait(ctx) != nil || perIP.Wait(ctx) != nil {
					t.Error("limiter wait failed")
					return
				}
				req, _ := http.NewRequest(http.MethodGet, base+"/test", nil)
				req.Header.Set("API-Key", "test-key")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == 429 {
					limited.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := limited.Load(); n != 0 {
		t.Errorf("%d requests got 429 despite the client limiter", n)
	}
	if r := call(t, base, "/test"); r.status != 429 {
		t.Errorf("a request past the 5-minute budget: %d, want 429", r.status)
	}
}
