package oncehubtest

import (
	"slices"
	"time"
)

// Delta is what one Advance did, ids in the order they were applied.
type Delta struct {
	From, To time.Time // the advanced interval (From, To]
	Created  []string
	Updated  []string
}

// Advance moves the data clock forward by d (truncated to the millisecond)
// and simulates the account's activity over that interval at
// Options.NewPerHour and Options.UpdatesPerHour (fractions carry over to the
// next call). Every created or updated conversation gets a
// last_updated_time inside (From, To]. Given the same seed and the same
// sequence of calls, the result is the same.
func (s *Server) Advance(d time.Duration) Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := d.Hours()
	s.carryNew += s.opts.NewPerHour * h
	s.carryUpd += s.opts.UpdatesPerHour * h
	nNew, nUpd := int(s.carryNew), int(s.carryUpd)
	s.carryNew -= float64(nNew)
	s.carryUpd -= float64(nUpd)
	return s.advance(d, nNew, nUpd)
}

// AdvanceN is Advance with exact counts: created new conversations and
// updated distinct existing ones (fewer if there are not that many).
func (s *Server) AdvanceN(d time.Duration, created, updated int) Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advance(d, created, updated)
}

// AdvanceTo advances the data clock to t, if t is later than Now.
func (s *Server) AdvanceTo(t time.Time) Delta {
	return s.Advance(t.Sub(s.Now()))
}

func (s *Server) advance(d time.Duration, nNew, nUpd int) Delta {
	from := s.now
	to := from.Add(d).Truncate(time.Millisecond)
	delta := Delta{From: from, To: to}
	if !to.After(from) {
		return delta
	}
	s.now = to
	delta.Updated = s.updateSome(from, to, nUpd)
	delta.Created = s.createSome(from, to, nNew)
	changed := make([]*record, 0, len(delta.Updated)+len(delta.Created))
	for _, id := range slices.Concat(delta.Updated, delta.Created) {
		changed = append(changed, s.byID[id])
	}
	s.index(changed...)
	return delta
}

// updateSome applies nUpd updates to distinct conversations, mostly recent
// ones (which is where a chatbot's activity is), some anywhere.
func (s *Server) updateSome(from, to time.Time, nUpd int) []string {
	n := len(s.order)
	nUpd = min(nUpd, n)
	recent := min(n, max(50, n/20))
	seen := make(map[int]bool, nUpd)
	var ids []string
	for tries := 0; len(ids) < nUpd && tries < 20*nUpd; tries++ {
		j := s.rng.IntN(n)
		if s.chance(0.6) {
			j = n - 1 - s.rng.IntN(recent)
		}
		r := s.order[j]
		if seen[j] || !r.LastUpdatedTime.Before(to) {
			continue
		}
		seen[j] = true
		t := s.between(maxTime(from, r.LastUpdatedTime), to)
		if r.Quirks&QuirkSecondPrecision != 0 {
			if ts := t.Truncate(time.Second); ts.After(from) && ts.After(r.LastUpdatedTime) {
				t = ts
			}
		}
		s.mutate(r, t)
		ids = append(ids, r.ID)
	}
	return ids
}

// mutate applies one plausible change at t: a started conversation gets an
// answer or ends; an ended one has an answer edited, removed or appended, or
// a booking added.
func (s *Server) mutate(r *record, t time.Time) {
	c := &r.Conversation
	next := s.nextQuestion(c)
	p := s.rng.Float64()
	switch {
	case c.Status == "started" && next != nil && p < 0.5:
		s.answer(c, next, t)
	case c.Status == "started":
		c.Status = "closed"
		if p < 0.75 {
			c.Status = "abandoned"
		} else if s.chance(0.5) {
			c.Bookings = append(c.Bookings, s.newID("BKNG", 12))
		}
	case p < 0.35 && len(c.Answers) > 0:
		a := &c.Answers[s.rng.IntN(len(c.Answers))]
		a.Value += " (edited)"
		c.LastInteractedTime = t
	case p < 0.6 && len(c.Answers) > 0:
		i := s.rng.IntN(len(c.Answers))
		c.Answers = slices.Delete(c.Answers, i, i+1)
	case p < 0.8 && next != nil:
		s.answer(c, next, t)
	default:
		c.Bookings = append(c.Bookings, s.newID("BKNG", 12))
	}
	c.LastUpdatedTime = t
}

func (s *Server) answer(c *Conversation, q *question, t time.Time) {
	c.Answers = append(c.Answers, Answer{ID: q.id, InternalLabel: q.label, Question: q.text, Value: s.pick(q.values)})
	c.LastInteractedTime = t
}

// nextQuestion is the first question of the conversation's bot not yet
// answered, or nil.
func (s *Server) nextQuestion(c *Conversation) *question {
	for _, b := range s.bots {
		if b.id != c.Bot {
			continue
		}
		for i := range b.questions {
			q := &b.questions[i]
			if !slices.ContainsFunc(c.Answers, func(a Answer) bool { return a.ID == q.id }) {
				return q
			}
		}
	}
	return nil
}

// createSome adds nNew conversations created in (from, to]; about a third
// come from new contacts.
func (s *Server) createSome(from, to time.Time, nNew int) []string {
	if nNew <= 0 {
		return nil
	}
	fresh := make([]*record, 0, nNew)
	for range nNew {
		created := s.between(from, to)
		contact := s.pick(s.contactIDs)
		if s.chance(0.3) {
			contact = s.newContact(from, created, false).id
		}
		r := s.newConversation(created, to, contact)
		s.byID[r.ID] = r
		fresh = append(fresh, r)
	}
	ids := make([]string, len(fresh))
	for i, r := range fresh {
		ids[i] = r.ID
	}
	s.insert(fresh...)
	return ids
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// insert adds records to the order: appended when all are newer than the
// newest (the usual case, cheap), else by a full re-sort.
func (s *Server) insert(rs ...*record) {
	slices.SortFunc(rs, cmpRecord)
	n := len(s.order)
	s.order = append(s.order, rs...)
	if n > 0 && len(rs) > 0 && !less(&s.order[n-1].Conversation, &rs[0].Conversation) {
		s.sortOrder()
		return
	}
	for i := n; i < len(s.order); i++ {
		s.order[i].pos = i
	}
}
