package extract

import (
	"bytes"
	stdjson "encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func mustReadFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodePage_Golden decodes the reference example page and compares the
// result (without Raw) to testdata/conversations-list-page.golden.json.
func TestDecodePage_Golden(t *testing.T) {
	body := mustReadFile(t, "testdata/conversations-list-page.json")
	p, env, err := decodePage(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rejects) != 0 || len(p.Conversations) != 3 || env.HasMore == nil || !*env.HasMore {
		t.Fatalf("page = %d conversations, %d rejects, has_more %v", len(p.Conversations), len(p.Rejects), env.HasMore)
	}
	// Raw is the item byte for byte, as it sits in the response.
	for _, c := range p.Conversations {
		if !bytes.Contains(body, []byte(c.Raw)) || !strings.HasPrefix(c.Raw, "{") || !strings.HasSuffix(c.Raw, "}") {
			t.Errorf("%s: Raw is not a verbatim item of the body: %.80s", c.ID, c.Raw)
		}
	}
	var got bytes.Buffer
	for _, c := range p.Conversations {
		c.Raw = ""
		view := struct {
			Conversation
			AnswerValues []*string // Answer.Value has no JSON tag of its own
		}{Conversation: c}
		for _, a := range c.Answers {
			view.AnswerValues = append(view.AnswerValues, a.Value)
		}
		b, err := stdjson.MarshalIndent(view, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got.Write(b)
		got.WriteByte('\n')
	}
	golden := "testdata/conversations-list-page.golden.json"
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := mustReadFile(t, golden); !bytes.Equal(got.Bytes(), want) {
		t.Errorf("decoded page differs from %s (run with -update to accept):\n%s", golden, got.String())
	}

	// The quirks of the example, spelled out.
	first, second, third := p.Conversations[0], p.Conversations[1], p.Conversations[2]
	if first.Contact.Obj == nil || first.Contact.ID != "CTC-5HN2WQ8ZKD" || first.Contact.Obj.Salutation != "website visitor" {
		t.Errorf("expanded contact = %+v", first.Contact)
	}
	if third.Contact.ID != "CTC-Q8MZ2RT0YV" || !third.Contact.Deleted || third.Contact.Obj != nil {
		t.Errorf("deleted contact = %+v", third.Contact)
	}
	if first.Audience != (Ref[Audience]{}) || second.Audience.ID != "AUD-3KX8Q2M1ZP" {
		t.Errorf("audiences = %+v, %+v", first.Audience, second.Audience)
	}
	if third.Bookings != nil || len(second.Bookings) != 1 {
		t.Errorf("bookings = %v, %v", second.Bookings, third.Bookings)
	}
	if l := third.Answers[0].InternalLabel; l != nil {
		t.Errorf("null internal_label = %q, want nil", *l)
	}
	if l := second.Answers[2].InternalLabel; l == nil || *l != "company_size_question" {
		t.Errorf("internal_label = %v", l)
	}
	if tos := second.Contact.Obj.TermsOfService; tos == nil || *tos {
		t.Errorf("terms_of_sevice = %v, want false", tos)
	}
}

func TestConversation_UnmarshalJSON_Quirks(t *testing.T) {
	ms := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return tm.UTC()
	}
	tests := []struct {
		name   string
		fields string // JSON members added to (or overriding) a minimal valid item
		check  func(t *testing.T, c Conversation)
	}{
		{"ExpandableAsID", `"contact":"CTC-1"`, func(t *testing.T, c Conversation) {
			want(t, c.Contact, Ref[Contact]{ID: "CTC-1"})
		}},
		{"ExpandableAsEscapedID", `"bot":"BOT-\u0031\"x"`, func(t *testing.T, c Conversation) {
			want(t, c.Bot, Ref[Bot]{ID: `BOT-1"x`})
		}},
		{"ExpandableAsObject", `"owner":{"object":"user","id":"USR-1","first_name":"Ann","teams":null}`, func(t *testing.T, c Conversation) {
			want(t, c.Owner.ID, "USR-1")
			want(t, c.Owner.Obj.FirstName, "Ann")
		}},
		{"ExpandableAsNull", `"audience":null,"bot":null`, func(t *testing.T, c Conversation) {
			want(t, c.Audience, Ref[Audience]{})
			want(t, c.Bot, Ref[Bot]{})
		}},
		{"ExpandableDeleted", `"website":{"id":"WEB-1","object":"website","deleted":true}`, func(t *testing.T, c Conversation) {
			want(t, c.Website, Ref[Website]{ID: "WEB-1", Deleted: true})
		}},
		{"NullArrays", `"answers":null,"bookings":null`, func(t *testing.T, c Conversation) {
			want(t, len(c.Answers)+len(c.Bookings), 0)
		}},
		{"NullAndEmptyBookingIDsDropped", `"bookings":["BKNG-1",null,"","BKNG-2"]`, func(t *testing.T, c Conversation) {
			want(t, strings.Join(c.Bookings, ","), "BKNG-1,BKNG-2")
		}},
		{"EmptyStringTimestampIsNull", `"last_interacted_time":""`, func(t *testing.T, c Conversation) {
			want(t, c.LastInteractedTime.IsZero(), true)
		}},
		{"TrailingSpaceKey", `"last_interacted_time ":"2025-03-05T10:41:37.540Z"`, func(t *testing.T, c Conversation) {
			want(t, c.LastInteractedTime.Time, ms("2025-03-05T10:41:37.540Z"))
		}},
		{"ProperKeyWinsOverTrailingSpaceKey", `"last_interacted_time ":"2025-01-01T00:00:00Z","last_interacted_time":"2025-03-05T10:41:37.540Z"`, func(t *testing.T, c Conversation) {
			want(t, c.LastInteractedTime.Time, ms("2025-03-05T10:41:37.540Z"))
		}},
		{"SecondPrecision", `"last_updated_time":"2025-03-05T10:41:37Z"`, func(t *testing.T, c Conversation) {
			want(t, c.LastUpdatedTime.Time, ms("2025-03-05T10:41:37Z"))
		}},
		{"MillisecondPrecision", `"last_updated_time":"2025-03-05T10:41:37.007Z"`, func(t *testing.T, c Conversation) {
			want(t, c.LastUpdatedTime.Time, ms("2025-03-05T10:41:37.007Z"))
		}},
		{"OffsetNormalisedToUTC", `"last_updated_time":"2025-03-05T12:41:37.540+02:00"`, func(t *testing.T, c Conversation) {
			want(t, c.LastUpdatedTime.Time, ms("2025-03-05T10:41:37.540Z"))
			want(t, c.LastUpdatedTime.Location(), time.UTC)
		}},
		{"EscapedTimestamp", `"last_updated_time":"2025-03-05T10:41:37.540\u005a"`, func(t *testing.T, c Conversation) {
			want(t, c.LastUpdatedTime.Time, ms("2025-03-05T10:41:37.540Z"))
		}},
		{"EpochSeconds", `"last_updated_time":1741171297`, func(t *testing.T, c Conversation) {
			want(t, c.LastUpdatedTime.Time, ms("2025-03-05T10:41:37Z"))
		}},
		{"EpochMilliseconds", `"last_updated_time":1741171297540`, func(t *testing.T, c Conversation) {
			want(t, c.LastUpdatedTime.Time, ms("2025-03-05T10:41:37.540Z"))
		}},
		{"UnknownEnumKept", `"status":"escalated","initiated_by":"api"`, func(t *testing.T, c Conversation) {
			want(t, c.Status+"/"+c.InitiatedBy, "escalated/api")
		}},
		{"NullEnumsEmpty", `"status":null,"initiated_by":null`, func(t *testing.T, c Conversation) {
			want(t, c.Status+c.InitiatedBy, "")
		}},
		{"UnknownFieldsKeptInRaw", `"sentiment":{"score":0.7},"tags":["a"]`, func(t *testing.T, c Conversation) {
			want(t, strings.Contains(c.Raw, `"sentiment":{"score":0.7},"tags":["a"]`), true)
		}},
		{"NonStringAnswerValues", `"answers":[{"id":"INT-1","question":"n","value":42},{"id":"INT-2","question":"l","value":["a","b"]},{"id":"INT-3","question":"b","value":true},{"id":"INT-4","question":"x","value":null},{"id":"INT-5","question":"s","value":"caf\u00e9"}]`, func(t *testing.T, c Conversation) {
			var got []string
			for _, a := range c.Answers {
				if a.Value == nil {
					got = append(got, "<nil>")
				} else {
					got = append(got, *a.Value)
				}
			}
			want(t, strings.Join(got, "|"), `42|["a","b"]|true|<nil>|café`)
		}},
		{"ContactQuirks", `"contact":{"id":"CTC-1","object":"contact","last_interacted_time":"","terms_of_sevice":null,"employees":12,"custom_fields":null,"bot":"BOT-1","form":null}`, func(t *testing.T, c Conversation) {
			o := c.Contact.Obj
			want(t, o.LastInteractedTime.IsZero() && o.TermsOfService == nil && *o.Employees == 12 && o.Bot == "BOT-1" && o.Form == "", true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := minimalItem(tt.fields)
			c, err := decodeConversation(raw)
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, raw)
			}
			if c.Raw != string(raw) {
				t.Errorf("Raw = %s, want the item byte for byte", c.Raw)
			}
			tt.check(t, c)
		})
	}
}

