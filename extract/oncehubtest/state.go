package oncehubtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Len is the number of conversations.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.order)
}

// Conversation is a copy of the conversation with id, and whether it exists.
func (s *Server) Conversation(id string) (Conversation, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.byID[id]
	if r == nil {
		return Conversation{}, false
	}
	return r.clone(), true
}

// Conversations is a copy of every conversation in list order (newest
// creation_time first, then id descending).
func (s *Server) Conversations() []Conversation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Conversation, len(s.order))
	for i, r := range s.order {
		out[len(out)-1-i] = r.clone()
	}
	return out
}

// Truth is the ground truth: every conversation exactly as the list
// endpoint serves it with everything expanded (quirks and injected
// corruption included), in list order.
func (s *Server) Truth() []json.RawMessage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]json.RawMessage, len(s.order))
	for i, r := range s.order {
		out[len(out)-1-i] = s.appendConversation(nil, r, expandAll)
	}
	return out
}

// Dimensions is every related object as an expansion renders it, including
// ones no conversation references.
func (s *Server) Dimensions() Dimensions {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var d Dimensions
	for _, id := range s.contactIDs {
		d.Contacts = append(d.Contacts, s.contacts[id].json)
	}
	for _, u := range s.users {
		d.Users = append(d.Users, u.json)
	}
	for _, b := range s.bots {
		d.Bots = append(d.Bots, b.json)
	}
	for _, w := range s.websites {
		d.Websites = append(d.Websites, w.json)
	}
	for _, a := range s.audiences {
		d.Audiences = append(d.Audiences, a.json)
	}
	for _, l := range [][]json.RawMessage{d.Contacts, d.Users, d.Bots, d.Websites, d.Audiences} {
		slices.SortFunc(l, func(a, b json.RawMessage) int { return strings.Compare(idOf(a), idOf(b)) })
	}
	return d
}

func idOf(b json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(b, &v) // our own rendering, always valid
	return v.ID
}

// Update changes the conversation with id: fn edits a copy (nil fn changes
// nothing), then, unless at is zero, last_updated_time is set to at. Times
// are stored in UTC at millisecond precision. The id and creation_time
// cannot change (they place the conversation in the list order).
func (s *Server) Update(id string, at time.Time, fn func(*Conversation)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		return fmt.Errorf("update %s: no such conversation", id)
	}
	c := r.clone()
	if fn != nil {
		fn(&c)
	}
	if c.ID != r.ID || !c.CreationTime.Equal(r.CreationTime) {
		return fmt.Errorf("update %s: id and creation_time cannot change", id)
	}
	if !at.IsZero() {
		c.LastUpdatedTime = at
	}
	if err := s.checkRefs(&c); err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	normalize(&c)
	c.CreationTime = r.CreationTime
	r.Conversation = c
	s.index(r)
	return nil
}

// Add inserts a hand-made conversation (its related ids must exist; copy
// them from another conversation). Times are stored in UTC at millisecond
// precision.
func (s *Server) Add(c Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case c.ID == "":
		return fmt.Errorf("add conversation: empty id")
	case s.byID[c.ID] != nil:
		return fmt.Errorf("add %s: id already exists", c.ID)
	case c.CreationTime.IsZero() || c.LastUpdatedTime.IsZero():
		return fmt.Errorf("add %s: creation_time and last_updated_time are required", c.ID)
	}
	if err := s.checkRefs(&c); err != nil {
		return fmt.Errorf("add %s: %w", c.ID, err)
	}
	c = c.clone()
	normalize(&c)
	r := &record{Conversation: c}
	s.byID[c.ID] = r
	i := sort.Search(len(s.order), func(i int) bool { return less(&c, &s.order[i].Conversation) })
	s.order = slices.Insert(s.order, i, r)
	for j := i; j < len(s.order); j++ {
		s.order[j].pos = j
	}
	s.index(r)
	return nil
}

// checkRefs reports a related id the simulator does not know.
func (s *Server) checkRefs(c *Conversation) error {
	for _, id := range []string{c.Contact, c.Owner, c.Bot, c.Website, c.Audience} {
		if id != "" && s.dims[id] == nil {
			return fmt.Errorf("unknown related object %s", id)
		}
	}
	return nil
}

func normalize(c *Conversation) {
	ms := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC().Truncate(time.Millisecond)
	}
	c.CreationTime = ms(c.CreationTime)
	c.LastUpdatedTime = ms(c.LastUpdatedTime)
	c.LastInteractedTime = ms(c.LastInteractedTime)
}

// Corrupt makes the conversation with id serve raw (JSON text, inserted
// verbatim) as the value of field, for testing a client's reject path: e.g.
// Corrupt(id, "last_updated_time", `"not a time"`). An empty raw omits the
// field; an empty field replaces the whole item with raw. Filters and order
// keep using the true values. Corruption shows in Truth too.
func (s *Server) Corrupt(id, field, raw string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		return fmt.Errorf("corrupt %s: no such conversation", id)
	}
	if r.corrupt == nil {
		r.corrupt = map[string]string{}
	}
	r.corrupt[field] = raw
	return nil
}

// Repair removes every corruption of the conversation with id.
func (s *Server) Repair(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byID[id]; r != nil {
		r.corrupt = nil
	}
}
