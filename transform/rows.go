// Package transform turns decoded OnceHub conversations into the rows of the
// warehouse's normalized tables. It is pure: no I/O, no clock, no logging;
// the same conversations always give the same rows.
package transform

import "time"

// Batch is the rows one load commits together. Every slice is deduplicated by
// its table's key: Conversations by ID (the newest last_updated_time wins),
// Answers and Bookings by (ConversationID, Position) and only for the
// conversations in the batch (their whole child set), dimensions by ID.
type Batch struct {
	Conversations []Conversation
	Answers       []Answer
	Bookings      []Booking
	Contacts      []Contact
	Users         []User
	Bots          []Bot
	Websites      []Website
	Audiences     []Audience
	Rejects       []Reject
}

// Len is the number of rows in the batch, all tables together.
func (b *Batch) Len() int {
	return len(b.Conversations) + len(b.Answers) + len(b.Bookings) + len(b.Contacts) +
		len(b.Users) + len(b.Bots) + len(b.Websites) + len(b.Audiences) + len(b.Rejects)
}

// Conversation is a row of `conversations`. Times are UTC; nil is NULL.
type Conversation struct {
	ID                 string
	CreationTime       time.Time
	LastUpdatedTime    time.Time
	LastInteractedTime *time.Time
	InitiatedBy        *string
	Status             *string
	ContactID          *string
	OwnerID            *string
	BotID              *string
	WebsiteID          *string
	AudienceID         *string
	AnswerCount        int32
	BookingCount       int32
	Raw                string // the conversation's JSON exactly as the API sent it
}

// Answer is a row of `conversation_answers`, one per item of the answers
// array; Position is its 1-based place in that array.
type Answer struct {
	ConversationID string
	Position       int32
	AnswerID       *string
	Question       *string
	InternalLabel  *string
	Value          *string
}

// Booking is a row of `conversation_bookings`.
type Booking struct {
	ConversationID string
	Position       int32
	BookingID      string
}

// Contact is a row of `contacts`. A contact seen only in its redacted deleted
// form has Deleted set and every other column nil.
type Contact struct {
	ID                 string
	Deleted            bool
	CreationTime       *time.Time
	LastUpdatedTime    *time.Time
	LastInteractedTime *time.Time
	OwnerID            *string
	Status             *string
	FirstName          *string
	LastName           *string
	Email              *string
	Phone              *string
	MobilePhone        *string
	Salutation         *string
	JobTitle           *string
	Company            *string
	CompanySize        *string
	Employees          *int64
	StreetAddress      *string
	City               *string
	State              *string
	PostCode           *string
	Country            *string
	Timezone           *string
	HasConsent         *bool
	TermsOfService     *bool
	BotID              *string
	Form               *string
	CustomFields       *string // JSON array text
}

// User is a row of `users` (conversation owners).
type User struct {
	ID        string
	Deleted   bool
	FirstName *string
	LastName  *string
	Email     *string
	Status    *string
	RoleName  *string
	Timezone  *string
	Teams     *string // JSON array text of TM- ids
}

// Bot is a row of `bots`.
type Bot struct {
	ID      string
	Deleted bool
	Name    *string
}

// Website is a row of `websites`.
type Website struct {
	ID      string
	Deleted bool
	Name    *string
	URL     *string
}

// Audience is a row of `audiences`.
type Audience struct {
	ID      string
	Deleted bool
	Name    *string
}

// Reject is a row of `_convsync_rejects`: a list item that could not be
// loaded, kept with its reason so nothing is lost.
type Reject struct {
	ConversationID *string
	Reason         string
	Raw            string
}