// minimalItem is a valid conversation with fields appended; JSON decoding
// keeps the last of duplicate keys, so fields override the defaults.
func minimalItem(fields string) []byte {
	s := `{"object":"conversation", "id":"CVR-1","creation_time":"2025-03-05T10:41:02.117Z","last_updated_time":"2025-03-05T10:41:37.540Z"`
	if fields != "" {
		s += "," + fields
	}
	return []byte(s + "}")
}

func want[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestDecodePage_Rejects(t *testing.T) {
	tests := []struct {
		name, item, wantID, wantReason string
	}{
		{"BadTime", `{"id":"CVR-1","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"yesterday"}`,
			"CVR-1", `last_updated_time: invalid time "yesterday" (value "yesterday")`},
		{"StatusNotAString", `{"id":"CVR-2","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z","status":7}`,
			"CVR-2", `status: want string, got number (value 7)`},
		{"ContactANumber", `{"id":"CVR-3","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z","contact":12}`,
			"CVR-3", `contact: expandable field: want id, object or null, got 12 (value 12)`},
		{"AnswersNotAnArray", `{"id":"CVR-4","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z","answers":{"id":"INT-1"}}`,
			"CVR-4", `answers: want array, got object (value {"id":"INT-1"})`},
		// A field inside an object or an array is named by its path, with
		// its own value: the reason said "contact: want int64, got string"
		// and quoted the contact's first 80 bytes, or named Go types.
		{"ContactFieldWrongType", `{"id":"CVR-7","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z","contact":{"id":"CTC-1","object":"contact","first_name":"Ann","last_name":"Lee","email":"ann@example.com","employees":"42"}}`,
			"CVR-7", `contact.employees: want integer, got string (value "42")`},
		{"AnswerNotAnObject", `{"id":"CVR-8","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z","answers":[{"id":"INT-1","question":"Q","value":"v"},"x"]}`,
			"CVR-8", `answers[1]: want object, got string (value "x")`},
		{"AnswerIDNotAString", `{"id":"CVR-9","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z","answers":[{"id":5,"question":"Q","value":"v"}]}`,
			"CVR-9", `answers[0].id: want string, got number (value 5)`},
		{"TeamNotAString", `{"id":"CVR-10","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z","owner":{"id":"USR-1","object":"user","teams":["TM-1",7]}}`,
			"CVR-10", `owner.teams[1]: want string, got number (value 7)`},
		{"MissingUpdatedTime", `{"id":"CVR-5","creation_time":"2025-03-05T10:41:02Z","last_updated_time":""}`,
			"CVR-5", `missing last_updated_time`},
		{"MissingID", `{"creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z"}`,
			"", `missing id`},
		{"NotAnObject", `42`, "", `not a JSON object: 42`},
		{"IDNotAString", `{"id":5}`, "", `id: want string, got number (value 5)`},
		// The value quoted in the reason is cut short between characters,
		// never inside one: a reason must be UTF-8 to be stored.
		{"LongValueCutBetweenCharacters", `{"id":"CVR-6","creation_time":"` + strings.Repeat("é", 60) + `","last_updated_time":"2025-03-05T10:41:02Z"}`,
			"CVR-6", `creation_time: invalid time "` + strings.Repeat("é", 60) + `" (value "` + strings.Repeat("é", 39) + `…)`},
	}
	var items []string
	for _, tt := range tests {
		items = append(items, string(minimalItem(`"id":"CVR-OK-`+tt.name+`"`)), tt.item)
	}
	body := `{"object":"list","data":[` + strings.Join(items, ",\n") + `],"has_more":false}`
	p, _, err := decodePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conversations) != len(tests) {
		t.Errorf("kept %d conversations, want %d (the good items around each reject)", len(p.Conversations), len(tests))
	}
	if len(p.Rejects) != len(tests) {
		t.Fatalf("rejects = %+v", p.Rejects)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Rejects[i]
			want(t, r.ID, tt.wantID)
			want(t, r.Reason, tt.wantReason)
			want(t, string(r.Raw), tt.item)
		})
	}
}

