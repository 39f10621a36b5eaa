package extract

import (
	"bytes"
	"fmt"
	json "github.com/goccy/go-json"
	"strconv"
	"strings"
	"time"
)

// Conversation is one OnceHub conversation (`object: "conversation"`) as the
// list endpoint returns it. Decoding is tolerant of the payload quirks the API
// is known for: expandable fields in any of their forms, null arrays, "" where
// null is meant, the "last_interacted_time " key with a trailing space, second
// or millisecond precision. Unknown fields are not lost: Raw keeps the item's
// JSON exactly as received.
type Conversation struct {
	ID                 string
	Object             string
	CreationTime       Time
	LastUpdatedTime    Time
	LastInteractedTime Time
	InitiatedBy        string
	Status             string
	Contact            Ref[Contact]
	Owner              Ref[User]
	Bot                Ref[Bot]
	Website            Ref[Website]
	Audience           Ref[Audience]
	Answers            []Answer
	Bookings           []string
	Raw                string
}

// Answer is one item of a conversation's answers array.
type Answer struct {
	ID            string  `json:"id"`
	InternalLabel *string `json:"internal_label"`
	Question      string  `json:"question"`
	// Value is the answer text. A non-string JSON value (the API documents
	// strings only) is kept as its JSON text rather than rejected.
	Value *string `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *Answer) UnmarshalJSON(b []byte) error {
	var aux struct {
		ID            string          `json:"id"`
		InternalLabel *string         `json:"internal_label"`
		Question      string          `json:"question"`
		Value         json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	a.ID, a.InternalLabel, a.Question = aux.ID, aux.InternalLabel, aux.Question
	a.Value = nil
	switch v := bytes.TrimSpace(aux.Value); {
	case len(v) == 0 || string(v) == "null":
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("answer %s value: %w", aux.ID, err)
		}
		a.Value = &s
	default:
		s := string(v)
		a.Value = &s
	}
	return nil
}

// UnmarshalJSON implements json.Unmarshaler. It fails only when the item is
// not a JSON object or a field has a type no quirk explains; the caller keeps
// such an item as a reject with the returned reason.
func (c *Conversation) UnmarshalJSON(b []byte) error {
	var aux struct {
		ID                   string        `json:"id"`
		Object               string        `json:"object"`
		CreationTime         Time          `json:"creation_time"`
		LastUpdatedTime      Time          `json:"last_updated_time"`
		LastInteractedTime   Time          `json:"last_interacted_time"`
		LastInteractedTimeSp Time          `json:"last_interacted_time "`
		InitiatedBy          *string       `json:"initiated_by"`
		Status               *string       `json:"status"`
		Contact              Ref[Contact]  `json:"contact"`
		Owner                Ref[User]     `json:"owner"`
		Bot                  Ref[Bot]      `json:"bot"`
		Website              Ref[Website]  `json:"website"`
		Audience             Ref[Audience] `json:"audience"`
		Answers              []Answer      `json:"answers"`
		Bookings             []*string     `json:"bookings"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*c = Conversation{
		ID:                 aux.ID,
		Object:             aux.Object,
		CreationTime:       aux.CreationTime,
		LastUpdatedTime:    aux.LastUpdatedTime,
		LastInteractedTime: aux.LastInteractedTime,
		InitiatedBy:        deref(aux.InitiatedBy),
		Status:             deref(aux.Status),
		Contact:            aux.Contact,
		Owner:              aux.Owner,
		Bot:                aux.Bot,
		Website:            aux.Website,
		Audience:           aux.Audience,
		Answers:            aux.Answers,
		Raw:                string(b),
	}
	if c.LastInteractedTime.IsZero() {
		c.LastInteractedTime = aux.LastInteractedTimeSp
	}
	for _, id := range aux.Bookings {
		if id != nil && *id != "" {
			c.Bookings = append(c.Bookings, *id)
		}
	}
	return nil
}

