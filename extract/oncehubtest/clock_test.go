package oncehubtest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAdvance_CreatesAndUpdatesInsideTheInterval(t *testing.T) {
	s := New(Options{Seed: 12, Conversations: 500, Start: testStart})
	before := map[string]Conversation{}
	for _, c := range s.Conversations() {
		before[c.ID] = c
	}
	d := s.Advance(24 * time.Hour)
	if !d.From.Equal(testStart) || !d.To.Equal(testStart.Add(24*time.Hour)) || !s.Now().Equal(d.To) {
		t.Fatalf("interval (%s, %s], Now %s", d.From, d.To, s.Now())
	}
	// Defaults: 500/500 = 1 new per hour, 2 updates per hour.
	if len(d.Created) != 24 || len(d.Updated) != 48 {
		t.Errorf("created %d, updated %d; want 24, 48", len(d.Created), len(d.Updated))
	}
	if s.Len() != 524 {
		t.Errorf("Len %d, want 524", s.Len())
	}
	inside := func(tm time.Time) bool { return tm.After(d.From) && !tm.After(d.To) }
	for _, id := range d.Updated {
		c, _ := s.Conversation(id)
		old := before[id]
		if !inside(c.LastUpdatedTime) || c.LastUpdatedTime.Truncate(time.Millisecond) != c.LastUpdatedTime {
			t.Errorf("%s updated at %s, outside %s..%s", id, c.LastUpdatedTime, d.From, d.To)
		}
		c.LastUpdatedTime, old.LastUpdatedTime = time.Time{}, time.Time{}
		c.LastInteractedTime, old.LastInteractedTime = time.Time{}, time.Time{}
		if jsonOf(t, c) == jsonOf(t, old) {
			t.Errorf("%s: update changed nothing but times", id)
		}
	}
	for _, id := range d.Created {
		c, ok := s.Conversation(id)
		if !ok || before[id].ID != "" || !inside(c.CreationTime) || !inside(c.LastUpdatedTime) {
			t.Errorf("created %s: %+v", id, c)
		}
	}
	if got := convIDs(s.Conversations())[:3]; !slices.Contains(d.Created, got[0]) {
		t.Errorf("newest conversation %s is not a created one", got[0])
	}
}

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdvance_MutationKinds checks that many updates cover every documented
// kind of change.
func TestAdvance_MutationKinds(t *testing.T) {
	s := New(Options{Seed: 13, Conversations: 1500, Start: testStart})
	before := map[string]Conversation{}
	for _, c := range s.Conversations() {
		before[c.ID] = c
	}
	d := s.AdvanceN(6*time.Hour, 0, 600)
	if len(d.Updated) != 600 || len(d.Created) != 0 {
		t.Fatalf("AdvanceN: %d updated, %d created", len(d.Updated), len(d.Created))
	}
	kinds := map[string]int{}
	for _, id := range d.Updated {
		old := before[id]
		c, _ := s.Conversation(id)
		switch {
		case old.Status == "started" && c.Status != "started":
			kinds["ended:"+c.Status]++
		case len(c.Answers) > len(old.Answers):
			kinds["answer appended"]++
		case len(c.Answers) < len(old.Answers):
			kinds["answer removed"]++
		case len(c.Bookings) > len(old.Bookings):
			kinds["booking added"]++
		case slices.ContainsFunc(c.Answers, func(a Answer) bool { return strings.HasSuffix(a.Value, "(edited)") }):
			kinds["answer edited"]++
		default:
			t.Errorf("%s: unrecognised change %+v -> %+v", id, old, c)
		}
	}
	for _, k := range []string{"ended:closed", "ended:abandoned", "answer appended", "answer removed", "booking added", "answer edited"} {
		if kinds[k] == 0 {
			t.Errorf("no %q among %v", k, kinds)
		}
	}
}

func TestAdvance_Deterministic(t *testing.T) {
	run := func() []json.RawMessage {
		s := New(Options{Seed: 14, Conversations: 300, Start: testStart})
		s.Advance(5 * time.Hour)
		s.Advance(90 * time.Minute)
		s.AdvanceN(time.Hour, 3, 7)
		return s.Truth()
	}
	a, b := run(), run()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d conversations", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("item %d differs", i)
		}
	}
}

