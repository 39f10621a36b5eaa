package extract

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestLimits_NeverExceedOnceHubLimits simulates a client that sends one
// request at a time through the limiters as withLimits orders them, on a
// virtual clock, and checks that the requests as the server receives them
// (after a random network delay) never put more than 5 in any second or 200
// in any 5 minutes, while the sustained rate stays near the 5-minute limit.
func TestLimits_NeverExceedOnceHubLimits(t *testing.T) {
	tests := []struct {
		name             string
		latency, jitter  time.Duration // response time; extra one-way delay to the server
		requests         int
		wantSustainedMin float64 // fraction of 200/5min the backfill must reach
	}{
		{"InstantServer", 0, 0, 1000, 0.88},
		{"SlowServer", 300 * time.Millisecond, 0, 1000, 0.88},
		{"NetworkJitter", 50 * time.Millisecond, 80 * time.Millisecond, 1000, 0.88},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limits := []*rate.Limiter{limiter(OnceHubRequestsPer5Min, 5*time.Minute), perSecondLimiter(OnceHubRatePerSecond)}
			r := rand.New(rand.NewPCG(7, 7))
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			start := now
			var arrivals []time.Time
			for range tt.requests {
				for _, l := range limits {
					now = now.Add(l.ReserveN(now, 1).DelayFrom(now))
				}
				var j time.Duration
				if tt.jitter > 0 {
					j = time.Duration(r.Int64N(int64(tt.jitter)))
				}
				arrivals = append(arrivals, now.Add(j))
				now = now.Add(tt.latency + time.Duration(r.Int64N(int64(tt.latency)+1)))
			}
			sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].Before(arrivals[j]) })
			if n, at := maxInWindow(arrivals, time.Second); n > OnceHubRatePerSecond {
				t.Errorf("%d requests in the second from %v, want at most %d", n, at.Sub(start), OnceHubRatePerSecond)
			}
			if n, at := maxInWindow(arrivals, 5*time.Minute); n > OnceHubRequestsPer5Min {
				t.Errorf("%d requests in the 5 minutes from %v, want at most %d", n, at.Sub(start), OnceHubRequestsPer5Min)
			}
			perSec := float64(len(arrivals)) / arrivals[len(arrivals)-1].Sub(start).Seconds()
			if got := perSec / (float64(OnceHubRequestsPer5Min) / 300); got < tt.wantSustainedMin {
				t.Errorf("sustained rate %.3f/s is %.0f%% of the limit, want at least %.0f%%", perSec, 100*got, 100*tt.wantSustainedMin)
			}
		})
	}
}

// maxInWindow returns the largest number of sorted times inside one closed
// window [t, t+w], and where that window starts.
func maxInWindow(ts []time.Time, w time.Duration) (int, time.Time) {
	best, at, j := 0, time.Time{}, 0
	for i := range ts {
		for j < len(ts) && !ts[j].After(ts[i].Add(w)) {
			j++
		}
		if j-i > best {
			best, at = j-i, ts[i]
		}
	}
	return best, at
}

func TestLimiter_Unlimited(t *testing.T) {
	if limiter(0, time.Minute) != nil || perSecondLimiter(0) != nil {
		t.Error("a zero limit must mean no limiter")
	}
}
