package extract

import (
	"bytes"
	"errors"
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
	var aux answerJSON
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*a = aux.answer()
	return nil
}

// answerJSON is an Answer as the API sends it. A conversation decodes its
// answers as answerJSON: only the value needs a method of its own.
type answerJSON struct {
	ID            string    `json:"id"`
	InternalLabel *string   `json:"internal_label"`
	Question      string    `json:"question"`
	Value         jsonValue `json:"value"`
}

func (a answerJSON) answer() Answer {
	return Answer{ID: a.ID, InternalLabel: a.InternalLabel, Question: a.Question, Value: a.Value.text}
}

// jsonValue is a string, or the JSON text of a value of another type; nil
// for null.
type jsonValue struct{ text *string }

// UnmarshalJSON implements json.Unmarshaler.
func (v *jsonValue) UnmarshalJSON(b []byte) error {
	v.text = nil
	switch b = bytes.TrimSpace(b); {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '"':
		s, err := jsonString(b)
		if err != nil {
			return err
		}
		v.text = &s
	default:
		s := string(b)
		v.text = &s
	}
	return nil
}

// jsonString decodes a JSON string literal, without the decoder when it has
// no escapes (the hot path: ids, times, answers).
func jsonString(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// UnmarshalJSON implements json.Unmarshaler. It fails only when the item is
// not a JSON object or a field has a type no quirk explains; the caller keeps
// such an item as a reject with the returned reason.
func (c *Conversation) UnmarshalJSON(b []byte) error {
	if err := c.decode(b); err != nil {
		return err
	}
	c.Raw = string(b)
	return nil
}

// decode is UnmarshalJSON but for Raw, which it leaves empty.
func (c *Conversation) decode(b []byte) error {
	var aux struct {
		ID                   string        `json:"id"`
		Object               string        `json:"object"`
		CreationTime         Time          `json:"creation_time"`
		LastUpdatedTime      Time          `json:"last_updated_time"`
		LastInteractedTime   Time          `json:"last_interacted_time"`
		LastInteractedTimeSp Time          `json:"last_interacted_time "`
		InitiatedBy          string        `json:"initiated_by"`
		Status               string        `json:"status"`
		Contact              Ref[Contact]  `json:"contact"`
		Owner                Ref[User]     `json:"owner"`
		Bot                  Ref[Bot]      `json:"bot"`
		Website              Ref[Website]  `json:"website"`
		Audience             Ref[Audience] `json:"audience"`
		Answers              []answerJSON  `json:"answers"`
		Bookings             []string      `json:"bookings"`
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
		InitiatedBy:        aux.InitiatedBy,
		Status:             aux.Status,
		Contact:            aux.Contact,
		Owner:              aux.Owner,
		Bot:                aux.Bot,
		Website:            aux.Website,
		Audience:           aux.Audience,
	}
	if c.LastInteractedTime.IsZero() {
		c.LastInteractedTime = aux.LastInteractedTimeSp
	}
	if aux.Answers != nil {
		c.Answers = make([]Answer, len(aux.Answers))
		for i, a := range aux.Answers {
			c.Answers[i] = a.answer()
		}
	}
	for _, id := range aux.Bookings { // a null id decodes as ""
		if id != "" {
			c.Bookings = append(c.Bookings, id)
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

// Time is an API timestamp. The zero Time stands for null, absent or "".
// It accepts RFC 3339 with or without fractional seconds and any offset, and
// numeric Unix times in seconds or milliseconds (years 0000 to 9999, as a
// string can say); it is always held in UTC.
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
		if t.Time, err = unixTime(f); err != nil {
			return fmt.Errorf("invalid time %s: %w", b, err)
		}
		return nil
	}
	s, err := jsonString(b)
	if err != nil {
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
// large to be seconds (after the year 5138). It must fall in the years an
// RFC 3339 time can name, 0000 to 9999: a larger one overflowed int64 or the
// warehouse's microseconds, which failed every DuckDB commit of its batch and
// stored a wrapped-around date in Parquet.
func unixTime(f float64) (time.Time, error) {
	ms := f * 1000
	if f > 1e11 {
		ms = f
	}
	if !(ms >= float64(minTime.UnixMilli()) && ms <= float64(maxTime.UnixMilli())) {
		return time.Time{}, errors.New("out of range (years 0000 to 9999)")
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// minTime and maxTime are the first and last instants of RFC 3339's years.
var (
	minTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

// Ref is an expandable field: the API sends an id string, the expanded object,
// null, or the redacted form of a deleted object ({id, object, deleted}).
// ID is set in every form but null; Obj only when the object was expanded.
type Ref[T Object] struct {
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
		id, err := jsonString(b)
		r.ID = id
		return err
	case b[0] != '{':
		return fmt.Errorf("expandable field: want id, object or null, got %.40s", b)
	}
	obj := new(T)
	if err := json.Unmarshal(b, obj); err != nil {
		return err
	}
	h := (*obj).head()
	if h.ID == "" {
		// Its attributes have no row to go to, and the reference would
		// load as NULL: nothing would say the API sent an object.
		return errors.New("expanded object without an id")
	}
	r.ID, r.Deleted = h.ID, h.Deleted
	if !h.Deleted {
		r.Obj = obj
	}
	return nil
}

// Head is what an expanded object and its redacted deleted form have in
// common: the id, and whether the object is deleted. Each object type
// embeds it, so one pass decodes both.
type Head struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

func (h Head) head() Head { return h }

// Object is the type of an expandable object: one that embeds Head.
type Object interface{ head() Head }

// Contact is an expanded contact (`CTC-`). A string field is "" for the
// API's null as for "", which the API sends for null in places; the other
// optional fields are pointers, nil for null.
type Contact struct {
	Head
	CreationTime       Time            `json:"creation_time"`
	LastUpdatedTime    Time            `json:"last_updated_time"`
	LastInteractedTime Time            `json:"last_interacted_time"`
	Owner              string          `json:"owner"`
	Status             string          `json:"status"`
	City               string          `json:"city"`
	CompanySize        string          `json:"company_size"`
	Company            string          `json:"company"`
	Country            string          `json:"country"`
	Email              string          `json:"email"`
	Employees          *int64          `json:"employees"`
	FirstName          string          `json:"first_name"`
	HasConsent         *bool           `json:"has_consent"`
	JobTitle           string          `json:"job_title"`
	LastName           string          `json:"last_name"`
	MobilePhone        string          `json:"mobile_phone"`
	Phone              string          `json:"phone"`
	PostCode           string          `json:"post_code"`
	Salutation         string          `json:"salutation"`
	State              string          `json:"state"`
	StreetAddress      string          `json:"street_address"`
	TermsOfService     *bool           `json:"terms_of_sevice"` // sic: the API's spelling
	Timezone           string          `json:"timezone"`
	Bot                string          `json:"bot"`
	Form               string          `json:"form"`
	CustomFields       json.RawMessage `json:"custom_fields"`
}

// User is an expanded user (`USR-`), a conversation's owner.
type User struct {
	Head
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Email     string   `json:"email"`
	Status    string   `json:"status"`
	RoleName  string   `json:"role_name"`
	Timezone  string   `json:"timezone"`
	Teams     []string `json:"teams"`
}

// Bot is an expanded chatbot (`BOT-`).
type Bot struct {
	Head
	Name string `json:"name"`
}

// Website is an expanded website (`WEB-`).
type Website struct {
	Head
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Audience is an expanded audience (`AUD-`).
type Audience struct {
	Head
	Name string `json:"name"`
}
