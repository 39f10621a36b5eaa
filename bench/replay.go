package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	json "github.com/goccy/go-json"
)

// tape records the API's answers to disk during a sync from the simulator
// and replays them later, so the same pipeline (client, decoder, transform,
// sink) can run without the simulator's serving cost. Pages are kept on
// disk, not in memory, so they do not count in the syncing process's RSS.
type tape struct {
	dir   string
	mu    sync.Mutex
	pages map[string]tapePage // request URL → recorded answer
	bytes int64               // body bytes recorded
	next  int
	base  http.RoundTripper
}

type tapePage struct {
	file   string
	header http.Header
}

func newTape(dir string) (*tape, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &tape{dir: dir, pages: map[string]tapePage{}, base: http.DefaultTransport}, nil
}

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
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.t.mu.Lock()
	name := filepath.Join(r.t.dir, fmt.Sprintf("page-%06d.json", r.t.next))
	r.t.next++
	r.t.bytes += int64(len(body))
	r.t.pages[req.URL.String()] = tapePage{file: name, header: resp.Header.Clone()}
	r.t.mu.Unlock()
	if err := os.WriteFile(name, body, 0o644); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

type playTransport struct{ t *tape }

func (p playTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p.t.mu.Lock()
	pg, ok := p.t.pages[req.URL.String()]
	p.t.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("replay: no recorded answer for %s", req.URL)
	}
	body, err := os.ReadFile(pg.file)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: pg.header.Clone(), Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}, nil
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
	for _, pg := range t.pages {
		body, err := os.ReadFile(pg.file)
		if err != nil {
			return n, errors.Join(err, f.Close())
		}
		var env struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return n, errors.Join(fmt.Errorf("%s: %w", pg.file, err), f.Close())
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
