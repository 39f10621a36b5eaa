package extract_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/extract/oncehubtest"
)

var simStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newSim starts a simulator of n conversations (quirks on, limits off unless
// opts says otherwise) and a client for it with millisecond retries.
func newSim(t *testing.T, n int, opts ...func(*oncehubtest.Options, *extract.Options)) (*oncehubtest.Server, *extract.Client) {
	t.Helper()
	so := oncehubtest.Options{Seed: 42, Conversations: n, Start: simStart}
	co := extract.Options{APIKey: "test-key", RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond}
	for _, fn := range opts {
		fn(&so, &co)
	}
	sim, base := oncehubtest.NewTestServer(t, so)
	co.BaseURL = base
	c, err := extract.New(co)
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

// fetch reads every page of w and returns the conversations and rejects.
func fetch(t *testing.T, c *extract.Client, w extract.Window) ([]extract.Conversation, []extract.Reject) {
	t.Helper()
	var convs []extract.Conversation
	var rejects []extract.Reject
	err := c.Pages(context.Background(), w, "", func(p extract.Page) error {
		convs = append(convs, p.Conversations...)
		rejects = append(rejects, p.Rejects...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return convs, rejects
}

func ids(convs []extract.Conversation) []string {
	out := make([]string, len(convs))
	for i, c := range convs {
		out[i] = c.ID
	}
	return out
}

func TestSim_FullReadMatchesGroundTruthWithMinimalCalls(t *testing.T) {
	tests := []struct {
		n, wantCalls int
	}{
		{1000, 10}, // exactly full pages: no trailing empty call
		{1050, 11},
	}
	for _, tt := range tests {
		sim, c := newSim(t, tt.n, func(_ *oncehubtest.Options, o *extract.Options) {
			o.Expand = []string{"contact", "owner", "bot", "website", "audience"}
		})
		convs, rejects := fetch(t, c, extract.Window{})
		if len(rejects) != 0 {
			t.Fatalf("n=%d: rejects %+v", tt.n, rejects[0])
		}
		truth := sim.Conversations()
		if len(convs) != len(truth) {
			t.Fatalf("n=%d: read %d conversations, want %d", tt.n, len(convs), len(truth))
		}
		for i, want := range truth {
			got := convs[i]
			if got.ID != want.ID || !got.LastUpdatedTime.Equal(want.LastUpdatedTime) || !got.CreationTime.Equal(want.CreationTime) ||
				!got.LastInteractedTime.Equal(want.LastInteractedTime) || got.Status != want.Status ||
				got.Contact.ID != want.Contact || got.Owner.ID != want.Owner || got.Audience.ID != want.Audience ||
				len(got.Answers) != len(want.Answers) || strings.Join(got.Bookings, ",") != strings.Join(want.Bookings, ",") {
				t.Fatalf("n=%d: item %d = %+v\nwant %+v", tt.n, i, got, want)
			}
			if got.Owner.Obj == nil || got.Bot.Obj == nil || got.Contact.Obj == nil && !got.Contact.Deleted {
				t.Fatalf("n=%d: %s not expanded: %+v", tt.n, got.ID, got)
			}
		}
		calls := sim.Counts().List
		if calls != tt.wantCalls || c.Stats().APICalls != int64(tt.wantCalls) {
			t.Errorf("n=%d: list calls = %d (client %d), want %d", tt.n, calls, c.Stats().APICalls, tt.wantCalls)
		}
		for _, r := range sim.Requests() {
			if strings.Contains(r.Query, "before=") {
				t.Errorf("request sends before: %s", r.Query)
			}
		}
	}
}

func TestSim_SlicedDeltaReadsEachChangeOnce(t *testing.T) {
	sim, c := newSim(t, 500)
	lo := sim.Now()
	d := sim.AdvanceN(6*time.Hour, 40, 130)
	// A change exactly on a slice boundary, and one on the run's upper bound
	// (which belongs to the next run).
	boundary := lo.Add(2 * time.Hour)
	hi := d.To
	if err := sim.Update(d.Updated[0], boundary, nil); err != nil {
		t.Fatal(err)
	}
	if err := sim.Update(d.Updated[1], hi, nil); err != nil {
		t.Fatal(err)
	}
	sim.ResetRequests()

	seen := map[string]int{}
	for _, w := range extract.Slices(lo.Add(time.Millisecond), hi, time.Hour) {
		convs, _ := fetch(t, c, w)
		for _, cv := range convs {
			seen[cv.ID]++
			if cv.LastUpdatedTime.Before(w.Lo) || !cv.LastUpdatedTime.Before(w.Hi) {
				t.Errorf("%s updated %v is outside its window %v", cv.ID, cv.LastUpdatedTime, w)
			}
		}
	}
	// Every change in [lo+1ms, hi) is read exactly once, and nothing else.
	want := 0
	for _, cv := range sim.Conversations() {
		if cv.LastUpdatedTime.After(lo) && cv.LastUpdatedTime.Before(hi) {
			want++
			if seen[cv.ID] != 1 {
				t.Errorf("%s updated %v read %d times, want 1", cv.ID, cv.LastUpdatedTime, seen[cv.ID])
			}
		}
	}
	if seen[d.Updated[0]] != 1 || seen[d.Updated[1]] != 0 {
		t.Errorf("boundary change read %d times (want 1), upper-bound change %d (want 0)", seen[d.Updated[0]], seen[d.Updated[1]])
	}
	if len(seen) != want || want < 160 {
		t.Errorf("read %d distinct conversations, want %d (about 170)", len(seen), want)
	}
	// Six one-hour slices, none with more than 100 changes: one call each.
	if got := sim.Counts().List; got != 6 {
		t.Errorf("list calls = %d, want 6", got)
	}
}

func TestSim_FaultsAreRetriedAndTheReadConverges(t *testing.T) {
	sim, c := newSim(t, 350)
	// The drop comes first: on a fresh connection net/http does not retry it
	// by itself, so every retry below is the client's.
	sim.Drop(1)
	sim.Fail(2, 429, 0)
	sim.Fail(1, 503, 0)
	sim.Fail(1, 500, 0)
	convs, _ := fetch(t, c, extract.Window{})
	if len(convs) != 350 {
		t.Fatalf("read %d conversations, want 350", len(convs))
	}
	got := c.Stats()
	want := extract.Stats{APICalls: 4 + 5, Retries: 5, RateLimited: 2, Pages: 4}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if sim.PendingFaults() != 0 {
		t.Errorf("%d faults did not fire", sim.PendingFaults())
	}
}

func TestSim_EmptyWindowTakesOneCall(t *testing.T) {
	sim, c := newSim(t, 100)
	future := sim.Now().Add(time.Hour)
	convs, _ := fetch(t, c, extract.Window{Lo: future, Hi: future.Add(time.Hour)})
	if len(convs) != 0 || sim.Counts().List != 1 {
		t.Errorf("read %d conversations in %d calls, want 0 in 1", len(convs), sim.Counts().List)
	}
}

func TestSim_RetryAfterIsHonoured(t *testing.T) {
	sim, c := newSim(t, 10)
	sim.Fail(1, 429, time.Second)
	start := time.Now()
	fetch(t, c, extract.Window{})
	if el := time.Since(start); el < time.Second {
		t.Errorf("done after %v, want at least the 1s Retry-After", el)
	}
}

func TestSim_WrongKeyStopsAtOnce(t *testing.T) {
	sim, c := newSim(t, 10, func(_ *oncehubtest.Options, o *extract.Options) { o.APIKey = "wrong-key" })
	err := c.Pages(context.Background(), extract.Window{}, "", func(extract.Page) error { return nil })
	var apiErr *extract.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Message != "Invalid API key." || apiErr.RequestID == "" {
		t.Fatalf("err = %v, want the 401 with message and request id", err)
	}
	if strings.Contains(err.Error(), "wrong-key") {
		t.Errorf("error leaks the key: %v", err)
	}
	if n := sim.Counts().Total; n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
	if _, err := c.Check(context.Background()); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Errorf("Check err = %v", err)
	}
}

func TestSim_CorruptItemBecomesRejectAndTheRestIsKept(t *testing.T) {
	sim, c := newSim(t, 120)
	victim := sim.Conversations()[5].ID
	if err := sim.Corrupt(victim, "last_updated_time", `"not a time"`); err != nil {
		t.Fatal(err)
	}
	other := sim.Conversations()[110].ID
	if err := sim.Corrupt(other, "", `[1,2]`); err != nil {
		t.Fatal(err)
	}
	convs, rejects := fetch(t, c, extract.Window{})
	if len(convs) != 118 || len(rejects) != 2 {
		t.Fatalf("read %d conversations and %d rejects, want 118 and 2", len(convs), len(rejects))
	}
	if rejects[0].ID != victim || rejects[0].Reason != `last_updated_time: invalid time "not a time" (value "not a time")` {
		t.Errorf("reject = %+v", rejects[0])
	}
	if rejects[1].ID != "" || string(rejects[1].Raw) != `[1,2]` || !strings.HasPrefix(rejects[1].Reason, "not a JSON object") {
		t.Errorf("reject = %+v", rejects[1])
	}
}

func TestSim_GetAndCheck(t *testing.T) {
	sim, c := newSim(t, 20, func(_ *oncehubtest.Options, o *extract.Options) { o.Expand = []string{"contact"} })
	want := sim.Conversations()[3]
	got, err := c.Get(context.Background(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || !got.LastUpdatedTime.Equal(want.LastUpdatedTime) || got.Contact.ID != want.Contact ||
		(got.Contact.Obj == nil && !got.Contact.Deleted) {
		t.Errorf("Get = %+v, want %+v", got, want)
	}
	_, err = c.Get(context.Background(), "CVR-DOESNOTEXIST")
	var apiErr *extract.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Param != "id" {
		t.Errorf("Get missing: %v", err)
	}
	msg, err := c.Check(context.Background())
	if err != nil || !strings.Contains(msg, "admin@example.com") {
		t.Errorf("Check = %q, %v", msg, err)
	}
}

// TestSim_RateLimits reads 20 pages back to back from a simulator enforcing
// OnceHub's limits: a client set to the same limits gets no 429, and one
// without limits (the control) does.
func TestSim_RateLimits(t *testing.T) {
	for _, limited := range []bool{true, false} {
		sim, c := newSim(t, 200, func(so *oncehubtest.Options, o *extract.Options) {
			so.RatePerSecond, so.RatePer5Minutes = oncehubtest.RatePerSecond, oncehubtest.RatePer5Minutes
			o.PageSize = 10
			if limited {
				o.RatePerSecond, o.RequestsPer5Min = extract.OnceHubRatePerSecond, extract.OnceHubRequestsPer5Min
			}
		})
		var n int
		err := c.Pages(context.Background(), extract.Window{}, "", func(p extract.Page) error {
			n += len(p.Conversations)
			return nil
		})
		if limited && (err != nil || n != 200) {
			t.Fatalf("limited client read %d, want 200: %v", n, err)
		}
		got429 := sim.Counts().ByStatus[429]
		if limited && (got429 != 0 || c.Stats().RateLimited != 0) {
			t.Errorf("limited client got %d 429s (client counted %d), want 0", got429, c.Stats().RateLimited)
		}
		if !limited && got429 == 0 {
			t.Errorf("control: an unlimited client got no 429; the test proves nothing")
		}
	}
}

func TestSim_ResumeFromPageCursor(t *testing.T) {
	sim, c := newSim(t, 250)
	var cursor string
	stop := errors.New("killed")
	err := c.Pages(context.Background(), extract.Window{}, "", func(p extract.Page) error {
		cursor = p.Next
		return stop // the run dies after committing the first page
	})
	if err != stop {
		t.Fatal(err)
	}
	rest := []string{}
	err = c.Pages(context.Background(), extract.Window{}, cursor, func(p extract.Page) error {
		rest = append(rest, ids(p.Conversations)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	truth := sim.Conversations()[100:]
	want := make([]string, len(truth))
	for i, cv := range truth {
		want[i] = cv.ID
	}
	if strings.Join(rest, ",") != strings.Join(want, ",") {
		t.Errorf("resumed read %d ids, want the %d after the first page", len(rest), len(want))
	}
}

// TestSim_ResumeFromGoneCursor checks that a run resuming at a cursor the
// simulator does not know (a conversation deleted since: 400 on "after")
// reads the whole window instead of failing every run from then on.
func TestSim_ResumeFromGoneCursor(t *testing.T) {
	sim, c := newSim(t, 250)
	var got []string
	err := c.Pages(context.Background(), extract.Window{}, "CVR-NOPE00000000", func(p extract.Page) error {
		got = append(got, ids(p.Conversations)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, cv := range sim.Conversations() {
		want = append(want, cv.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("read %d conversations, want all %d", len(got), len(want))
	}
}

// TestSim_RandomFaultsAreRetriedAndTheReadConverges: against a simulator
// failing a fifth of its requests at random (5xx, 429, dropped
// connections), a read with retries returns every conversation once.
func TestSim_RandomFaultsAreRetriedAndTheReadConverges(t *testing.T) {
	sim, c := newSim(t, 300, func(so *oncehubtest.Options, co *extract.Options) {
		so.FaultRate = 0.2
		co.PageSize = 10
	})
	convs, _ := fetch(t, c, extract.Window{})
	var want []string
	for _, cv := range sim.Conversations() {
		want = append(want, cv.ID)
	}
	if strings.Join(ids(convs), ",") != strings.Join(want, ",") {
		t.Errorf("read %d conversations, want the %d", len(convs), len(want))
	}
	if c.Stats().Retries == 0 {
		t.Error("no retries: the faults did not fire")
	}
}
