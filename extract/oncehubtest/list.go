package oncehubtest

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// listQuery is a validated GET /v2/conversations request.
type listQuery struct {
	limit         int
	after, before string
	created       bounds
	updated       bounds
	exp           expandSet
}

// bounds is an exclusive (gt, lt) range at millisecond precision; a nil end
// is open.
type bounds struct{ gt, lt *time.Time }

func (b bounds) contains(t time.Time) bool {
	return (b.gt == nil || t.After(*b.gt)) && (b.lt == nil || t.Before(*b.lt))
}

// parseList validates the query as OnceHub does, returning the documented
// 400 for the first problem found.
func parseList(q url.Values) (listQuery, *apiError) {
	lq := listQuery{limit: 10, after: q.Get("after"), before: q.Get("before")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return lq, badRequest(fmt.Sprintf("Out of range value: %s. Please provide a number between 1 and 100.", v), "limit")
		}
		lq.limit = n
	}
	if lq.after != "" && lq.before != "" {
		return lq, badRequest(msgBothCursors, "")
	}
	var err *apiError
	if lq.created, err = parseBounds(q, "creation_time"); err != nil {
		return lq, err
	}
	if lq.updated, err = parseBounds(q, "last_updated_time"); err != nil {
		return lq, err
	}
	lq.exp, err = parseExpand(q["expand"])
	return lq, err
}

func parseBounds(q url.Values, field string) (bounds, *apiError) {
	var b bounds
	for _, op := range []string{"gt", "lt"} {
		name := field + "." + op
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, ok := parseDate(v)
		if !ok {
			return b, badRequest("Invalid date: "+v, name)
		}
		if op == "gt" {
			b.gt = &t
		} else {
			b.lt = &t
		}
	}
	if b.gt != nil && b.lt != nil && b.gt.After(*b.lt) {
		return b, badRequest(field+".gt cannot be later than "+field+".lt", field+".gt")
	}
	return b, nil
}

// parseDate reads an ISO-8601 date-time (any offset, any fraction) or a
// date, truncated to the millisecond the API works in.
func parseDate(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, v); err != nil {
			return time.Time{}, false
		}
	}
	return t.UTC().Truncate(time.Millisecond), true
}

// parseExpand reads expand values (comma-separated, possibly repeated), with
// or without the "data." prefix.
func parseExpand(vals []string) (expandSet, *apiError) {
	var exp expandSet
	for _, v := range vals {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			e, ok := expandNames[strings.TrimPrefix(name, "data.")]
			if !ok {
				return 0, badRequest("This property cannot be expanded: "+name, "expand")
			}
			exp |= e
		}
	}
	return exp, nil
}

// page is the result of a list query: records in list order (newest first).
type page struct {
	items            []*record
	hasMore          bool
	hasNext, hasPrev bool
}

// query runs lq against the data. It scans only from the cursor to the
// (limit+1)-th match, inside the creation_time range found by binary search,
// so a full paging pass costs one scan. The caller holds s.mu.
func (s *Server) query(lq listQuery) (page, *apiError) {
	lo, hi := s.creationRange(lq.created)
	match := func(j int) bool { return lq.updated.contains(s.order[j].LastUpdatedTime) }
	var p page
	switch {
	case lq.before != "":
		c := s.byID[lq.before]
		if c == nil {
			return p, badRequest(fmt.Sprintf("No such conversation: '%s'", lq.before), "before")
		}
		// Toward newer items: ascending indices, nearest to the cursor first.
		for j := max(c.pos+1, lo); j < hi; j++ {
			if match(j) {
				if len(p.items) == lq.limit {
					p.hasMore = true
					break
				}
				p.items = append(p.items, s.order[j])
			}
		}
		for i, k := 0, len(p.items)-1; i < k; i, k = i+1, k-1 {
			p.items[i], p.items[k] = p.items[k], p.items[i]
		}
		p.hasPrev = p.hasMore
		if len(p.items) > 0 {
			p.hasNext = s.anyMatch(p.items[len(p.items)-1].pos-1, lo-1, -1, match)
		}
	default:
		start := hi - 1
		if lq.after != "" {
			c := s.byID[lq.after]
			if c == nil {
				return p, badRequest(fmt.Sprintf("No such conversation: '%s'", lq.after), "after")
			}
			start = min(start, c.pos-1)
		}
		for j := start; j >= lo; j-- {
			if match(j) {
				if len(p.items) == lq.limit {
					p.hasMore = true
					break
				}
				p.items = append(p.items, s.order[j])
			}
		}
		p.hasNext = p.hasMore
		if len(p.items) > 0 && lq.after != "" {
			p.hasPrev = s.anyMatch(p.items[0].pos+1, hi, 1, match)
		}
	}
	return p, nil
}

