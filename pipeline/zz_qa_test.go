package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/pipeline"
)

func qaItem(id string) string {
	return fmt.Sprintf(`{"object":"conversation","id":%q,"creation_time":"2026-05-05T10:41:02.117Z",`+
		`"last_updated_time":"2026-05-10T00:00:00.000Z","status":"closed","contact":"CTC-1","owner":"USR-1",`+
		`"bot":"BOT-1","website":"WEB-1","audience":null,"answers":[],"bookings":[]}`, id)
}

// TestQA_PagesFetchedBeforeAFailureAreCommitted: when a page fails (here a
// 401: the key was revoked mid-run), the pages read before it, whether a
// full batch or part of one, are committed with their cursor, so the next
// run does not spend API calls reading them again.
func TestQA_PagesFetchedBeforeAFailureAreCommitted(t *testing.T) {
	for _, batchSize := range []int{3, 100} {
		for _, w := range warehouses {
			t.Run(fmt.Sprintf("%s/batch%d", w.name, batchSize), func(t *testing.T) {
				var revoked atomic.Bool
				revoked.Store(true)
				var calls atomic.Int64
				srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					calls.Add(1)
					switch r.URL.Query().Get("after") {
					case "":
						fmt.Fprintf(rw, `{"object":"list","data":[%s,%s],"has_more":true}`, qaItem("CVR-1"), qaItem("CVR-2"))
					case "CVR-2":
						fmt.Fprintf(rw, `{"object":"list","data":[%s,%s],"has_more":true}`, qaItem("CVR-3"), qaItem("CVR-4"))
					case "CVR-4":
						if revoked.Load() {
							rw.WriteHeader(401)
							fmt.Fprint(rw, `{"type":"authentication_error","message":"Invalid API key."}`)
							return
						}
						fmt.Fprintf(rw, `{"object":"list","data":[%s],"has_more":false}`, qaItem("CVR-5"))
					default:
						rw.WriteHeader(400)
						fmt.Fprint(rw, `{"type":"invalid_request_error","message":"unexpected","param":"after"}`)
					}
				}))
				defer srv.Close()
				c, err := extract.New(extract.Options{BaseURL: srv.URL + "/v2", APIKey: "qa-key-123456", RetryInitial: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				wh, err := w.open(context.Background(), t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				defer wh.Close()
				now := func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
				opts := pipeline.Options{Start: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Now: now, SliceSize: -1, BatchSize: batchSize}
				run, err := pipeline.Run(context.Background(), c, wh, opts)
				if err == nil || !strings.Contains(err.Error(), "401 authentication_error") || run.Status != "failed" {
					t.Fatalf("run 1: err %v, status %s; want failed on the 401", err, run.Status)
				}
				var n int
				if err := wh.DB().QueryRow("SELECT count(*) FROM conversations").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 4 || run.Pages != 2 {
					t.Errorf("run 1 committed %d conversations in %d pages, want the 4 of the 2 pages read", n, run.Pages)
				}
				revoked.Store(false)
				before := calls.Load()
				if run, err = pipeline.Run(context.Background(), c, wh, opts); err != nil {
					t.Fatal(err)
				}
				if got := calls.Load() - before; got != 1 {
					t.Errorf("run 2 made %d calls, want 1: the page after CVR-4", got)
				}
			})
		}
	}
}