// TestDecodePage_InvalidUTF8: an item that is not UTF-8 (JSON must be) is a
// reject whose reason gives the first bad byte's place with the text around
// it, kept with its invalid bytes replaced by U+FFFD, since a warehouse's
// text columns hold UTF-8 only; the items around it are kept. Escapes that
// decode to odd characters are valid JSON and load.
func TestDecodePage_InvalidUTF8(t *testing.T) {
	badValue := `{"id":"CVR-1","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z",` +
		`"answers":[{"id":"INT-1","question":"Name?","value":"Jos` + "\xe9 \xff\xfe" + `"}]}`
	badID := `{"id":"CVR-` + "\xc3" + `","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z"}`
	odd := `{"id":"CVR-3","creation_time":"2025-03-05T10:41:02Z","last_updated_time":"2025-03-05T10:41:02Z",` +
		`"answers":[{"id":"INT-1","value":"nul \u0000, lone \ud800, replacement ` + "\uFFFD" + `"}]}`
	body := `{"object":"list","data":[` + strings.Join([]string{badValue, odd, badID}, ",") + `],"has_more":false}`
	p, _, err := decodePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conversations) != 1 || p.Conversations[0].ID != "CVR-3" {
		t.Fatalf("kept %+v, want CVR-3 only", p.Conversations)
	}
	if got := p.Conversations[0].Answers[0].Value; got == nil || !utf8.ValidString(*got) {
		t.Errorf("CVR-3's answer = %v, want valid UTF-8", got)
	}
	if len(p.Rejects) != 2 {
		t.Fatalf("rejects = %+v, want 2", p.Rejects)
	}
	r := p.Rejects[0]
	want(t, r.ID, "CVR-1")
	want(t, r.Reason, `invalid UTF-8 at byte 152 (0xE9): …:"INT-1","question":"Name?","value":"Jos\xE9 \xFF\xFE"}]}`)
	want(t, string(r.Raw), strings.NewReplacer("\xe9", "\uFFFD", "\xff\xfe", "\uFFFD").Replace(badValue))
	r = p.Rejects[1]
	want(t, r.ID, "CVR-\uFFFD")
	want(t, r.Reason, `invalid UTF-8 at byte 11 (0xC3): {"id":"CVR-\xC3","creation_time":"2025-03-05T10:41:02Z…`)
	want(t, string(r.Raw), strings.Replace(badID, "\xc3", "\uFFFD", 1))
	for _, r := range p.Rejects {
		if !utf8.ValidString(r.ID) || !utf8.ValidString(r.Reason) || !utf8.Valid(r.Raw) {
			t.Errorf("reject %+v is not UTF-8", r)
		}
	}
}