func TestAdvance_ShowsInTheUpdatedWindow(t *testing.T) {
	s, base := newTest(t, Options{Seed: 15, Conversations: 400})
	d := s.AdvanceN(time.Hour, 5, 10)
	q := "/conversations?limit=100&last_updated_time.gt=" + d.From.Format(time.RFC3339Nano)
	got := pageAll(t, base, q)
	want := append(append([]string{}, d.Created...), d.Updated...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("window after advance: %v, want %v", got, want)
	}
}

func TestUpdate(t *testing.T) {
	s, base := newTest(t, Options{Seed: 16, Conversations: 200, NoQuirks: true})
	var id string
	for _, c := range s.Conversations() {
		if len(c.Answers) >= 2 && len(c.Bookings) > 0 {
			id = c.ID
			break
		}
	}
	if id == "" {
		t.Fatal("no conversation with answers and bookings")
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 1e6, time.UTC)
	err := s.Update(id, at, func(c *Conversation) {
		c.Answers = c.Answers[1:]
		c.Bookings = nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := call(t, base, "/conversations/"+id)
	var got struct {
		LastUpdated string            `json:"last_updated_time"`
		Answers     []json.RawMessage `json:"answers"`
		Bookings    []string          `json:"bookings"`
	}
	_ = json.Unmarshal(r.body, &got)
	if got.LastUpdated != "2025-06-01T12:00:00.001Z" || got.Bookings == nil || len(got.Bookings) != 0 {
		t.Errorf("after update: %s", r.body)
	}
	c, _ := s.Conversation(id)
	if len(got.Answers) != len(c.Answers) {
		t.Errorf("answers %d, want %d", len(got.Answers), len(c.Answers))
	}
	if err := s.Update(id, time.Time{}, func(c *Conversation) { c.ID = "CVR-OTHER00000" }); err == nil {
		t.Error("changing the id was allowed")
	}
	if err := s.Update("CVR-NONE", time.Time{}, nil); err == nil {
		t.Error("updating a missing conversation succeeded")
	}
	if err := s.Update(id, time.Time{}, func(c *Conversation) { c.Contact = "CTC-UNKNOWN000" }); err == nil {
		t.Error("an unknown contact was accepted")
	}
}

func TestAdd_InsertsInListOrder(t *testing.T) {
	s, base := newTest(t, Options{Seed: 17, Conversations: 50})
	cs := s.Conversations()
	c := cs[10]
	c.ID = "CVR-ADDED00001"
	c.CreationTime = cs[10].CreationTime.Add(time.Millisecond)
	if err := s.Add(c); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(c); err == nil {
		t.Error("adding a duplicate id succeeded")
	}
	got := pageAll(t, base, "/conversations?limit=100")
	if got[10] != c.ID || got[11] != cs[10].ID {
		t.Errorf("added conversation at the wrong place: %v", got[8:13])
	}
}

func TestCorrupt_ServesTheInvalidItem(t *testing.T) {
	s, base := newTest(t, Options{Seed: 18, Conversations: 20})
	id := s.Conversations()[2].ID
	if err := s.Corrupt(id, "last_updated_time", `"not a time"`); err != nil {
		t.Fatal(err)
	}
	l := call(t, base, "/conversations?limit=5").list(t)
	var it map[string]any
	_ = json.Unmarshal(l.Data[2], &it)
	if it["id"] != id || it["last_updated_time"] != "not a time" {
		t.Errorf("corrupted item %s", l.Data[2])
	}
	if err := s.Corrupt(id, "", `[1,2,3]`); err != nil {
		t.Fatal(err)
	}
	if r := call(t, base, "/conversations/"+id); string(r.body) != `[1,2,3]` {
		t.Errorf("whole-item corruption: %s", r.body)
	}
	s.Repair(id)
	if r := call(t, base, "/conversations/"+id); !json.Valid(r.body) || strings.Contains(string(r.body), "not a time") {
		t.Errorf("after Repair: %s", r.body)
	}
}

// TestServer_ConcurrentUse pages while the clock advances and tests mutate;
// run with -race.
func TestServer_ConcurrentUse(t *testing.T) {
	s, base := newTest(t, Options{Seed: 19, Conversations: 500})
	id := s.Conversations()[0].ID
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			s.AdvanceN(time.Minute, 2, 5)
			_ = s.Update(id, time.Time{}, func(c *Conversation) { c.Bookings = nil })
			_ = s.Truth()
		}
	}()
	for range 5 {
		if got := pageAll(t, base, "/conversations?limit=100&expand=data.contact"); len(got) < 500 {
			t.Errorf("paged %d conversations", len(got))
		}
	}
	<-done
}
