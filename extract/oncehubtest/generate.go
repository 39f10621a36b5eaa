package oncehubtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// newID issues a fresh id: prefix, "-", n uppercase alphanumerics. Ids never
// repeat within a Server.
func (s *Server) newID(prefix string, n int) string {
	for {
		b := make([]byte, 0, len(prefix)+1+n)
		b = append(b, prefix...)
		b = append(b, '-')
		for range n {
			b = append(b, idAlphabet[s.rng.IntN(len(idAlphabet))])
		}
		id := string(b)
		if prefix == "CVR" {
			if s.byID[id] == nil {
				return id
			}
			continue
		}
		if !s.ids[id] {
			s.ids[id] = true
			return id
		}
	}
}

// cvrID is a conversation id; OnceHub's have 10 or 12 characters.
func (s *Server) cvrID() string {
	if s.rng.IntN(2) == 0 {
		return s.newID("CVR", 10)
	}
	return s.newID("CVR", 12)
}

func (s *Server) pick(xs []string) string { return xs[s.rng.IntN(len(xs))] }

func (s *Server) chance(p float64) bool { return s.rng.Float64() < p }

// between is a random instant in (from, to] at millisecond precision, or to
// when the interval is shorter than a millisecond.
func (s *Server) between(from, to time.Time) time.Time {
	ms := to.Sub(from).Milliseconds()
	if ms < 1 {
		return to
	}
	return from.Add(time.Duration(1+s.rng.Int64N(ms)) * time.Millisecond)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("oncehubtest: marshal %T: %v", v, err))
	}
	return b
}

func (s *Server) addDim(d *dim) *dim {
	s.dims[d.id] = d
	return d
}

// generate builds the dimensions and the initial conversations. The order of
// random draws is fixed, so the seed decides everything.
func (s *Server) generate() {
	n := s.opts.Conversations
	for range 8 {
		s.users = append(s.users, s.addDim(s.newUser()))
	}
	for i := range 5 {
		s.bots = append(s.bots, s.newBot(i))
	}
	for i := range 3 {
		id := s.newID("WEB", 10)
		s.websites = append(s.websites, s.addDim(&dim{id: id, json: mustJSON(struct {
			ID     string `json:"id"`
			Object string `json:"object"`
			Name   string `json:"name"`
			URL    string `json:"url"`
		}{id, "website", websiteNames[i], websiteURLs[i]})}))
	}
	for i := range 4 {
		id := s.newID("AUD", 9)
		s.audiences = append(s.audiences, s.addDim(&dim{id: id, json: mustJSON(struct {
			ID     string `json:"id"`
			Object string `json:"object"`
			Name   string `json:"name"`
		}{id, "audience", audienceNames[i]})}))
	}
	for i := range n/4 + 10 {
		s.newContact(s.opts.Start.Add(-s.opts.Span-30*24*time.Hour), s.opts.Start, i == 3)
	}
	s.order = make([]*record, 0, n)
	for range n {
		created := s.between(s.opts.Start.Add(-s.opts.Span), s.opts.Start)
		r := s.newConversation(created, s.opts.Start, s.pick(s.contactIDs))
		s.byID[r.ID] = r
		s.order = append(s.order, r)
	}
	s.sortOrder()
	s.index(s.order...)
}

// sortOrder restores the (creation_time, id) order and every record's pos.
func (s *Server) sortOrder() {
	slices.SortFunc(s.order, cmpRecord)
	for i, r := range s.order {
		r.pos = i
	}
}

func (s *Server) newUser() *dim {
	id := s.newID("USR", 10)
	first, last := s.pick(firstNames), s.pick(lastNames)
	status := "active"
	if s.chance(0.2) {
		status = "invited"
	}
	return &dim{id: id, json: mustJSON(struct {
		Object    string   `json:"object"`
		ID        string   `json:"id"`
		FirstName string   `json:"first_name"`
		LastName  string   `json:"last_name"`
		Email     string   `json:"email"`
		Status    string   `json:"status"`
		RoleName  string   `json:"role_name"`
		Timezone  string   `json:"timezone"`
		Teams     []string `json:"teams"`
	}{"user", id, first, last, strings.ToLower(first+"."+last) + "@example.com", status,
		s.pick(roleNames), s.pick(timezones), []string{s.newID("TM", 12)}})}
}

// newBot makes a bot with its own ordered question set: 3 to 7 questions,
// each with an INT id every conversation of the bot reuses, and an
// internal_label that is "", a name, or null.
func (s *Server) newBot(i int) *botDef {
	id := s.newID("BOT", 10)
	b := &botDef{dim: dim{id: id, json: mustJSON(struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Name   string `json:"name"`
	}{id, "bot", botNames[i]})}}
	s.dims[id] = &b.dim
	perm := s.rng.Perm(len(questionBank))
	for _, qi := range perm[:3+s.rng.IntN(5)] {
		q := questionBank[qi]
		var label *string
		switch p := s.rng.Float64(); {
		case p < 0.5:
			label = new(string)
		case p < 0.85:
			l := q.label
			label = &l
		}
		b.questions = append(b.questions, question{id: s.newID("INT", 10), label: label, text: q.text, values: q.values})
	}
	return b
}