func TestDecodePage_EnvelopeTolerance(t *testing.T) {
	tests := map[string]struct {
		body  string
		items int
	}{
		"NullData":       {`{"object":"list","data":null,"has_more":false}`, 0},
		"NoObjectField":  {`{"data":[],"has_more":false}`, 0},
		"UnknownMembers": {`{"object":"list","url":"/v2/conversations","data":[],"has_more":false,"total":0}`, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p, _, err := decodePage([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			want(t, len(p.Conversations), tt.items)
		})
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct{ name, header, want string }{
		{"Documented", `<https://api.oncehub.com/bookings?after=BKNG-22RN37EED5WS&limit=10>; rel="next", <https://api.oncehub.com/bookings?before=BKNG-D3EYIES69QMH&limit=10>; rel="previous"`,
			"https://api.oncehub.com/bookings?after=BKNG-22RN37EED5WS&limit=10"},
		{"PreviousFirst", `<https://x/c?before=A>; rel="previous", <https://x/c?after=B>; rel="next"`, "https://x/c?after=B"},
		{"CommasInURL", `<https://x/c?after=B&expand=data.contact,data.owner>; rel="next"`, "https://x/c?after=B&expand=data.contact,data.owner"},
		{"UnquotedAndMultiRel", `<https://x/c?after=B>;rel=next, <https://x/c?after=Z>; rel="last next"`, "https://x/c?after=B"},
		{"OnlyPrevious", `<https://x/c?before=A>; rel="previous"`, ""},
		{"Empty", ``, ""},
		{"Garbage", `<oops`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := nextLink(tt.header)
			want(t, got, tt.want)
			want(t, ok, tt.want != "")
		})
	}
}

// longestWait is the longest Retry-After a Duration holds, in whole seconds.
const longestWait = math.MaxInt64 / time.Second * time.Second

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		header string
		want   time.Duration
	}{
		"Absent":      {"", 0},
		"Seconds":     {"7", 7 * time.Second},
		"HTTPDate":    {now.Add(90 * time.Second).Format(http1123), 90 * time.Second},
		"PastDate":    {now.Add(-time.Minute).Format(http1123), 0},
		"Unreadable":  {"soon", 0},
		"NegativeSec": {"-3", 0},
		// Past what a Duration holds, or an int: the longest wait, not none
		// (none is retried at once, on the ordinary backoff).
		"PastADuration": {"9223372037", longestWait},
		"PastAnInt":     {"99999999999999999999", longestWait},
		"PastAnIntNeg":  {"-99999999999999999999", 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			want(t, retryAfter(tt.header, now), tt.want)
		})
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// BenchmarkDecodePage decodes a generated page of 100 expanded conversations.
func BenchmarkDecodePage(b *testing.B) {
	body := generatedPage(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := decodePage(body)
		if err != nil || len(p.Conversations) != 100 {
			b.Fatal(err, len(p.Rejects))
		}
	}
}

