package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"sync"

	json "github.com/goccy/go-json"
)

// tape records the API's answers to disk during a sync from the simulator
// and replays them later, so the same pipeline (client, decoder, transform,
// sink) can run without the simulator's serving cost. Answers are kept on
// disk, headers included; in memory, the tape is an index of page numbers
// by request URL, about 0.3 kB a page (3 MB at 1M conversations), which
// counts in the syncing process's RSS. Keeping each page's headers in
// memory took 1.1 kB a page.
type tape struct {
	dir   string
	mu    sync.Mutex
	pages map[string]int // request URL → page number
	base  http.RoundTripper
}

func newTape(dir string) (*tape, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &tape{dir: dir, pages: map[string]int{}, base: http.DefaultTransport}, nil
}

// file is the path of page number n: the answer as sent, status line and
// headers first.
func (t *tape) file(n int) string { return filepath.Join(t.dir, fmt.Sprintf("page-%06d.http", n)) }

// recorder is a transport that passes requests on and records every 200
// answer to disk.
func (t *tape) recorder() http.RoundTripper { return recordTransport{t} }

// player is a transport that answers every request from the tape; a request
// not recorded is an error.
func (t *tape) player() http.RoundTripper { return playTransport{t} }

type recordTransport struct{ t *tape }

func (r recordTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	answer, err := httputil.DumpResponse(resp, true) // keeps resp.Body readable
	if err != nil {
		return nil, err
	}
	r.t.mu.Lock()
	n := len(r.t.pages)
	r.t.pages[req.URL.String()] = n
	r.t.mu.Unlock()
	if err := os.WriteFile(r.t.file(n), answer, 0o644); err != nil {
		return nil, err
	}
	return resp, nil
}

type playTransport struct{ t *tape }

func (p playTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p.t.mu.Lock()
	n, ok := p.t.pages[req.URL.String()]
	p.t.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("replay: no recorded answer for %s", req.URL)
	}
	return p.t.read(n, req)
}

// read returns the recorded answer number n to req.
func (t *tape) read(n int, req *http.Request) (*http.Response, error) {
	answer, err := os.ReadFile(t.file(n))
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), req)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", t.file(n), err)
	}
	return resp, nil
}

// writeNDJSON writes every conversation of the recorded pages, as the API
// sent it, one per line to path, and returns the bytes of conversation JSON
// written (the figure MB/s is computed from).
func (t *tape) writeNDJSON(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	var n int64
	var buf bytes.Buffer
	for page := range len(t.pages) {
		resp, err := t.read(page, nil)
		if err != nil {
			return n, errors.Join(err, f.Close())
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return n, errors.Join(err, f.Close())
		}
		var env struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return n, errors.Join(fmt.Errorf("%s: %w", t.file(page), err), f.Close())
		}
		for _, item := range env.Data {
			buf.Reset()
			if err := json.Compact(&buf, item); err != nil {
				return n, errors.Join(err, f.Close())
			}
			n += int64(buf.Len())
			buf.WriteByte('\n')
			if _, err := f.Write(buf.Bytes()); err != nil {
				return n, errors.Join(err, f.Close())
			}
		}
	}
	return n, f.Close()
}
