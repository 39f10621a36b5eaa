package extract

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	json "github.com/goccy/go-json"
)

// envelope is the list response: {"object":"list","data":[…],"has_more":…}.
// HasMore is nil when the server omitted it (older responses did).
type envelope struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	HasMore *bool             `json:"has_more"`
}

// decodePage decodes a list response body. Each item is decoded on its own:
// one that fails to decode or validate becomes a Reject and the rest of the
// page is kept. Only a body that is not a list envelope is an error. Next is
// not set here; see nextCursor.
func decodePage(body []byte) (Page, envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Page{}, env, fmt.Errorf("malformed list envelope: %w", err)
	}
	if env.Object != "" && env.Object != "list" {
		return Page{}, env, fmt.Errorf("malformed list envelope: object is %q, want \"list\"", env.Object)
	}
	// Either tells a list from any other JSON (null, {}, a proxy's or another
	// API's answer), which would otherwise read as an empty last page: the
	// window would end there and the watermark pass over it.
	if env.Object == "" && env.Data == nil {
		return Page{}, env, errors.New(`malformed list envelope: neither "object":"list" nor a data array`)
	}
	p := Page{Conversations: make([]Conversation, 0, len(env.Data))}
	for _, raw := range env.Data {
		c, err := decodeConversation(raw)
		if err != nil {
			p.Rejects = append(p.Rejects, reject(raw, err))
			continue
		}
		p.Conversations = append(p.Conversations, c)
	}
	return p, env, nil
}

// reject keeps an item that could not be loaded, with the reason. A
// warehouse's text columns hold UTF-8 only, so an item that is not UTF-8 is
// kept with each invalid byte replaced by U+FFFD (its reason says where).
func reject(raw []byte, err error) Reject {
	return Reject{
		ID:     strings.ToValidUTF8(itemID(raw), "\uFFFD"),
		Reason: err.Error(),
		Raw:    bytes.ToValidUTF8(raw, []byte("\uFFFD")), // a copy: raw is the page's
	}
}

// decodeConversation decodes and validates one item. Its error is the
// reject reason: it names the field and the value at fault. The
// conversation's Raw shares raw's bytes, which must not change afterwards:
// a copy would allocate each page a second time.
func decodeConversation(raw []byte) (Conversation, error) {
	// JSON is UTF-8, and so are the warehouse's text columns: an invalid
	// byte would fail the commit of every batch holding the item (DuckDB)
	// or make its Parquet file unreadable.
	if !utf8.Valid(raw) {
		return Conversation{}, invalidUTF8(raw)
	}
	var c Conversation
	// Calling the method directly skips a second scan of an item the
	// envelope decode has already checked to be valid JSON.
	if err := c.decode(raw); err != nil {
		return Conversation{}, diagnose(raw, err)
	}
	if len(raw) > 0 {
		c.Raw = unsafe.String(&raw[0], len(raw))
	}
	if err := c.Validate(); err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// diagnose turns a decode failure of a conversation into a reason naming the
// field and its value, by decoding the known fields one at a time. It runs
// only for rejects, so its cost does not matter.
func diagnose(raw []byte, err error) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return fmt.Errorf("not a JSON object: %.60s", bytes.TrimSpace(raw))
	}
	for _, f := range conversationFields() {
		v, ok := fields[f.name]
		if !ok {
			continue
		}
		if ferr := json.Unmarshal(v, f.into()); ferr != nil {
			name := strings.TrimSpace(f.name)
			// A field inside an object or an array (contact.employees,
			// answers[1]) is named by its path and quoted by its own value.
			var typeErr *json.UnmarshalTypeError
			if errors.As(ferr, &typeErr) && typeErr.Field != "" {
				name, v = name+jsonPath(typeErr.Field), valueAt(v, typeErr.Field)
			}
			return fmt.Errorf("%s: %s (value %s)", name, cause(ferr), truncate(string(v), 80))
		}
	}
	return err
}

// jsonPath spells a decoder's field path ("teams.0", "0.id") as a suffix
// of the field's name: ".teams[0]", "[0].id".
func jsonPath(field string) string {
	var b strings.Builder
	for _, k := range strings.Split(field, ".") {
		if _, err := strconv.Atoi(k); err == nil {
			fmt.Fprintf(&b, "[%s]", k)
		} else {
			b.WriteString("." + k)
		}
	}
	return b.String()
}

// valueAt is the value at a decoder's field path inside v, or v when the
// path leads nowhere.
func valueAt(v json.RawMessage, field string) json.RawMessage {
	at := v
	for _, k := range strings.Split(field, ".") {
		var obj map[string]json.RawMessage
		var arr []json.RawMessage
		i, err := strconv.Atoi(k)
		switch {
		case json.Unmarshal(at, &obj) == nil && obj[k] != nil:
			at = obj[k]
		case err == nil && json.Unmarshal(at, &arr) == nil && i >= 0 && i < len(arr):
			at = arr[i]
		default:
			return v
		}
	}
	return at
}

