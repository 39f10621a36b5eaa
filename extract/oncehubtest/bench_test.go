package oncehubtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// BenchmarkList measures one full paging pass (limit=100, after cursors)
// over 200k conversations through a real HTTP round trip, unexpanded and
// with everything expanded, and an empty-window query (one full scan).
func BenchmarkList(b *testing.B) {
	s := New(Options{Seed: 1, Conversations: 200_000, Start: testStart})
	hs := httptest.NewServer(s)
	defer hs.Close()
	for _, bc := range []struct{ name, query string }{
		{"pass", "limit=100"},
		{"pass-expanded", "limit=100&expand=data.contact,data.owner,data.bot,data.website,data.audience"},
		{"empty-window", "limit=100&last_updated_time.gt=2030-01-01T00:00:00Z"},
	} {
		b.Run(bc.name, func(b *testing.B) { benchPass(b, hs.URL, bc.query) })
	}
}

// BenchmarkDeltaWindow measures a paging pass over the window of one hour
// with 2,000 changes (1,000 new, 1,000 updated) in 20k and 200k
// conversations: the serving cost of a delta should not grow with the data.
func BenchmarkDeltaWindow(b *testing.B) {
	for _, n := range []int{20_000, 200_000} {
		s := New(Options{Seed: 1, Conversations: n, Start: testStart})
		from := s.Now().Format(time.RFC3339Nano)
		s.AdvanceN(time.Hour, 1000, 1000)
		hs := httptest.NewServer(s)
		b.Run(fmt.Sprintf("conversations=%dk", n/1000), func(b *testing.B) {
			benchPass(b, hs.URL, "limit=100&last_updated_time.gt="+url.QueryEscape(from))
		})
		hs.Close()
	}
}

// benchPass pages through the list with query, following after cursors.
func benchPass(b *testing.B, base, query string) {
	var size int64
	for b.Loop() {
		size = 0
		cursor := ""
		for {
			q := base + "/v2/conversations?" + query
			if cursor != "" {
				q += "&after=" + cursor
			}
			req, _ := http.NewRequest(http.MethodGet, q, nil)
			req.Header.Set("API-Key", "test-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			size += int64(len(body))
			// Read the cursor cheaply: the benchmark is about the server.
			if !bytes.HasSuffix(body, []byte(`"has_more":true}`)) {
				break
			}
			i := bytes.LastIndex(body, []byte(`{"object":"conversation","id":"`)) + 31
			cursor = string(body[i : i+bytes.IndexByte(body[i:], '"')])
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB/pass")
}
