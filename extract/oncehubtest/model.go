package oncehubtest

import (
	"encoding/json"
	"time"
)

// Conversation is the simulator's state of one conversation, with related
// objects as ids. It is what Conversations returns and what Update hands to
// its callback. The API renders it through Quirks: the zero
// LastInteractedTime is null (or "" under QuirkEmptyForNull), Audience ""
// is null, and an empty Bookings is [] (or null under QuirkBookingsNull).
type Conversation struct {
	ID                 string
	CreationTime       time.Time
	LastUpdatedTime    time.Time
	LastInteractedTime time.Time // zero: null
	InitiatedBy        string    // "bot", "contact", or an unknown value under quirks
	Status             string    // "started", "closed", "abandoned", or an unknown value
	Contact            string    // CTC id
	Owner              string    // USR id
	Bot                string    // BOT id
	Website            string    // WEB id
	Audience           string    // AUD id; "" is null
	Answers            []Answer
	Bookings           []string // BKNG ids
	Quirks             Quirk    // how this item deviates from the clean form
}

// Answer is one item of a conversation's answers array. InternalLabel nil
// is null (rendered "" under QuirkEmptyForNull).
type Answer struct {
	ID            string
	InternalLabel *string
	Question      string
	Value         string
}

// Quirk is a set of payload deviations (reference §9) applied when a
// conversation is rendered. The generator sets them on a small share of
// conversations (Options.QuirkRate); tests may set or clear them with Update.
type Quirk uint16

const (
	// QuirkBookingsNull renders an empty bookings list as null instead of [].
	QuirkBookingsNull Quirk = 1 << iota
	// QuirkEmptyForNull renders "" where null is meant: a null
	// last_interacted_time, a null (unexpanded) audience, a null internal_label.
	QuirkEmptyForNull
	// QuirkSpacedKey spells the key "last_interacted_time " with a trailing space.
	QuirkSpacedKey
	// QuirkSecondPrecision renders whole-second times without fraction
	// ("…:05Z"); the generator makes this item's times whole seconds.
	QuirkSecondPrecision
	// QuirkExtraField adds a field the documentation does not know ("channel").
	QuirkExtraField
)

// Dimensions are the related objects exactly as an expansion renders them:
// deleted contacts in their redacted form {id, object, deleted}. Each slice
// is in id order.
type Dimensions struct {
	Contacts  []json.RawMessage
	Users     []json.RawMessage
	Bots      []json.RawMessage
	Websites  []json.RawMessage
	Audiences []json.RawMessage
}

// record is the stored form of a conversation: the state plus what only the
// simulator needs (position in the order, injected corruption).
type record struct {
	Conversation
	pos     int               // index in Server.order (ascending creation, id)
	corrupt map[string]string // field -> raw JSON served instead; "" key: the whole item
}

// dim is one related object: its id and its pre-rendered expanded JSON.
type dim struct {
	id   string
	json []byte
}

// question is one question of a bot's question set; its INT id is reused by
// every conversation with that bot.
type question struct {
	id     string
	label  *string
	text   string
	values []string
}

// botDef is a bot with its ordered question set.
type botDef struct {
	dim
	questions []question
}

// clone returns a deep copy, so callers can never alias the stored state.
func (c Conversation) clone() Conversation {
	out := c
	out.Answers = nil
	if c.Answers != nil {
		out.Answers = make([]Answer, len(c.Answers))
		for i, a := range c.Answers {
			if a.InternalLabel != nil {
				l := *a.InternalLabel
				a.InternalLabel = &l
			}
			out.Answers[i] = a
		}
	}
	if c.Bookings != nil {
		out.Bookings = append([]string{}, c.Bookings...)
	}
	return out
}

// less orders records ascending by (creation_time, id); the list serves the
// reverse of this order.
func less(a, b *Conversation) bool {
	if !a.CreationTime.Equal(b.CreationTime) {
		return a.CreationTime.Before(b.CreationTime)
	}
	return a.ID < b.ID
}
