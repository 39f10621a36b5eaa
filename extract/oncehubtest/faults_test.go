package oncehubtest

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestFail_AnswersTheNextRequestsWithTheDocumentedError(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter time.Duration
		body       string
		header     string
	}{
		{429, 0, `{"type":"rate_limit_error","message":"Request rate limit exceeded"}`, ""},
		{429, 1500 * time.Millisecond, `{"type":"rate_limit_error","message":"Request rate limit exceeded"}`, "2"},
		{503, 3 * time.Second, `{"type":"api_error","message":"An unexpected error occurred. Please try again later."}`, "3"},
		{500, 0, `{"type":"api_error","message":"An unexpected error occurred. Please try again later."}`, ""},
		{401, 0, `{"type":"authentication_error","message":"Invalid API key."}`, ""},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			s, base := newTest(t, Options{Seed: 1, Conversations: 5})
			s.Fail(2, tc.status, tc.retryAfter)
			if r := call(t, base, "/test"); r.status != 200 {
				t.Errorf("/test is not subject to faults: %d", r.status)
			}
			for _, path := range []string{"/conversations", "/conversations/CVR-ANY"} {
				r := call(t, base, path)
				if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Retry-After") != tc.header {
					t.Errorf("%s: %d %s Retry-After %q", path, r.status, r.body, r.header.Get("Retry-After"))
				}
			}
			if r := call(t, base, "/conversations"); r.status != 200 || s.PendingFaults() != 0 {
				t.Errorf("third request: %d, pending %d", r.status, s.PendingFaults())
			}
		})
	}
}

func TestDrop_ClosesTheConnection(t *testing.T) {
	s, base := newTest(t, Options{Seed: 1, Conversations: 5})
	s.Drop(1)
	req, _ := http.NewRequest(http.MethodGet, base+"/conversations", nil)
	req.Header.Set("API-Key", "test-key")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request got a response: %d", resp.StatusCode)
	}
	if r := call(t, base, "/conversations"); r.status != 200 {
		t.Errorf("next request: %d", r.status)
	}
	log := s.Requests()
	if len(log) != 2 || log[0].Status != 0 || log[1].Status != 200 {
		t.Errorf("log %+v", log)
	}
}

func TestRequestLog(t *testing.T) {
	s, base := newTest(t, Options{Seed: 1, Conversations: 30})
	call(t, base, "/test")
	call(t, base, "/conversations?limit=5&expand=data.bot")
	call(t, base, "/conversations/CVR-NOPE")
	callKey(t, base, "/conversations", "wrong")
	log := s.Requests()
	if len(log) != 4 {
		t.Fatalf("%d entries", len(log))
	}
	e := log[1]
	if e.Method != "GET" || e.Path != "/v2/conversations" || e.Query != "limit=5&expand=data.bot" ||
		e.Kind != KindList || e.Status != 200 || e.RequestID == "" || time.Since(e.Time) > time.Minute {
		t.Errorf("entry %+v", e)
	}
	c := s.Counts()
	if c.Total != 4 || c.List != 2 || c.Get != 1 || c.Test != 1 || c.ByStatus[200] != 2 || c.ByStatus[404] != 1 || c.ByStatus[401] != 1 {
		t.Errorf("counts %+v", c)
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 || s.Counts().Total != 0 {
		t.Error("ResetRequests kept entries")
	}
}

// TestFaultRate_FailsThatShareOfRequestsAtRandom: with FaultRate, about
// that share of list requests fail, with every kind of random fault, the
// same ones for the same seed; /test never does.
func TestFaultRate_FailsThatShareOfRequestsAtRandom(t *testing.T) {
	outcomes := func() []int {
		_, base := newTest(t, Options{Seed: 7, Conversations: 5, FaultRate: 0.4})
		if r := call(t, base, "/test"); r.status != 200 {
			t.Errorf("/test is not subject to faults: %d", r.status)
		}
		var out []int
		for range 300 {
			req, _ := http.NewRequest(http.MethodGet, base+"/conversations", nil)
			req.Header.Set("API-Key", "test-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				out = append(out, 0) // dropped
				continue
			}
			resp.Body.Close()
			out = append(out, resp.StatusCode)
		}
		return out
	}
	first := outcomes()
	counts := map[int]int{}
	for _, s := range first {
		counts[s]++
	}
	if failed := 300 - counts[200]; failed < 90 || failed > 150 {
		t.Errorf("%d of 300 requests failed, want about 120 (0.4)", failed)
	}
	for _, s := range []int{0, 429, 500, 502, 503} {
		if counts[s] == 0 {
			t.Errorf("no %d among %v", s, counts)
		}
	}
	if again := outcomes(); !slices.Equal(first, again) {
		t.Error("the same seed drew other faults")
	}
}