// newContact makes a contact created in (from, to]. Some are anonymous
// visitors, some known; deleted ones (about 2 %, and always the one with
// force) expand to the redacted form.
func (s *Server) newContact(from, to time.Time, force bool) *dim {
	n := 10
	if s.chance(0.3) {
		n = 14 // OnceHub's contact ids have 10 or 14 characters
	}
	id := s.newID("CTC", n)
	if force || s.chance(0.02) {
		return s.addDimContact(&dim{id: id, json: mustJSON(struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Deleted bool   `json:"deleted"`
		}{id, "contact", true})})
	}
	created := s.between(from, to)
	updated := s.between(created, to)
	c := contactJSON{Object: "contact", ID: id, CreationTime: fmtMilli(created), LastUpdatedTime: fmtMilli(updated),
		LastInteractedTime: fmtMilli(updated), Owner: s.pick(s.userIDs()), HasConsent: s.chance(0.5),
		Timezone: s.pick(timezones), CustomFields: []customField{}}
	if s.chance(s.opts.QuirkRate) {
		c.LastInteractedTime = ""
	}
	if s.chance(0.4) {
		c.Salutation = ptr("website visitor")
	} else {
		first, last := s.pick(firstNames), s.pick(lastNames)
		c.FirstName, c.LastName = ptr(first), ptr(last)
		c.Email = ptr(strings.ToLower(first+"."+last) + "@example.org")
		c.Status = ptr(s.pick(contactStatuses))
		c.Company, c.CompanySize = ptr(s.pick(companies)), ptr(s.pick(companySizes))
		c.City, c.Country = ptr("Springfield"), ptr("United States")
		tos := s.chance(0.7)
		c.TermsOfService = &tos
		c.CustomFields = []customField{{Name: "reason_for_contacting", Value: "Product demo"}}
	}
	return s.addDimContact(&dim{id: id, json: mustJSON(c)})
}

func (s *Server) addDimContact(d *dim) *dim {
	s.contacts[d.id] = d
	s.contactIDs = append(s.contactIDs, d.id)
	return s.addDim(d)
}

func (s *Server) userIDs() []string {
	ids := make([]string, len(s.users))
	for i, u := range s.users {
		ids[i] = u.id
	}
	return ids
}

// newConversation makes a conversation created at created whose activity
// ends no later than now (the data clock).
func (s *Server) newConversation(created, now time.Time, contact string) *record {
	bot := s.bots[s.rng.IntN(len(s.bots))]
	r := &record{Conversation: Conversation{
		ID: s.cvrID(), CreationTime: created, InitiatedBy: "contact", Contact: contact,
		Owner: s.users[s.rng.IntN(len(s.users))].id, Bot: bot.id,
		Website: s.websites[s.rng.IntN(len(s.websites))].id,
	}}
	if s.chance(0.4) {
		r.InitiatedBy = "bot"
	}
	if s.chance(0.6) {
		r.Audience = s.audiences[s.rng.IntN(len(s.audiences))].id
	}
	age := now.Sub(created)
	switch p := s.rng.Float64(); {
	case age < 30*time.Minute && p < 0.7, p < 0.03:
		r.Status = "started"
	case p < 0.6:
		r.Status = "closed"
	default:
		r.Status = "abandoned"
	}
	nq := len(bot.questions)
	var k int
	switch r.Status {
	case "closed":
		k = 1 + s.rng.IntN(nq)
	case "abandoned":
		k = s.rng.IntN(nq)
	default:
		k = s.rng.IntN(min(3, nq))
	}
	t := created
	for _, q := range bot.questions[:k] {
		t = s.between(t, t.Add(90*time.Second))
		r.Answers = append(r.Answers, Answer{ID: q.id, InternalLabel: q.label, Question: q.text, Value: s.pick(q.values)})
	}
	if k > 0 || r.InitiatedBy == "contact" {
		r.LastInteractedTime = s.between(t, t.Add(20*time.Second))
		t = r.LastInteractedTime
	}
	if r.Status == "closed" {
		for range s.rng.IntN(4) / 2 {
			r.Bookings = append(r.Bookings, s.newID("BKNG", 12))
		}
	}
	if r.Status == "abandoned" {
		t = t.Add(10 * time.Minute)
	}
	r.LastUpdatedTime = s.between(t, t.Add(time.Minute))
	s.applyQuirks(r)
	r.LastInteractedTime = clampTime(r.LastInteractedTime, created, now)
	r.LastUpdatedTime = clampTime(r.LastUpdatedTime, created, now)
	if r.LastInteractedTime.After(r.LastUpdatedTime) {
		r.LastInteractedTime = r.LastUpdatedTime
	}
	return r
}

