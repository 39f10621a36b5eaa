package oncehubtest

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNew_DeterministicFromSeed(t *testing.T) {
	a := New(Options{Seed: 42, Conversations: 300, Start: testStart})
	b := New(Options{Seed: 42, Conversations: 300, Start: testStart})
	c := New(Options{Seed: 43, Conversations: 300, Start: testStart})
	ta, tb, tc := a.Truth(), b.Truth(), c.Truth()
	if len(ta) != 300 {
		t.Fatalf("%d conversations, want 300", len(ta))
	}
	for i := range ta {
		if !bytes.Equal(ta[i], tb[i]) {
			t.Fatalf("item %d differs for the same seed", i)
		}
	}
	if bytes.Equal(ta[0], tc[0]) {
		t.Error("different seeds gave the same first item")
	}
	da, db := a.Dimensions(), b.Dimensions()
	if len(da.Contacts) != len(db.Contacts) || !bytes.Equal(da.Contacts[0], db.Contacts[0]) {
		t.Error("dimensions differ for the same seed")
	}
}

func TestNew_IDsTimesAndShapes(t *testing.T) {
	s := New(Options{Seed: 9, Conversations: 2000, Start: testStart})
	idRe := map[string]*regexp.Regexp{
		"cvr":  regexp.MustCompile(`^CVR-([0-9A-Z]{10}|[0-9A-Z]{12})$`),
		"ctc":  regexp.MustCompile(`^CTC-([0-9A-Z]{10}|[0-9A-Z]{14})$`),
		"usr":  regexp.MustCompile(`^USR-[0-9A-Z]{10}$`),
		"bot":  regexp.MustCompile(`^BOT-[0-9A-Z]{10}$`),
		"web":  regexp.MustCompile(`^WEB-[0-9A-Z]{10}$`),
		"aud":  regexp.MustCompile(`^AUD-[0-9A-Z]{9}$`),
		"int":  regexp.MustCompile(`^INT-[0-9A-Z]{10}$`),
		"bkng": regexp.MustCompile(`^BKNG-[0-9A-Z]{12}$`),
	}
	lens := map[int]bool{}
	intByQuestion := map[string]string{} // bot + question -> INT id
	var nullAudience, withBookings, labelEmpty, labelNull, labelSet int
	for _, c := range s.Conversations() {
		lens[len(c.ID)] = true
		check := func(kind, id string) {
			if !idRe[kind].MatchString(id) {
				t.Fatalf("%s id %q", kind, id)
			}
		}
		check("cvr", c.ID)
		check("ctc", c.Contact)
		check("usr", c.Owner)
		check("bot", c.Bot)
		check("web", c.Website)
		if c.Audience == "" {
			nullAudience++
		} else {
			check("aud", c.Audience)
		}
		for _, b := range c.Bookings {
			check("bkng", b)
		}
		if len(c.Bookings) > 0 {
			withBookings++
		}
		for _, a := range c.Answers {
			check("int", a.ID)
			k := c.Bot + "|" + a.Question
			if prev, ok := intByQuestion[k]; ok && prev != a.ID {
				t.Fatalf("question %q of bot %s has ids %s and %s", a.Question, c.Bot, prev, a.ID)
			}
			intByQuestion[k] = a.ID
			switch {
			case a.InternalLabel == nil:
				labelNull++
			case *a.InternalLabel == "":
				labelEmpty++
			default:
				labelSet++
			}
		}
		if !c.CreationTime.Before(testStart.Add(time.Millisecond)) || c.CreationTime.Before(testStart.Add(-181*24*time.Hour)) ||
			c.LastUpdatedTime.Before(c.CreationTime) || c.LastUpdatedTime.After(testStart) {
			t.Fatalf("%s times: created %s updated %s", c.ID, c.CreationTime, c.LastUpdatedTime)
		}
	}
	if !lens[14] || !lens[16] {
		t.Errorf("CVR id lengths seen: %v, want 10 and 12 characters after the prefix", lens)
	}
	if nullAudience == 0 || withBookings == 0 || labelEmpty == 0 || labelNull == 0 || labelSet == 0 {
		t.Errorf("null audiences %d, with bookings %d, labels empty/null/set %d/%d/%d",
			nullAudience, withBookings, labelEmpty, labelNull, labelSet)
	}
	spread := s.Conversations()
	if first, last := spread[len(spread)-1].CreationTime, spread[0].CreationTime; last.Sub(first) < 150*24*time.Hour {
		t.Errorf("creation times spread over %s only", last.Sub(first))
	}
}

// quirkMarks are substrings each quirk leaves in rendered items.
var quirkMarks = map[string]*regexp.Regexp{
	"spaced key":        regexp.MustCompile(`"last_interacted_time ":`),
	"bookings null":     regexp.MustCompile(`"bookings":null`),
	"empty for null":    regexp.MustCompile(`"last_interacted_time":""`),
	"unknown status":    regexp.MustCompile(`"status":"reached_out"`),
	"unknown initiator": regexp.MustCompile(`"initiated_by":"agent"`),
	"second precision":  regexp.MustCompile(`"creation_time":"[0-9-]{10}T[0-9:]{8}Z"`),
	"extra field":       regexp.MustCompile(`"channel":"website"`),
	"empty label":       regexp.MustCompile(`"internal_label":""`),
}

func TestNew_QuirksPresentUnlessOff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		absent []string // marks that must not appear
	}{
		{"default", Options{}, nil},
		{"off", Options{NoQuirks: true}, []string{"spaced key", "bookings null", "empty for null",
			"unknown status", "unknown initiator", "second precision", "extra field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Seed, tc.opts.Conversations, tc.opts.Start = 10, 3000, testStart
			s := New(tc.opts)
			var all []byte
			for _, raw := range s.Truth() {
				all = append(append(all, raw...), '\n')
			}
			for name, re := range quirkMarks {
				found := re.Match(all)
				want := !strings.Contains(strings.Join(tc.absent, ","), name)
				if found != want {
					t.Errorf("%s: found %v, want %v", name, found, want)
				}
			}
			for i, raw := range s.Truth() {
				if !json.Valid(raw) {
					t.Fatalf("item %d is not valid JSON: %s", i, raw)
				}
			}
		})
	}
}

func TestNew_QuirkyItemsStillTellTheTruth(t *testing.T) {
	s := New(Options{Seed: 11, Conversations: 2000, Start: testStart, QuirkRate: 0.2})
	for _, c := range s.Conversations() {
		if c.Quirks&QuirkSecondPrecision != 0 && c.CreationTime.Nanosecond() != 0 {
			t.Fatalf("%s: second-precision item with a fraction %s", c.ID, c.CreationTime)
		}
	}
	var spaced int
	for _, raw := range s.Truth() {
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		_, a := v["last_interacted_time"]
		_, b := v["last_interacted_time "]
		if a == b {
			t.Fatalf("item must carry exactly one last_interacted_time key: %s", raw)
		}
		if b {
			spaced++
		}
	}
	if spaced == 0 {
		t.Error("no spaced key at QuirkRate 0.2")
	}
}