// anyMatch reports whether an index from `from` (inclusive) to `to`
// (exclusive), stepping by step, matches.
func (s *Server) anyMatch(from, to, step int, match func(int) bool) bool {
	for j := from; j != to; j += step {
		if match(j) {
			return true
		}
	}
	return false
}

// creationRange is the ascending index range [lo, hi) of records whose
// creation_time lies inside b.
func (s *Server) creationRange(b bounds) (lo, hi int) {
	lo, hi = 0, len(s.order)
	if b.gt != nil {
		lo = sort.Search(len(s.order), func(i int) bool { return s.order[i].CreationTime.After(*b.gt) })
	}
	if b.lt != nil {
		hi = sort.Search(len(s.order), func(i int) bool { return !s.order[i].CreationTime.Before(*b.lt) })
	}
	return lo, max(lo, hi)
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lq, apiErr := parseList(q)
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	buf := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(buf)
	s.mu.RLock()
	p, apiErr := s.query(lq)
	var body []byte
	if apiErr == nil {
		body = s.appendList((*buf)[:0], p, lq.exp)
		*buf = body
	}
	s.mu.RUnlock()
	if apiErr != nil {
		apiErr.write(w)
		return
	}
	if link := s.link(r, q, lq, p); link != "" {
		w.Header().Set("Link", link)
	}
	writeJSON(w, http.StatusOK, body)
}

// bodyPool recycles page buffers: pages of up to 100 expanded items are
// large, and a paging pass makes thousands of them.
var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

func (s *Server) appendList(b []byte, p page, exp expandSet) []byte {
	b = append(b, `{"object":"list","data":[`...)
	for i, rec := range p.items {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendConversation(b, rec, exp)
	}
	b = append(b, `],"has_more":`...)
	b = strconv.AppendBool(b, p.hasMore)
	return append(b, '}')
}

// link builds the Link header: rel="next" when older matching items exist,
// rel="previous" when newer ones do, "" when neither. With quirks on it is
// the documented form (no /v2; only the cursor and limit); with NoQuirks it
// keeps /v2 and every other query parameter.
func (s *Server) link(r *http.Request, q url.Values, lq listQuery, p page) string {
	if len(p.items) == 0 || (!p.hasNext && !p.hasPrev) {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + "/conversations"
	if s.opts.NoQuirks {
		base = scheme + "://" + r.Host + "/v2/conversations"
	}
	mk := func(cursor, id string) string {
		v := url.Values{}
		if s.opts.NoQuirks {
			for k, vs := range q {
				v[k] = vs
			}
			v.Del("after")
			v.Del("before")
		}
		v.Set(cursor, id)
		v.Set("limit", strconv.Itoa(lq.limit))
		return base + "?" + cursorFirst(v, cursor)
	}
	var parts []string
	if p.hasNext {
		parts = append(parts, "<"+mk("after", p.items[len(p.items)-1].ID)+`>; rel="next"`)
	}
	if p.hasPrev {
		parts = append(parts, "<"+mk("before", p.items[0].ID)+`>; rel="previous"`)
	}
	return strings.Join(parts, ", ")
}

// cursorFirst encodes v with the cursor first, as the documented example does.
func cursorFirst(v url.Values, cursor string) string {
	id := v.Get(cursor)
	v.Del(cursor)
	rest := v.Encode()
	out := cursor + "=" + url.QueryEscape(id)
	if rest != "" {
		out += "&" + rest
	}
	return out
}