// applyQuirks gives a new conversation each quirk with probability QuirkRate.
func (s *Server) applyQuirks(r *record) {
	p := s.opts.QuirkRate
	if p == 0 {
		return
	}
	for q := QuirkBookingsNull; q <= QuirkExtraField; q <<= 1 {
		if s.chance(p) {
			r.Quirks |= q
		}
	}
	if s.chance(p) {
		r.Status = "reached_out"
	}
	if s.chance(p) {
		r.InitiatedBy = "agent"
	}
	if r.Quirks&QuirkEmptyForNull != 0 && s.chance(0.5) {
		r.LastInteractedTime = time.Time{}
	}
	if r.Quirks&QuirkSecondPrecision != 0 {
		r.CreationTime = r.CreationTime.Truncate(time.Second)
		r.LastInteractedTime = r.LastInteractedTime.Truncate(time.Second)
		r.LastUpdatedTime = r.LastUpdatedTime.Truncate(time.Second)
	}
}

// clampTime keeps t inside [lo, hi]; the zero time (null) stays zero.
func clampTime(t, lo, hi time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

func ptr[T any](v T) *T { return &v }

type customField struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// contactJSON is a contact's documented field set, in the API's key order.
type contactJSON struct {
	Object             string        `json:"object"`
	ID                 string        `json:"id"`
	CreationTime       string        `json:"creation_time"`
	LastUpdatedTime    string        `json:"last_updated_time"`
	LastInteractedTime string        `json:"last_interacted_time"`
	Owner              string        `json:"owner"`
	Status             *string       `json:"status"`
	City               *string       `json:"city"`
	CompanySize        *string       `json:"company_size"`
	Company            *string       `json:"company"`
	Country            *string       `json:"country"`
	Email              *string       `json:"email"`
	Employees          *int          `json:"employees"`
	FirstName          *string       `json:"first_name"`
	HasConsent         bool          `json:"has_consent"`
	JobTitle           *string       `json:"job_title"`
	LastName           *string       `json:"last_name"`
	MobilePhone        *string       `json:"mobile_phone"`
	Phone              *string       `json:"phone"`
	PostCode           *string       `json:"post_code"`
	Salutation         *string       `json:"salutation"`
	State              *string       `json:"state"`
	StreetAddress      *string       `json:"street_address"`
	TermsOfService     *bool         `json:"terms_of_sevice"` // sic: the API's spelling
	Timezone           string        `json:"timezone"`
	CustomFields       []customField `json:"custom_fields"`
}

var (
	firstNames      = []string{"Andrea", "Carrie", "Sam", "Jordan", "Priya", "Mateo", "Yuki", "Olu", "Zoë", "Liam"}
	lastNames       = []string{"Hartie", "Customer", "Nguyen", "Okafor", "Schmidt", "García", "Tanaka", "Smith"}
	roleNames       = []string{"Account Owner", "Administrator", "Member", "Team Manager"}
	timezones       = []string{"America/New_York", "America/Chicago", "Europe/London", "Europe/Berlin", "Asia/Tokyo"}
	contactStatuses = []string{"Qualified", "Sales qualified", "Marketing qualified", "Disqualified"}
	companies       = []string{"Acme Inc", "Globex", "Initech", "Umbrella \"Corp\"", "Stark & Sons"}
	companySizes    = []string{"1-10", "11-50", "50-100", "100-500", "500+"}
	botNames        = []string{"Website qualification bot", "Pricing page bot", "Support triage", "Demo booker", "Re-engagement bot"}
	websiteNames    = []string{"Company website", "Docs site", "Pricing microsite"}
	websiteURLs     = []string{"https://www.example.com", "https://docs.example.com", "https://pricing.example.com"}
	audienceNames   = []string{"Returning visitors", "Enterprise leads", "EMEA", "Paid campaign"}
)

// questionBank is what bots ask; each bot draws its own subset and order.
var questionBank = []struct {
	text, label string
	values      []string
}{
	{"Full name", "full_name", []string{"Carrie Customer", "Sam", "Jordan Okafor", "Priya N.", "Zoë García"}},
	{"Email address", "email", []string{"carrie.customer@example.com", "sam@example.org", "j.okafor@example.net"}},
	{"What brings you here today?", "intent", []string{"Pricing", "Demo", "Support", "Just browsing"}},
	{"How many people work at your company?", "company_size_question", []string{"1-10", "11-50", "50-100", "100-500", "500+"}},
	{"Which product are you interested in?", "product", []string{"Scheduling", "Chatbots", "Both", "Not sure yet"}},
	{"What is your role?", "role", []string{"Founder", "Marketing", "Sales", "IT", "Other"}},
	{"Would you like to book a meeting?", "wants_meeting", []string{"Yes", "No", "Maybe later"}},
	{"Phone number", "phone", []string{"+12025550195", "+442071838750", ""}},
	{"Anything else we should know?", "", []string{"No", "We use \"Acme CRM\" today.\nMigration matters.", "Ça va — 日本語も大丈夫 ✓", "Tab\there, backslash \\ too"}},
}

func cmpRecord(a, b *record) int {
	switch {
	case less(&a.Conversation, &b.Conversation):
		return -1
	case less(&b.Conversation, &a.Conversation):
		return 1
	}
	return 0
}
