package oncehubtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var linkRe = regexp.MustCompile(`<([^>]*)>; rel="(next|previous)"`)

// links maps rel to the URL of a Link header.
func links(h http.Header) map[string]*url.URL {
	out := map[string]*url.URL{}
	for _, m := range linkRe.FindAllStringSubmatch(h.Get("Link"), -1) {
		u, _ := url.Parse(m[1])
		out[m[2]] = u
	}
	return out
}

func TestList_EnvelopeDefaultsAndHeaders(t *testing.T) {
	_, base := newTest(t, Options{Seed: 1, Conversations: 30})
	r := call(t, base, "/conversations")
	l := r.list(t)
	if len(l.Data) != 10 || !*l.HasMore {
		t.Errorf("default page: %d items, has_more %v; want 10, true", len(l.Data), *l.HasMore)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if !regexp.MustCompile(`^req_[0-9a-f]{16}$`).MatchString(r.header.Get("Request-Id")) {
		t.Errorf("Request-Id %q", r.header.Get("Request-Id"))
	}
	if r2 := call(t, base, "/conversations"); r2.header.Get("Request-Id") == r.header.Get("Request-Id") {
		t.Error("two responses share a Request-Id")
	}
}

func TestList_Limit(t *testing.T) {
	_, base := newTest(t, Options{Seed: 1, Conversations: 150})
	for _, tc := range []struct {
		limit  string
		status int
		items  int
	}{
		{"1", 200, 1}, {"100", 200, 100}, {"37", 200, 37},
		{"0", 400, 0}, {"101", 400, 0}, {"500", 400, 0}, {"-1", 400, 0}, {"ten", 400, 0},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			r := call(t, base, "/conversations?limit="+tc.limit)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 200 {
				if n := len(r.list(t).Data); n != tc.items {
					t.Errorf("%d items, want %d", n, tc.items)
				}
				return
			}
			e := r.apiError(t)
			want := fmt.Sprintf("Out of range value: %s. Please provide a number between 1 and 100.", tc.limit)
			if e.Type != "invalid_request_error" || e.Message != want || e.Param == nil || *e.Param != "limit" {
				t.Errorf("error %+v", e)
			}
		})
	}
}

// TestList_PagesForwardNewestFirst pages with after through everything and
// checks order, has_more exactness and the Link header on every page.
func TestList_PagesForwardNewestFirst(t *testing.T) {
	for _, tc := range []struct {
		n     int
		pages []int
	}{
		{237, []int{100, 100, 37}},
		{200, []int{100, 100}}, // a last page of exactly limit items has has_more false
		{1, []int{1}},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			s, base := newTest(t, Options{Seed: 2, Conversations: tc.n})
			var got []string
			after := ""
			for i, want := range tc.pages {
				q := "/conversations?limit=100"
				if after != "" {
					q += "&after=" + after
				}
				r := call(t, base, q)
				l := r.list(t)
				page := ids(t, l.Data)
				last := i == len(tc.pages)-1
				if len(page) != want || *l.HasMore == last {
					t.Fatalf("page %d: %d items, has_more %v", i, len(page), *l.HasMore)
				}
				ln := links(r.header)
				if (ln["next"] != nil) == last {
					t.Errorf("page %d: Link %q", i, r.header.Get("Link"))
				}
				if (ln["previous"] != nil) != (i > 0) {
					t.Errorf("page %d: Link %q", i, r.header.Get("Link"))
				}
				if n := ln["next"]; n != nil && (n.Query().Get("after") != page[len(page)-1] || n.Query().Get("limit") != "100") {
					t.Errorf("page %d: next link %s", i, n)
				}
				if last && i == 0 && len(r.header.Values("Link")) != 0 {
					t.Errorf("single page sent a Link header %q", r.header.Get("Link"))
				}
				got = append(got, page...)
				after = page[len(page)-1]
			}
			if want := convIDs(s.Conversations()); !slices.Equal(got, want) {
				t.Errorf("paged ids differ from ground-truth order")
			}
			cs := s.Conversations()
			for i := 1; i < len(cs); i++ {
				if less(&cs[i-1], &cs[i]) {
					t.Fatalf("not newest first at %d", i)
				}
			}
		})
	}
}