// generatedPage is a list page of n conversations shaped like the reference
// example: expanded contact and owner, four answers, a booking.
func generatedPage(n int) []byte {
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"object":"conversation","id":"CVR-%010d","creation_time":"2025-03-05T10:41:02.117Z",`+
			`"initiated_by":"contact","last_updated_time":"2025-03-05T10:41:37.540Z","last_interacted_time":"2025-03-05T10:41:37.540Z",`+
			`"contact":{"object":"contact","id":"CTC-%010d","creation_time":"2024-11-18T09:48:48.000Z","last_updated_time":"2025-03-04T15:09:47.120Z",`+
			`"last_interacted_time":"2025-03-04T15:09:40.005Z","owner":"USR-GNSBE50D6A","status":"Qualified","city":"New York","company_size":"50-100",`+
			`"company":"Acme Inc","country":"United States","email":"carrie.customer@example.com","employees":null,"first_name":"Carrie",`+
			`"has_consent":true,"job_title":"Executive Assistant","last_name":"Customer","mobile_phone":"+12025550195","phone":null,`+
			`"post_code":"10001","salutation":"Ms.","state":"New York","street_address":"123 Main Street","terms_of_sevice":false,`+
			`"timezone":"America/New_York","custom_fields":[{"name":"reason_for_contacting","value":"Product demo"}]},`+
			`"owner":{"object":"user","id":"USR-GNSBE50D6A","first_name":"Olive","last_name":"Owner","email":"olive@example.com","status":"active",`+
			`"role_name":"Member","timezone":"Europe/London","teams":["TM-1"]},"status":"closed","bot":"BOT-62774A40FB","website":"WEB-B1D45D12BB",`+
			`"audience":null,"answers":[{"id":"INT-5D22DCBE36","internal_label":"","question":"Full name","value":"Carrie Customer"},`+
			`{"id":"INT-4CC379BB35","internal_label":"","question":"Email address","value":"carrie.customer@example.com"},`+
			`{"id":"INT-013A1D5216","internal_label":"company_size_question","question":"How many people work at your company?","value":"50-100"},`+
			`{"id":"INT-0000000001","internal_label":null,"question":"Anything else?","value":"No, thank you, that is all for now."}],`+
			`"bookings":["BKNG-3KM0HY2BF9SL"]}`, i, i))
	}
	return []byte(`{"object":"list","data":[` + strings.Join(items, ",") + `],"has_more":true}`)
}

// readBody reads a body whose size the response announces into one buffer
// (io.ReadAll grew its buffer from 512 bytes: twice the body in allocations,
// in a dozen steps), reads one without a size whole, and cuts any one byte
// past maxBody, so that the caller can tell.
func TestReadBody(t *testing.T) {
	body := bytes.Repeat([]byte(`{"id":"CVR-1"},`), 11_000) // a page's size
	for _, n := range []int64{int64(len(body)), -1} {
		res := &http.Response{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: n}
		got, err := readBody(res)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("content length %d: read %d bytes, err %v; want the %d sent", n, len(got), err, len(body))
		}
	}
	allocs := testing.AllocsPerRun(10, func() {
		_, _ = readBody(&http.Response{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))})
	})
	if allocs > 5 { // the response's reader and body, the limit, one buffer
		t.Errorf("%v allocations to read a body of announced size", allocs)
	}
	long := &http.Response{Body: io.NopCloser(io.LimitReader(zeros{}, maxBody+2)), ContentLength: maxBody + 2}
	got, err := readBody(long)
	if err != nil || len(got) != maxBody+1 {
		t.Errorf("a body past maxBody: read %d bytes, err %v; want %d", len(got), err, maxBody+1)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestDecodeConversation_WebhookSample decodes the conversation of the
// reference's conversation.closed webhook, the one sample with the owner,
// bot and website expanded (and the audience an id).
func TestDecodeConversation_WebhookSample(t *testing.T) {
	var event struct {
		Data stdjson.RawMessage `json:"data"`
	}
	if err := stdjson.Unmarshal(mustReadFile(t, "testdata/webhook-event-conversation-closed.json"), &event); err != nil {
		t.Fatal(err)
	}
	c, err := decodeConversation(event.Data)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "CVR-7Q2KD9LM4X" || c.Status != "closed" || len(c.Answers) != 3 || len(c.Bookings) != 1 {
		t.Errorf("conversation = %s %s, %d answers, %d bookings", c.ID, c.Status, len(c.Answers), len(c.Bookings))
	}
	if o := c.Owner.Obj; o == nil || c.Owner.ID != "USR-GNSBE50D6A" || o.FirstName != "Andrea" || o.RoleName != "Member" || len(o.Teams) != 1 {
		t.Errorf("owner = %+v", c.Owner)
	}
	if b := c.Bot.Obj; b == nil || c.Bot.ID != "BOT-62774A40FB" || b.Name != "Website qualification bot" {
		t.Errorf("bot = %+v", c.Bot)
	}
	if w := c.Website.Obj; w == nil || c.Website.ID != "WEB-B1D45D12BB" || w.URL != "https://www.example.com" {
		t.Errorf("website = %+v", c.Website)
	}
	if c.Audience.ID != "AUD-3KX8Q2M1ZP" || c.Audience.Obj != nil {
		t.Errorf("audience = %+v, want the id only", c.Audience)
	}
	if k := c.Contact.Obj; k == nil || k.Employees != nil || k.TermsOfService == nil || *k.TermsOfService || k.Timezone != "America/New_York" {
		t.Errorf("contact = %+v", c.Contact)
	}
	if !c.LastInteractedTime.Equal(time.Date(2025, 3, 4, 15, 9, 40, 5_000_000, time.UTC)) {
		t.Errorf("last_interacted_time = %v", c.LastInteractedTime)
	}
}