// Validate reports why a decoded conversation cannot be loaded, or nil. A
// conversation without an id or a last_updated_time can be neither keyed nor
// ordered, so it is rejected rather than guessed at.
func (c *Conversation) Validate() error {
	var missing []string
	if c.ID == "" {
		missing = append(missing, "id")
	}
	if c.CreationTime.IsZero() {
		missing = append(missing, "creation_time")
	}
	if c.LastUpdatedTime.IsZero() {
		missing = append(missing, "last_updated_time")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Time is an API timestamp. The zero Time stands for null, absent or "".
// It accepts RFC 3339 with or without fractional seconds and any offset, and
// numeric Unix times in seconds or milliseconds; it is always held in UTC.
type Time struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		return nil
	}
	if b[0] != '"' {
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("invalid time %s", b)
		}
		t.Time = unixTime(f)
		return nil
	}
	var s string
	if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		s = string(b[1 : len(b)-1]) // no escapes: skip the decoder (hot path)
	} else if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("invalid time %q", s)
	}
	t.Time = p.UTC()
	return nil
}

// unixTime reads a Unix time in seconds, or in milliseconds when it is too
// large to be seconds (after the year 5138).
func unixTime(f float64) time.Time {
	if f > 1e11 {
		return time.UnixMilli(int64(f)).UTC()
	}
	return time.UnixMilli(int64(f * 1000)).UTC()
}

// Ref is an expandable field: the API sends an id string, the expanded object,
// null, or the redacted form of a deleted object ({id, object, deleted}).
// ID is set in every form but null; Obj only when the object was expanded.
type Ref[T any] struct {
	ID      string
	Deleted bool
	Obj     *T
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *Ref[T]) UnmarshalJSON(b []byte) error {
	*r = Ref[T]{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &r.ID)
	case b[0] != '{':
		return fmt.Errorf("expandable field: want id, object or null, got %.40s", b)
	}
	var head struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	r.ID, r.Deleted = head.ID, head.Deleted
	if head.Deleted {
		return nil
	}
	r.Obj = new(T)
	return json.Unmarshal(b, r.Obj)
}

// Contact is an expanded contact (`CTC-`). Optional fields are pointers: nil
// is the API's null (or "", which the API sends for null in places).
type Contact struct {
	CreationTime       Time            `json:"creation_time"`
	LastUpdatedTime    Time            `json:"last_updated_time"`
	LastInteractedTime Time            `json:"last_interacted_time"`
	Owner              *string         `json:"owner"`
	Status             *string         `json:"status"`
	City               *string         `json:"city"`
	CompanySize        *string         `json:"company_size"`
	Company            *string         `json:"company"`
	Country            *string         `json:"country"`
	Email              *string         `json:"email"`
	Employees          *int64          `json:"employees"`
	FirstName          *string         `json:"first_name"`
	HasConsent         *bool           `json:"has_consent"`
	JobTitle           *string         `json:"job_title"`
	LastName           *string         `json:"last_name"`
	MobilePhone        *string         `json:"mobile_phone"`
	Phone              *string         `json:"phone"`
	PostCode           *string         `json:"post_code"`
	Salutation         *string         `json:"salutation"`
	State              *string         `json:"state"`
	StreetAddress      *string         `json:"street_address"`
	TermsOfService     *bool           `json:"terms_of_sevice"` // sic: the API's spelling
	Timezone           *string         `json:"timezone"`
	Bot                *string         `json:"bot"`
	Form               *string         `json:"form"`
	CustomFields       json.RawMessage `json:"custom_fields"`
}

// User is an expanded user (`USR-`), a conversation's owner.
type User struct {
	FirstName *string  `json:"first_name"`
	LastName  *string  `json:"last_name"`
	Email     *string  `json:"email"`
	Status    *string  `json:"status"`
	RoleName  *string  `json:"role_name"`
	Timezone  *string  `json:"timezone"`
	Teams     []string `json:"teams"`
}

// Bot is an expanded chatbot (`BOT-`).
type Bot struct {
	Name *string `json:"name"`
}

// Website is an expanded website (`WEB-`).
type Website struct {
	Name *string `json:"name"`
	URL  *string `json:"url"`
}

// Audience is an expanded audience (`AUD-`).
type Audience struct {
	Name *string `json:"name"`
}