func TestList_BeforeReturnsThePreviousPage(t *testing.T) {
	s, base := newTest(t, Options{Seed: 3, Conversations: 50})
	all := convIDs(s.Conversations())
	r := call(t, base, "/conversations?limit=10&before="+all[25])
	l := r.list(t)
	if got := ids(t, l.Data); !slices.Equal(got, all[15:25]) || !*l.HasMore {
		t.Errorf("before page %v has_more %v, want %v true", got, *l.HasMore, all[15:25])
	}
	ln := links(r.header)
	if ln["previous"] == nil || ln["previous"].Query().Get("before") != all[15] ||
		ln["next"] == nil || ln["next"].Query().Get("after") != all[24] {
		t.Errorf("Link %q", r.header.Get("Link"))
	}
	r = call(t, base, "/conversations?limit=10&before="+all[10])
	l = r.list(t)
	if got := ids(t, l.Data); !slices.Equal(got, all[:10]) || *l.HasMore || links(r.header)["previous"] != nil {
		t.Errorf("first page via before: %v has_more %v Link %q", got, *l.HasMore, r.header.Get("Link"))
	}
}

func TestList_CursorErrors(t *testing.T) {
	s, base := newTest(t, Options{Seed: 3, Conversations: 20})
	id := s.Conversations()[5].ID
	for _, tc := range []struct{ name, query, msg, param string }{
		{"both", "after=" + id + "&before=" + id, msgBothCursors, ""},
		{"unknown after", "after=CVR-NOPE000000", "No such conversation: 'CVR-NOPE000000'", "after"},
		{"unknown before", "before=CVR-NOPE000000", "No such conversation: 'CVR-NOPE000000'", "before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, base, "/conversations?"+tc.query)
			e := r.apiError(t)
			if r.status != 400 || e.Type != "invalid_request_error" || e.Message != tc.msg {
				t.Errorf("%d %+v", r.status, e)
			}
			if (e.Param == nil && tc.param != "") || (e.Param != nil && *e.Param != tc.param) {
				t.Errorf("param %v, want %q", e.Param, tc.param)
			}
		})
	}
}

// TestList_FiltersAreExclusiveAtTheMillisecond puts one conversation exactly
// on a boundary and checks both sides of it.
func TestList_FiltersAreExclusiveAtTheMillisecond(t *testing.T) {
	s, base := newTest(t, Options{Seed: 4, Conversations: 300})
	target := s.Conversations()[120]
	at := time.Date(2030, 1, 2, 3, 4, 5, 678e6, time.UTC)
	if err := s.Update(target.ID, at, nil); err != nil {
		t.Fatal(err)
	}
	ms := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	ct := target.CreationTime
	for _, tc := range []struct {
		query string
		in    bool
	}{
		{"last_updated_time.gt=" + ms(at), false},
		{"last_updated_time.gt=" + ms(at.Add(-time.Millisecond)), true},
		{"last_updated_time.lt=" + ms(at), false},
		{"last_updated_time.lt=" + ms(at.Add(time.Millisecond)), true},
		{"last_updated_time.gt=" + ms(at.Add(-time.Millisecond)) + "&last_updated_time.lt=" + ms(at.Add(time.Millisecond)), true},
		{"last_updated_time.gt=" + ms(at) + "&last_updated_time.lt=" + ms(at), false},
		{"last_updated_time.gt=" + url.QueryEscape("2030-01-02T05:04:05.677+02:00"), true},
		{"creation_time.gt=" + ms(ct), false},
		{"creation_time.gt=" + ms(ct.Add(-time.Millisecond)), true},
		{"creation_time.lt=" + ms(ct), false},
		{"creation_time.lt=" + ms(ct.Add(time.Millisecond)), true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got := pageAll(t, base, "/conversations?limit=100&"+tc.query)
			if slices.Contains(got, target.ID) != tc.in {
				t.Errorf("contains %s = %v, want %v", target.ID, !tc.in, tc.in)
			}
		})
	}
}

