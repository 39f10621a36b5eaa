package oncehubtest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
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

// query runs lq against the data. It visits only matching records from the
// cursor to the (limit+1)-th match, inside the creation_time range found by
// binary search (see walker), so a full paging pass costs at most one scan.
// The caller holds s.mu.
func (s *Server) query(lq listQuery) (page, *apiError) {
	lo, hi := s.creationRange(lq.created)
	next := s.walker(lq.updated, lo, hi)
	var p page
	switch {
	case lq.before != "":
		c := s.byID[lq.before]
		if c == nil {
			return p, badRequest(fmt.Sprintf("No such conversation: '%s'", lq.before), "before")
		}
		// Toward newer items: ascending indices, nearest to the cursor first.
		for j := next(max(c.pos+1, lo), 1); j < hi; j = next(j+1, 1) {
			if len(p.items) == lq.limit {
				p.hasMore = true
				break
			}
			p.items = append(p.items, s.order[j])
		}
		slices.Reverse(p.items)
		p.hasPrev = p.hasMore
		if len(p.items) > 0 {
			p.hasNext = next(p.items[len(p.items)-1].pos-1, -1) >= lo
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
		for j := next(start, -1); j >= lo; j = next(j-1, -1) {
			if len(p.items) == lq.limit {
				p.hasMore = true
				break
			}
			p.items = append(p.items, s.order[j])
		}
		p.hasNext = p.hasMore
		if len(p.items) > 0 && lq.after != "" {
			p.hasPrev = next(p.items[0].pos+1, 1) < hi
		}
	}
	return p, nil
}

// walker returns next for a query: next(j, step) is the first index from j
// (inclusive), moving by step (+1 toward newer, -1 toward older), of a
// record in [lo, hi) whose last_updated_time is inside updated; or, if there
// is none, an index outside [lo, hi). Few matches (a delta window) are
// found in byUpdated and visited directly; otherwise the range is scanned.
// A paging pass sorts the k matches once per page (about k/100 pages) where
// a scan reads the hi-lo records once, so the index is used while k*k <
// 100*(hi-lo): a delta's serving cost then depends on the delta, not on
// the data.
func (s *Server) walker(updated bounds, lo, hi int) func(j, step int) int {
	a, z := s.updatedRange(updated)
	if k := z - a; k*k >= 100*(hi-lo) {
		return s.scanWalker(updated, lo, hi)
	}
	return s.indexWalker(a, z, lo, hi)
}

// updatedRange is the range [a, z) of byUpdated inside updated.
func (s *Server) updatedRange(updated bounds) (a, z int) {
	a, z = 0, len(s.byUpdated)
	if updated.gt != nil {
		a = sort.Search(z, func(i int) bool { return s.byUpdated[i].at.After(*updated.gt) })
	}
	if updated.lt != nil {
		z = sort.Search(z, func(i int) bool { return !s.byUpdated[i].at.Before(*updated.lt) })
	}
	return a, max(a, z)
}

// scanWalker is walker reading each record from j on.
func (s *Server) scanWalker(updated bounds, lo, hi int) func(j, step int) int {
	return func(j, step int) int {
		for ; j >= lo && j < hi; j += step {
			if updated.contains(s.order[j].LastUpdatedTime) {
				break
			}
		}
		return j
	}
}

// indexWalker is walker visiting only byUpdated[a:z].
func (s *Server) indexWalker(a, z, lo, hi int) func(j, step int) int {
	var matches []int // ascending
	for _, e := range s.byUpdated[a:z] {
		if p := e.r.pos; p >= lo && p < hi && e.r.LastUpdatedTime.Equal(e.at) {
			matches = append(matches, p)
		}
	}
	slices.Sort(matches) // a record whose time went away and back is there twice: harmless
	return func(j, step int) int {
		i, found := slices.BinarySearch(matches, j) // matches[i] >= j
		switch {
		case found:
			return j
		case step > 0 && i < len(matches):
			return matches[i]
		case step > 0:
			return hi
		case i > 0:
			return matches[i-1]
		}
		return lo - 1
	}
}

// updatedEntry is a record's place in byUpdated: the record and the
// last_updated_time it had when it was indexed. Once the record's time
// changes, the entry is stale and walks skip it.
type updatedEntry struct {
	at time.Time
	r  *record
}

func cmpEntry(x, y updatedEntry) int { return x.at.Compare(y.at) }

// index adds to byUpdated the records rs, new or with a new
// last_updated_time; whatever sets a record's last_updated_time calls it
// before releasing s.mu. Their new times are usually the newest, so they
// are appended; once most entries are stale, byUpdated is rebuilt.
func (s *Server) index(rs ...*record) {
	add := make([]updatedEntry, len(rs))
	for i, r := range rs {
		add[i] = updatedEntry{r.LastUpdatedTime, r}
	}
	slices.SortFunc(add, cmpEntry)
	if len(s.byUpdated)+len(add) > 2*len(s.order)+1000 {
		s.byUpdated, add = s.byUpdated[:0], nil
		for _, r := range s.order {
			s.byUpdated = append(s.byUpdated, updatedEntry{r.LastUpdatedTime, r})
		}
	}
	n := len(s.byUpdated)
	s.byUpdated = append(s.byUpdated, add...)
	if add == nil || n > 0 && len(add) > 0 && cmpEntry(s.byUpdated[n-1], add[0]) > 0 {
		slices.SortFunc(s.byUpdated, cmpEntry)
	}
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
