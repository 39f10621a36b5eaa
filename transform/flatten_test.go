package transform_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/extract"
	"github.com/convsync/convsync/transform"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func decodePage(t testing.TB, name string) []extract.Conversation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ Data []extract.Conversation }
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	return env.Data
}

// TestFlatten_Golden flattens the reference list page and compares every row
// of every table with testdata/conversations-list-page.golden.json.
func TestFlatten_Golden(t *testing.T) {
	convs := decodePage(t, "conversations-list-page.json")
	got, err := json.MarshalIndent(transform.Flatten(convs, nil), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "conversations-list-page.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./transform -update to create it)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("Flatten output differs from %s; run with -update and review the diff:\n%s", golden, got)
	}
}

func conv(id, updated string, answers ...string) extract.Conversation {
	t, _ := time.Parse(time.RFC3339Nano, updated)
	c := extract.Conversation{ID: id, LastUpdatedTime: extract.Time{Time: t}, CreationTime: extract.Time{Time: t}}
	for _, a := range answers {
		v := a
		c.Answers = append(c.Answers, extract.Answer{ID: "INT-" + a, Question: "q", Value: &v})
	}
	return c
}

func TestFlatten_NewestVersionWins(t *testing.T) {
	tests := []struct {
		name        string
		in          []extract.Conversation
		wantAnswers []string
	}{
		{"newer later", []extract.Conversation{conv("CVR-1", "2025-01-01T00:00:00.001Z", "a"), conv("CVR-1", "2025-01-01T00:00:00.002Z", "b", "c")}, []string{"b", "c"}},
		{"newer first", []extract.Conversation{conv("CVR-1", "2025-01-01T00:00:00.002Z", "b"), conv("CVR-1", "2025-01-01T00:00:00.001Z", "a", "x")}, []string{"b"}},
		{"tie keeps later", []extract.Conversation{conv("CVR-1", "2025-01-01T00:00:00.002Z", "a"), conv("CVR-1", "2025-01-01T00:00:00.002Z", "b")}, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := transform.Flatten(tt.in, nil)
			if len(b.Conversations) != 1 {
				t.Fatalf("got %d conversation rows, want 1", len(b.Conversations))
			}
			if int(b.Conversations[0].AnswerCount) != len(tt.wantAnswers) {
				t.Errorf("answer_count = %d, want %d", b.Conversations[0].AnswerCount, len(tt.wantAnswers))
			}
			var got []string
			for i, a := range b.Answers {
				if a.Position != int32(i+1) {
					t.Errorf("answer %d has position %d", i, a.Position)
				}
				got = append(got, *a.Value)
			}
			if len(got) != len(tt.wantAnswers) {
				t.Fatalf("answers %v, want %v", got, tt.wantAnswers)
			}
			for i := range got {
				if got[i] != tt.wantAnswers[i] {
					t.Errorf("answers %v, want %v", got, tt.wantAnswers)
				}
			}
		})
	}
}

func TestFlatten_DeletedDimensionNeverHidesFullObject(t *testing.T) {
	name := "Ada"
	full := conv("CVR-1", "2025-01-01T00:00:00Z")
	full.Contact = extract.Ref[extract.Contact]{ID: "CTC-1", Obj: &extract.Contact{FirstName: name}}
	del := conv("CVR-2", "2025-01-01T00:00:00Z")
	del.Contact = extract.Ref[extract.Contact]{ID: "CTC-1", Deleted: true}
	idOnly := conv("CVR-3", "2025-01-01T00:00:00Z")
	idOnly.Contact = extract.Ref[extract.Contact]{ID: "CTC-2"}
	for _, order := range [][]extract.Conversation{{full, del, idOnly}, {del, full, idOnly}} {
		b := transform.Flatten(order, nil)
		if len(b.Contacts) != 1 {
			t.Fatalf("contacts = %+v, want one row for CTC-1 (CTC-2 was never expanded)", b.Contacts)
		}
		if c := b.Contacts[0]; c.Deleted || c.FirstName == nil || *c.FirstName != "Ada" {
			t.Errorf("contact = %+v, want the full object", c)
		}
	}
	b := transform.Flatten([]extract.Conversation{del}, nil)
	if len(b.Contacts) != 1 || !b.Contacts[0].Deleted || b.Contacts[0].FirstName != nil {
		t.Errorf("deleted-only contact = %+v, want an id-only deleted row", b.Contacts)
	}
}

// An object expanded in several conversations of a batch gives one row,
// of its last full form, in the place of its first occurrence.
func TestFlatten_LastFullObjectWins(t *testing.T) {
	withOwner := func(id, owner, name string) extract.Conversation {
		c := conv(id, "2025-01-01T00:00:00Z")
		c.Owner = extract.Ref[extract.User]{ID: owner, Obj: &extract.User{FirstName: name}}
		return c
	}
	b := transform.Flatten([]extract.Conversation{
		withOwner("CVR-1", "USR-1", "Ann"), withOwner("CVR-2", "USR-2", "Bo"), withOwner("CVR-3", "USR-1", "Anna"),
	}, nil)
	var got []string
	for _, u := range b.Users {
		got = append(got, u.ID+"="+*u.FirstName)
	}
	if want := "USR-1=Anna USR-2=Bo"; strings.Join(got, " ") != want {
		t.Errorf("users = %v, want %s", got, want)
	}
}

func TestFlatten_EmptyStringsAreNull(t *testing.T) {
	empty := ""
	c := conv("CVR-1", "2025-01-01T00:00:00Z")
	c.Status = ""
	c.Answers = []extract.Answer{{ID: "INT-1", InternalLabel: &empty, Question: "q", Value: &empty}}
	b := transform.Flatten([]extract.Conversation{c}, nil)
	if b.Conversations[0].Status != nil {
		t.Errorf("status = %q, want NULL", *b.Conversations[0].Status)
	}
	if b.Answers[0].InternalLabel != nil {
		t.Errorf("internal_label = %q, want NULL", *b.Answers[0].InternalLabel)
	}
	if b.Answers[0].Value == nil || *b.Answers[0].Value != "" {
		t.Errorf("value = %v, want the empty answer kept as \"\"", b.Answers[0].Value)
	}
}

func TestFlatten_RejectsKept(t *testing.T) {
	b := transform.Flatten(nil, []extract.Reject{{ID: "CVR-9", Reason: "last_updated_time: invalid time", Raw: json.RawMessage(`{"id":"CVR-9"}`)}})
	if len(b.Rejects) != 1 || *b.Rejects[0].ConversationID != "CVR-9" || b.Rejects[0].Raw != `{"id":"CVR-9"}` {
		t.Errorf("rejects = %+v", b.Rejects)
	}
}

// BenchmarkFlatten flattens a batch of 5,000 conversations made from the
// reference page: each with its own contact, the owners shared, as in a
// batch from the API.
func BenchmarkFlatten(b *testing.B) {
	page := decodePage(b, "conversations-list-page.json")
	convs := make([]extract.Conversation, 5000)
	for i := range convs {
		c := page[i%len(page)]
		c.ID = fmt.Sprintf("CVR-%010d", i)
		if c.Contact.Obj != nil {
			c.Contact.ID = fmt.Sprintf("CTC-%010d", i)
		}
		convs[i] = c
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := transform.Flatten(convs, nil); len(got.Conversations) != len(convs) {
			b.Fatalf("%d conversation rows, want %d", len(got.Conversations), len(convs))
		}
	}
}