// TestList_FiltersMatchGroundTruth compares filtered paging with a brute
// force filter over Conversations.
func TestList_FiltersMatchGroundTruth(t *testing.T) {
	s, base := newTest(t, Options{Seed: 5, Conversations: 600})
	gt, lt := testStart.Add(-60*24*time.Hour), testStart.Add(-20*24*time.Hour)
	cgt := testStart.Add(-90 * 24 * time.Hour)
	q := fmt.Sprintf("/conversations?limit=7&last_updated_time.gt=%s&last_updated_time.lt=%s&creation_time.gt=%s",
		gt.Format(time.RFC3339), lt.Format(time.RFC3339), cgt.Format(time.RFC3339))
	var want []string
	for _, c := range s.Conversations() {
		if c.LastUpdatedTime.After(gt) && c.LastUpdatedTime.Before(lt) && c.CreationTime.After(cgt) {
			want = append(want, c.ID)
		}
	}
	if len(want) < 20 {
		t.Fatalf("only %d expected matches; widen the window", len(want))
	}
	if got := pageAll(t, base, q); !slices.Equal(got, want) {
		t.Errorf("got %d ids, want %d", len(got), len(want))
	}
}

// pageAll follows after cursors until has_more is false.
func pageAll(t *testing.T, base, q string) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		path := q
		if after != "" {
			path += "&after=" + after
		}
		l := call(t, base, path).list(t)
		page := ids(t, l.Data)
		out = append(out, page...)
		if !*l.HasMore {
			return out
		}
		after = page[len(page)-1]
	}
}

