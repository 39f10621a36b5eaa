package oncehubtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
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
		b.Run(bc.name, func(b *testing.B) {
			var size int64
			for b.Loop() {
				size = 0
				cursor := ""
				for {
					q := hs.URL + "/v2/conversations?" + bc.query
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
					after := string(body[i : i+bytes.IndexByte(body[i:], '"')])
					cursor = after
				}
			}
			b.ReportMetric(float64(size)/1e6, "MB/pass")
		})
	}
}
