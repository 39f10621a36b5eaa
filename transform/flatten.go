package transform

import (
	"encoding/json"
	"time"

	"github.com/convsync/convsync/extract"
)

// Flatten turns a page's worth of conversations (and the items that could not
// be decoded) into one Batch. When a conversation occurs more than once, the
// occurrence with the newest last_updated_time wins, and only its answers and
// bookings are kept; on a tie the later occurrence wins. Dimension rows come
// from expanded objects; a full object wins over the redacted deleted form of
// the same id, and otherwise the later occurrence wins.
func Flatten(convs []extract.Conversation, rejects []extract.Reject) *Batch {
	newest := make(map[string]int, len(convs)) // id → index in convs of the winning version
	order := make([]string, 0, len(convs))
	for i := range convs {
		c := &convs[i]
		j, seen := newest[c.ID]
		if !seen {
			order = append(order, c.ID)
		}
		if !seen || !c.LastUpdatedTime.Before(convs[j].LastUpdatedTime.Time) {
			newest[c.ID] = i
		}
	}
	var answers, bookings int
	for _, id := range order {
		c := &convs[newest[id]]
		answers += len(c.Answers)
		bookings += len(c.Bookings)
	}
	b := Batch{
		Conversations: make([]Conversation, 0, len(order)),
		Answers:       make([]Answer, 0, answers),
		Bookings:      make([]Booking, 0, bookings),
	}
	var d dims
	var p ptrs
	for _, id := range order {
		c := &convs[newest[id]]
		b.Conversations = append(b.Conversations, conversationRow(c, &p))
		b.Answers = appendAnswers(b.Answers, c, &p)
		b.Bookings = appendBookings(b.Bookings, c)
		d.add(c)
	}
	d.fill(&b, &p)
	for _, r := range rejects {
		b.Rejects = append(b.Rejects, Reject{ConversationID: p.str(r.ID), Reason: r.Reason, Raw: string(r.Raw)})
	}
	return &b
}

func conversationRow(c *extract.Conversation, p *ptrs) Conversation {
	return Conversation{
		ID:                 c.ID,
		CreationTime:       c.CreationTime.Time,
		LastUpdatedTime:    c.LastUpdatedTime.Time,
		LastInteractedTime: p.time(c.LastInteractedTime),
		InitiatedBy:        p.str(c.InitiatedBy),
		Status:             p.str(c.Status),
		ContactID:          p.str(c.Contact.ID),
		OwnerID:            p.str(c.Owner.ID),
		BotID:              p.str(c.Bot.ID),
		WebsiteID:          p.str(c.Website.ID),
		AudienceID:         p.str(c.Audience.ID),
		AnswerCount:        int32(len(c.Answers)),
		BookingCount:       int32(len(c.Bookings)),
		Raw:                c.Raw,
	}
}

func appendAnswers(rows []Answer, c *extract.Conversation, p *ptrs) []Answer {
	for i, a := range c.Answers {
		rows = append(rows, Answer{
			ConversationID: c.ID,
			Position:       int32(i + 1),
			AnswerID:       p.str(a.ID),
			Question:       p.str(a.Question),
			InternalLabel:  nonEmpty(a.InternalLabel),
			Value:          a.Value,
		})
	}
	return rows
}

func appendBookings(rows []Booking, c *extract.Conversation) []Booking {
	for i, id := range c.Bookings {
		rows = append(rows, Booking{ConversationID: c.ID, Position: int32(i + 1), BookingID: id})
	}
	return rows
}

// ptrs hands out pointers to copies of values, a block of them in one
// allocation rather than one allocation each: a batch has millions.
type ptrs struct {
	strs  slab[string]
	times slab[time.Time]
}

// str is a pointer to a copy of v, or nil for "", which the API sends where
// it means null.
func (p *ptrs) str(v string) *string {
	if v == "" {
		return nil
	}
	return p.strs.ptr(v)
}

// time is a pointer to t, or nil for the zero Time (null).
func (p *ptrs) time(t extract.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return p.times.ptr(t.UTC())
}

// json is the JSON text of raw, or nil for an empty or null value.
func (p *ptrs) json(raw json.RawMessage) *string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return p.strs.ptr(string(raw))
}

type slab[T any] struct{ block []T }

func (s *slab[T]) ptr(v T) *T {
	if len(s.block) == cap(s.block) {
		s.block = make([]T, 0, 1024)
	}
	s.block = append(s.block, v)
	return &s.block[len(s.block)-1]
}

// nonEmpty is p, or nil for a pointer to "", which the API sends where it
// means null. The row shares the decoded string, which nothing changes.
func nonEmpty(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}