// invalidUTF8 says where raw, which is not valid UTF-8, first breaks it,
// with the text around that byte, invalid bytes shown as \xFF.
func invalidUTF8(raw []byte) error {
	at := 0
	for at < len(raw) {
		r, n := utf8.DecodeRune(raw[at:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		at += n
	}
	lo, hi := max(at-40, 0), min(at+40, len(raw))
	for lo < at && !utf8.RuneStart(raw[lo]) {
		lo++
	}
	for hi < len(raw) && hi > at && !utf8.RuneStart(raw[hi]) {
		hi--
	}
	var b strings.Builder
	if lo > 0 {
		b.WriteString("…")
	}
	for s := raw[lo:hi]; len(s) > 0; {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02X`, s[0])
		} else {
			b.Write(s[:n])
		}
		s = s[n:]
	}
	if hi < len(raw) {
		b.WriteString("…")
	}
	return fmt.Errorf("invalid UTF-8 at byte %d (0x%02X): %s", at, raw[at], b.String())
}

// conversationField is a JSON key of a conversation and a fresh value of the
// type its decoding goes through.
type conversationField struct {
	name string
	into func() any
}

func conversationFields() []conversationField {
	str := func() any { return new(*string) }
	tm := func() any { return new(Time) }
	return []conversationField{
		{"id", str}, {"object", str}, {"initiated_by", str}, {"status", str},
		{"creation_time", tm}, {"last_updated_time", tm},
		{"last_interacted_time", tm}, {"last_interacted_time ", tm},
		{"contact", func() any { return new(Ref[Contact]) }},
		{"owner", func() any { return new(Ref[User]) }},
		{"bot", func() any { return new(Ref[Bot]) }},
		{"website", func() any { return new(Ref[Website]) }},
		{"audience", func() any { return new(Ref[Audience]) }},
		{"answers", func() any { return new([]answerJSON) }},
		{"bookings", func() any { return new([]string) }},
	}
}

// cause strips the decoder's position and Go type noise from err, keeping
// what a person needs: "invalid time \"x\"" or "want string, got number".
func cause(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("want %s, got %s", jsonType(typeErr.Type), typeErr.Value)
	}
	return err.Error()
}

// jsonType is the JSON name of the values a Go type decodes from: the
// reader of a reason knows the payload, not convsync's types.
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonType(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}

// itemID reads the id of an item that could not be decoded, or "".
func itemID(raw []byte) string {
	var head struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &head) != nil {
		return ""
	}
	id, _ := head.ID.(string)
	return id
}

// nextCursor is the `after` for the page following one whose envelope is env
// and whose Link header is link, sent with cursor after, or "" when there is
// none. Paging stops on has_more false, on a response that has neither
// has_more nor a rel="next" link, and on an empty page, unless it says
// has_more with a Link to a cursor other than after (the API drops deleted
// conversations from a list, which may empty a page that has pages after
// it). The cursor is re-derived from the Link URL's `after` (the URL itself
// may lack /v2, so it is not followed) or else from the last item's id;
// has_more true without a link goes on from the last item, since stopping
// there would silently lose pages.
func nextCursor(env envelope, link, after string) (string, error) {
	next, hasLink := nextLink(link)
	linkAfter := ""
	if hasLink {
		if u, err := url.Parse(next); err == nil {
			linkAfter = u.Query().Get("after")
		}
	}
	switch {
	case env.HasMore != nil && !*env.HasMore:
		return "", nil
	case len(env.Data) == 0:
		if env.HasMore != nil && linkAfter != after {
			return linkAfter, nil
		}
		return "", nil
	case env.HasMore == nil && !hasLink:
		return "", nil
	}
	if linkAfter != "" {
		return linkAfter, nil
	}
	if id := itemID(env.Data[len(env.Data)-1]); id != "" {
		return id, nil
	}
	return "", errors.New("more pages announced, but neither a Link after nor the last item's id to continue from")
}

// nextLink returns the URL of the rel="next" entry of a Link header value
// (RFC 8288). URLs may hold commas (an expand list), so entries are split on
// the angle brackets, not on commas.
func nextLink(h string) (string, bool) {
	for {
		i := strings.IndexByte(h, '<')
		if i < 0 {
			return "", false
		}
		j := strings.IndexByte(h[i:], '>')
		if j < 0 {
			return "", false
		}
		target, rest := h[i+1:i+j], h[i+j+1:]
		params := rest
		if k := strings.IndexByte(rest, '<'); k >= 0 {
			params = rest[:k]
		}
		if hasRel(params, "next") {
			return target, true
		}
		h = rest
	}
}

func hasRel(params, want string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		for _, r := range strings.Fields(strings.Trim(strings.TrimSpace(v), `",`)) {
			if strings.EqualFold(r, want) {
				return true
			}
		}
	}
	return false
}
