package load

import (
	"fmt"
	"testing"
)

// TestFreshKeys checks what freshKeys knows: every id kept, through many
// commits (its sorted runs merge), in the tables empty at open only; not
// the ids of a commit that did not return; nothing once past its bound.
func TestFreshKeys(t *testing.T) {
	f := newFreshKeys([]string{"conversations", "contacts"})
	f.max = 2000
	id := func(prefix string) func(int) string {
		return func(i int) string { return fmt.Sprintf("%s-%d", prefix, i) }
	}
	for c := range 15 { // 15 commits of 100 new ids each
		f.begin()
		if !f.unseen("conversations", 100, id(fmt.Sprint("CVR-", c))) {
			t.Fatalf("commit %d: new ids taken for stored", c)
		}
		f.keep()
	}
	if len(f.keys.runs) > 4 {
		t.Errorf("%d sorted runs for 15 commits: they do not merge", len(f.keys.runs))
	}
	for c := range 15 {
		for i := range 100 {
			if f.unseen("conversations", 1, func(int) string { return fmt.Sprintf("CVR-%d-%d", c, i) }) {
				t.Fatalf("CVR-%d-%d, kept, is taken for new", c, i)
			}
		}
	}
	f.begin()
	if !f.unseen("contacts", 1, id("CVR-0")) {
		t.Error("an id kept for conversations is taken for a stored contact")
	}
	if f.unseen("users", 1, id("USR")) {
		t.Error("users, not empty at open, taken for fresh")
	}

	f.begin()
	f.unseen("conversations", 10, id("LOST")) // its commit fails: no keep
	f.begin()
	if !f.unseen("conversations", 10, id("LOST")) {
		t.Error("the ids of a failed commit are taken for stored")
	}
	f.keep()

	f.begin()
	f.unseen("contacts", 600, id("CTC")) // past the bound of 2000
	f.keep()
	if f.unseen("contacts", 1, id("NEW")) || f.unseen("conversations", 1, id("NEW")) {
		t.Error("new ids taken for new past the bound")
	}
	if f.keys.runs != nil {
		t.Error("ids kept past the bound")
	}
}
