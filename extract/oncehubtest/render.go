package oncehubtest

import (
	"slices"
	"time"
)

// expandSet is the set of conversation fields a request expands.
type expandSet uint8

const (
	expContact expandSet = 1 << iota
	expOwner
	expBot
	expWebsite
	expAudience
	expandAll = expContact | expOwner | expBot | expWebsite | expAudience
)

var expandNames = map[string]expandSet{
	"contact": expContact, "owner": expOwner, "bot": expBot, "website": expWebsite, "audience": expAudience,
}

const (
	milliLayout  = "2006-01-02T15:04:05.000Z"
	secondLayout = "2006-01-02T15:04:05Z"
)

// fmtMilli formats t the way the API does: UTC, milliseconds, "Z".
func fmtMilli(t time.Time) string { return t.UTC().Format(milliLayout) }

// standardKeys are a conversation's fields in the API's order; corruption of
// any other key is appended after them.
var standardKeys = []string{"object", "id", "creation_time", "initiated_by", "last_updated_time",
	"last_interacted_time", "contact", "owner", "status", "bot", "website", "audience", "answers", "bookings"}

// itemWriter appends one JSON object, letting injected corruption replace
// (or, with "", omit) any field.
type itemWriter struct {
	b       []byte
	n       int
	corrupt map[string]string
}

// field writes the key of the next field and reports whether the caller
// should write its value (false when corruption supplied or omitted it).
func (w *itemWriter) field(k string) bool {
	raw, bad := w.corrupt[k]
	if bad && raw == "" {
		return false
	}
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
	if bad {
		w.b = append(w.b, raw...)
		return false
	}
	return true
}

// appendConversation renders r as the API would, expanding the fields in exp.
// The caller holds s.mu.
func (s *Server) appendConversation(b []byte, r *record, exp expandSet) []byte {
	if raw, ok := r.corrupt[""]; ok {
		return append(b, raw...)
	}
	c := &r.Conversation
	q := c.Quirks
	sec := q&QuirkSecondPrecision != 0
	w := itemWriter{b: append(b, '{'), corrupt: r.corrupt}
	if w.field("object") {
		w.b = append(w.b, `"conversation"`...)
	}
	if w.field("id") {
		w.b = appendString(w.b, c.ID)
	}
	if w.field("creation_time") {
		w.b = appendTime(w.b, c.CreationTime, sec)
	}
	if w.field("initiated_by") {
		w.b = appendString(w.b, c.InitiatedBy)
	}
	if w.field("last_updated_time") {
		w.b = appendTime(w.b, c.LastUpdatedTime, sec)
	}
	key := "last_interacted_time"
	if q&QuirkSpacedKey != 0 {
		key += " "
	}
	if w.field(key) {
		switch {
		case !c.LastInteractedTime.IsZero():
			w.b = appendTime(w.b, c.LastInteractedTime, sec)
		case q&QuirkEmptyForNull != 0:
			w.b = append(w.b, `""`...)
		default:
			w.b = append(w.b, "null"...)
		}
	}
	w.ref(s, "contact", c.Contact, exp&expContact != 0, false)
	w.ref(s, "owner", c.Owner, exp&expOwner != 0, false)
	if w.field("status") {
		w.b = appendString(w.b, c.Status)
	}
	w.ref(s, "bot", c.Bot, exp&expBot != 0, false)
	w.ref(s, "website", c.Website, exp&expWebsite != 0, false)
	w.ref(s, "audience", c.Audience, exp&expAudience != 0, q&QuirkEmptyForNull != 0)
	if w.field("answers") {
		w.b = appendAnswers(w.b, c.Answers, q&QuirkEmptyForNull != 0)
	}
	if w.field("bookings") {
		w.b = appendBookings(w.b, c.Bookings, q&QuirkBookingsNull != 0)
	}
	if q&QuirkExtraField != 0 && w.field("channel") {
		w.b = append(w.b, `"website"`...)
	}
	w.extraCorrupt()
	return append(w.b, '}')
}

// ref writes an expandable field: the id, the expanded object, or null.
func (w *itemWriter) ref(s *Server, k, id string, expand, emptyForNull bool) {
	if !w.field(k) {
		return
	}
	switch {
	case id == "" && emptyForNull && !expand:
		w.b = append(w.b, `""`...)
	case id == "":
		w.b = append(w.b, "null"...)
	case expand && s.dims[id] != nil:
		w.b = append(w.b, s.dims[id].json...)
	default:
		w.b = appendString(w.b, id)
	}
}

// extraCorrupt appends corrupted keys that are not standard fields, in key
// order so the output is deterministic.
func (w *itemWriter) extraCorrupt() {
	var extra []string
	for k := range w.corrupt {
		if k != "" && !slices.Contains(standardKeys, k) && k != "last_interacted_time " {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		w.field(k)
	}
}

func appendAnswers(b []byte, as []Answer, emptyForNull bool) []byte {
	b = append(b, '[')
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, a.ID)
		b = append(b, `,"internal_label":`...)
		switch {
		case a.InternalLabel != nil:
			b = appendString(b, *a.InternalLabel)
		case emptyForNull:
			b = append(b, `""`...)
		default:
			b = append(b, "null"...)
		}
		b = append(b, `,"question":`...)
		b = appendString(b, a.Question)
		b = append(b, `,"value":`...)
		b = appendString(b, a.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendBookings(b []byte, ids []string, null bool) []byte {
	if len(ids) == 0 && null {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, id)
	}
	return append(b, ']')
}

// appendTime writes t in milliseconds, or whole seconds without a fraction
// when sec is set and t has no fraction (QuirkSecondPrecision).
func appendTime(b []byte, t time.Time, sec bool) []byte {
	t = t.UTC()
	layout := milliLayout
	if sec && t.Nanosecond() == 0 {
		layout = secondLayout
	}
	b = append(b, '"')
	b = t.AppendFormat(b, layout)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string; s is assumed to be valid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
