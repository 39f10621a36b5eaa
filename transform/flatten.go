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
	var b Batch
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
	var d dims
	for _, id := range order {
		c := &convs[newest[id]]
		b.Conversations = append(b.Conversations, conversationRow(c))
		b.Answers = appendAnswers(b.Answers, c)
		b.Bookings = appendBookings(b.Bookings, c)
		d.add(c)
	}
	d.fill(&b)
	for _, r := range rejects {
		b.Rejects = append(b.Rejects, Reject{ConversationID: nonEmpty(r.ID), Reason: r.Reason, Raw: string(r.Raw)})
	}
	return &b
}

func conversationRow(c *extract.Conversation) Conversation {
	return Conversation{
		ID:                 c.ID,
		CreationTime:       c.CreationTime.Time,
		LastUpdatedTime:    c.LastUpdatedTime.Time,
		LastInteractedTime: timePtr(c.LastInteractedTime),
		InitiatedBy:        nonEmpty(c.InitiatedBy),
		Status:             nonEmpty(c.Status),
		ContactID:          nonEmpty(c.Contact.ID),
		OwnerID:            nonEmpty(c.Owner.ID),
		BotID:              nonEmpty(c.Bot.ID),
		WebsiteID:          nonEmpty(c.Website.ID),
		AudienceID:         nonEmpty(c.Audience.ID),
		AnswerCount:        int32(len(c.Answers)),
		BookingCount:       int32(len(c.Bookings)),
		Raw:                c.Raw,
	}
}

func appendAnswers(rows []Answer, c *extract.Conversation) []Answer {
	for i, a := range c.Answers {
		rows = append(rows, Answer{
			ConversationID: c.ID,
			Position:       int32(i + 1),
			AnswerID:       nonEmpty(a.ID),
			Question:       nonEmpty(a.Question),
			InternalLabel:  nonEmptyPtr(a.InternalLabel),
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

// nonEmpty is nil for "", which the API sends where it means null.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonEmptyPtr(s *string) *string {
	if s == nil {
		return nil
	}
	return nonEmpty(*s)
}

func timePtr(t extract.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// jsonText is the JSON text of v, or nil for an empty or null value.
func jsonText(raw json.RawMessage) *string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	s := string(raw)
	return &s
}
