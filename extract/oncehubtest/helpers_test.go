package oncehubtest

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// testStart is a fixed data-clock start so data is identical across runs.
var testStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// response is one decoded HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// listBody is the list envelope with raw items.
type listBody struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	HasMore *bool             `json:"has_more"`
}

type errorBody struct {
	Type    string  `json:"type"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

func newTest(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	if opts.Start.IsZero() {
		opts.Start = testStart
	}
	return NewTestServer(t, opts)
}

// call GETs base+path with the default key.
func call(t *testing.T, base, path string) response {
	t.Helper()
	return callKey(t, base, path, "test-key")
}

func callKey(t *testing.T, base, path, key string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (r response) list(t *testing.T) listBody {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var l listBody
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("decode list: %v: %s", err, r.body)
	}
	if l.Object != "list" || l.HasMore == nil || l.Data == nil {
		t.Fatalf("bad envelope: %s", r.body)
	}
	return l
}

func (r response) apiError(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decode error: %v: %s", err, r.body)
	}
	return e
}

// item is the part of a conversation the tests look at.
type item struct {
	ID              string          `json:"id"`
	CreationTime    string          `json:"creation_time"`
	LastUpdatedTime string          `json:"last_updated_time"`
	Contact         json.RawMessage `json:"contact"`
	Owner           json.RawMessage `json:"owner"`
	Bot             json.RawMessage `json:"bot"`
	Website         json.RawMessage `json:"website"`
	Audience        json.RawMessage `json:"audience"`
}

func ids(t *testing.T, items []json.RawMessage) []string {
	t.Helper()
	out := make([]string, len(items))
	for i, raw := range items {
		var it item
		if err := json.Unmarshal(raw, &it); err != nil {
			t.Fatalf("decode item: %v: %s", err, raw)
		}
		out[i] = it.ID
	}
	return out
}

func convIDs(cs []Conversation) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}
