package oncehubtest

import (
	"sync"
	"time"
)

// Request is one entry of the request log.
type Request struct {
	Time      time.Time // wall clock when the request arrived
	Method    string
	Path      string
	Query     string // raw query, as sent
	Kind      string // KindList, KindGet, KindTest, or "" for an unknown route
	Status    int    // 0 when the connection was dropped
	RequestID string
}

// Counts are request counters since the last ResetRequests.
type Counts struct {
	Total    int
	List     int // GET /v2/conversations, whatever the status
	Get      int // GET /v2/conversations/{id}
	Test     int // GET /v2/test
	ByStatus map[int]int
}

type requestLog struct {
	mu      sync.Mutex
	limit   int
	entries []Request
	counts  Counts
}

func (l *requestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= l.limit {
		l.entries = append(l.entries[:0], l.entries[len(l.entries)-l.limit/2:]...)
	}
	l.entries = append(l.entries, r)
	c := &l.counts
	c.Total++
	switch r.Kind {
	case KindList:
		c.List++
	case KindGet:
		c.Get++
	case KindTest:
		c.Test++
	}
	if c.ByStatus == nil {
		c.ByStatus = map[int]int{}
	}
	c.ByStatus[r.Status]++
}

// Requests is a copy of the request log, oldest first, since the last
// ResetRequests (at most Options.LogLimit entries). An entry is logged when
// its response has been written.
func (s *Server) Requests() []Request {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	return append([]Request(nil), s.reqlog.entries...)
}

// Counts is the request counters since the last ResetRequests.
func (s *Server) Counts() Counts {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	c := s.reqlog.counts
	c.ByStatus = make(map[int]int, len(s.reqlog.counts.ByStatus))
	for k, v := range s.reqlog.counts.ByStatus {
		c.ByStatus[k] = v
	}
	return c
}

// ResetRequests empties the request log and zeroes the counters.
func (s *Server) ResetRequests() {
	s.reqlog.mu.Lock()
	defer s.reqlog.mu.Unlock()
	s.reqlog.entries = nil
	s.reqlog.counts = Counts{}
}