func TestList_FilterErrors(t *testing.T) {
	_, base := newTest(t, Options{Seed: 1, Conversations: 5})
	for _, tc := range []struct{ query, msg, param string }{
		{"creation_time.gt=2025-13-45T99:99:99Z", "Invalid date: 2025-13-45T99:99:99Z", "creation_time.gt"},
		{"last_updated_time.lt=yesterday", "Invalid date: yesterday", "last_updated_time.lt"},
		{"last_updated_time.gt=2025-03-02T00:00:00Z&last_updated_time.lt=2025-03-01T00:00:00Z",
			"last_updated_time.gt cannot be later than last_updated_time.lt", "last_updated_time.gt"},
		{"creation_time.gt=2025-03-02&creation_time.lt=2025-03-01",
			"creation_time.gt cannot be later than creation_time.lt", "creation_time.gt"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := call(t, base, "/conversations?"+tc.query)
			e := r.apiError(t)
			if r.status != 400 || e.Type != "invalid_request_error" || e.Message != tc.msg || e.Param == nil || *e.Param != tc.param {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
}

func TestList_Expand(t *testing.T) {
	_, base := newTest(t, Options{Seed: 6, Conversations: 40, NoQuirks: true})
	for _, tc := range []struct {
		query    string
		expanded []string
	}{
		{"", nil},
		{"expand=data.contact", []string{"contact"}},
		{"expand=contact", []string{"contact"}},
		{"expand=data.owner,bot", []string{"owner", "bot"}},
		{"expand=website&expand=data.audience", []string{"website", "audience"}},
		{"expand=data.contact,data.owner,data.bot,data.website,data.audience", []string{"contact", "owner", "bot", "website", "audience"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			l := call(t, base, "/conversations?limit=40&"+tc.query).list(t)
			seen := map[string]bool{}
			for _, raw := range l.Data {
				var it item
				_ = json.Unmarshal(raw, &it)
				for name, v := range map[string]json.RawMessage{"contact": it.Contact, "owner": it.Owner,
					"bot": it.Bot, "website": it.Website, "audience": it.Audience} {
					if string(v) == "null" {
						continue
					}
					isObj := v[0] == '{'
					if isObj != slices.Contains(tc.expanded, name) {
						t.Fatalf("%s expanded=%v: %s", name, isObj, v)
					}
					seen[name] = true
				}
			}
			if len(seen) != 5 {
				t.Errorf("some fields never non-null: %v", seen)
			}
		})
	}
	r := call(t, base, "/conversations?expand=data.answers")
	if e := r.apiError(t); r.status != 400 || e.Message != "This property cannot be expanded: data.answers" || *e.Param != "expand" {
		t.Errorf("%d %s", r.status, r.body)
	}
}

func TestList_DeletedContactExpandsRedacted(t *testing.T) {
	s, base := newTest(t, Options{Seed: 7, Conversations: 400})
	deleted := map[string]bool{}
	for _, raw := range s.Dimensions().Contacts {
		if strings.Contains(string(raw), `"deleted":true`) {
			deleted[idOf(raw)] = true
		}
	}
	var conv string
	for _, c := range s.Conversations() {
		if deleted[c.Contact] {
			conv = c.ID
			break
		}
	}
	if conv == "" {
		t.Fatal("no conversation with a deleted contact")
	}
	c, _ := s.Conversation(conv)
	r := call(t, base, "/conversations/"+conv+"?expand=contact")
	var it item
	_ = json.Unmarshal(r.body, &it)
	if want := `{"id":"` + c.Contact + `","object":"contact","deleted":true}`; string(it.Contact) != want {
		t.Errorf("contact %s, want %s", it.Contact, want)
	}
}

func TestGet(t *testing.T) {
	s, base := newTest(t, Options{Seed: 8, Conversations: 20})
	want := s.Truth()[3]
	id := ids(t, []json.RawMessage{want})[0]
	r := call(t, base, "/conversations/"+id+"?expand=contact,owner,bot,website,audience")
	if r.status != 200 || string(r.body) != string(want) {
		t.Errorf("get %s: %d %s", id, r.status, r.body)
	}
	r = call(t, base, "/conversations/"+id)
	var it item
	_ = json.Unmarshal(r.body, &it)
	if it.Contact[0] != '"' {
		t.Errorf("unexpanded contact %s", it.Contact)
	}
	r = call(t, base, "/conversations/CVR-MISSING123")
	if e := r.apiError(t); r.status != 404 || e.Type != "invalid_request_error" ||
		e.Message != "No such conversation: 'CVR-MISSING123'" || e.Param == nil || *e.Param != "id" {
		t.Errorf("%d %s", r.status, r.body)
	}
}

func TestAuthAndRoutes(t *testing.T) {
	_, base := newTest(t, Options{Seed: 1, Conversations: 5, APIKey: "k-123", Account: "ops@example.com"})
	for _, tc := range []struct {
		name, path, key string
		status          int
		body            string
	}{
		{"test ok", "/test", "k-123", 200, `{"message":"The API key is valid for account: ops@example.com"}`},
		{"test bad key", "/test", "nope", 401, `{"type":"authentication_error","message":"Invalid API key."}`},
		{"list no key", "/conversations", "", 401, `{"type":"authentication_error","message":"Invalid API key."}`},
		{"get bad key", "/conversations/CVR-X", "nope", 401, `{"type":"authentication_error","message":"Invalid API key."}`},
		{"unknown route", "/bookings", "k-123", 404, `{"type":"invalid_request_error","message":"Unrecognized request URL (GET: /v2/bookings)"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := callKey(t, base, tc.path, tc.key)
			if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Request-Id") == "" {
				t.Errorf("%d %s (Request-Id %q)", r.status, r.body, r.header.Get("Request-Id"))
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/conversations", nil)
	req.Header.Set("API-Key", "k-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Request-Id") == "" {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestList_LinkForm(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noQuirks bool
		path     string
		keeps    bool
	}{
		{"documented form", false, "/conversations", false},
		{"full form", true, "/v2/conversations", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := newTest(t, Options{Seed: 1, Conversations: 30, NoQuirks: tc.noQuirks})
			r := call(t, base, "/conversations?limit=5&expand=data.bot&last_updated_time.gt=2020-01-01T00:00:00Z")
			next := links(r.header)["next"]
			if next == nil || next.Path != tc.path {
				t.Fatalf("Link %q", r.header.Get("Link"))
			}
			if got := next.Query().Has("expand") && next.Query().Has("last_updated_time.gt"); got != tc.keeps {
				t.Errorf("Link %q keeps filters = %v", r.header.Get("Link"), got)
			}
		})
	}
}

// TestList_IndexWalksLikeScan checks that a query visits the same records
// through the last_updated_time index (used when the window matches few
// records) as by scanning, after every kind of change to the data: random
// windows and creation ranges, from every starting index, both ways.
func TestList_IndexWalksLikeScan(t *testing.T) {
	s := New(Options{Seed: 8, Conversations: 1500, Start: testStart})
	rng := rand.New(rand.NewPCG(8, 8))
	check := func(stage string) {
		t.Helper()
		s.mu.RLock()
		defer s.mu.RUnlock()
		first, last := s.byUpdated[0].at, s.byUpdated[len(s.byUpdated)-1].at
		at := func() *time.Time {
			if rng.IntN(5) == 0 {
				return nil
			}
			t := first.Add(time.Duration(rng.Int64N(int64(last.Sub(first)) + 1))).Add(-time.Millisecond)
			if rng.IntN(3) == 0 { // exactly a record's time: the bounds are exclusive
				t = s.byUpdated[rng.IntN(len(s.byUpdated))].at
			}
			return &t
		}
		for range 200 {
			updated := bounds{gt: at(), lt: at()}
			if updated.gt != nil && updated.lt != nil && updated.gt.After(*updated.lt) {
				updated.gt, updated.lt = updated.lt, updated.gt
			}
			lo := rng.IntN(len(s.order))
			hi := lo + rng.IntN(len(s.order)-lo+1)
			a, z := s.updatedRange(updated)
			scan, index := s.scanWalker(updated, lo, hi), s.indexWalker(a, z, lo, hi)
			for j := lo; j < hi; j++ {
				for _, step := range []int{-1, 1} {
					want, got := scan(j, step), index(j, step)
					if (want >= lo && want < hi) != (got >= lo && got < hi) || (want >= lo && want < hi && want != got) {
						t.Fatalf("%s: window %v, range [%d, %d): next(%d, %d) = %d by index, %d by scan", stage, updated, lo, hi, j, step, got, want)
					}
				}
			}
		}
	}
	check("generated")
	s.AdvanceN(time.Hour, 40, 60)
	check("advanced")
	some := s.Conversations()[700]
	if err := s.Update(some.ID, s.Now(), nil); err != nil {
		t.Fatal(err)
	}
	check("updated")
	if err := s.Update(some.ID, some.LastUpdatedTime, nil); err != nil { // back to its first time
		t.Fatal(err)
	}
	check("updated back")
	all := s.Conversations()
	c := all[len(all)-10] // an old one: the records after it move
	c.ID, c.CreationTime, c.LastUpdatedTime = "CNV-ADDED", c.CreationTime.Add(time.Millisecond), s.Now()
	if err := s.Add(c); err != nil {
		t.Fatal(err)
	}
	check("added")
	for range 4 { // stale entries pile up until the index is rebuilt
		s.AdvanceN(time.Hour, 0, 1000)
	}
	if n, max := len(s.byUpdated), 2*len(s.order)+1000; n > max {
		t.Fatalf("the index holds %d entries for %d conversations, want at most %d", n, len(s.order), max)
	}
	check("rebuilt")
}
