package load_test

// The behaviour every warehouse sink must have, run against each sink by
// testSink. A sink's own tests only cover what is specific to it.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// sink is the method set every warehouse sink has.
type sink interface {
	State(ctx context.Context) (load.State, error)
	Commit(ctx context.Context, b *transform.Batch, st load.State, run load.Run) (load.Counts, error)
	Record(ctx context.Context, run load.Run) error
	Close() error
}

// sinkUnderTest is a sink with what the suite needs to look inside it.
type sinkUnderTest struct {
	sink
	// query runs a read query (DuckDB SQL) over the warehouse's tables,
	// named as in sql/schema.sql including _convsync_runs and
	// _convsync_rejects, and returns its rows as DuckDB's driver scans them.
	query func(t *testing.T, q string) [][]any
	// failAt installs hook, which the sink's Commit calls with a step name
	// between its steps and aborts on error; nil removes it.
	failAt func(hook func(step string) error)
	// merges is the number of times the sink's commits read a table's
	// stored rows to merge the batch's with them.
	merges func() int
}

// testSink runs the behaviour suite; open opens (or reopens) the sink kept
// in dir, and the suite closes it.
func testSink(t *testing.T, open func(t *testing.T, dir string) sinkUnderTest) {
	tests := []struct {
		name string
		test func(t *testing.T, open func(t *testing.T) sinkUnderTest, reopen func(t *testing.T) sinkUnderTest)
	}{
		{"RoundTripsEveryColumn", testRoundTrip},
		{"NewerVersionWins", testNewerWins},
		{"NewestDuplicateInBatchWins", testDuplicateInBatch},
		{"ChildSetReplacedWhole", testChildSetReplaced},
		{"DimensionDeletedKeepsAttributes", testDimensionDeleted},
		{"RejectsKept", testRejectsKept},
		{"StateRoundTrip", testStateRoundTrip},
		{"LedgerUpserted", testLedgerUpserted},
		{"CrashAtEveryStepRollsBack", testCrashAtEveryStep},
		{"CancelledContextRollsBack", testCancelled},
		{"NoDuplicateKeysAfterOverlappingCommits", testNoDuplicates},
		{"ReopenKeepsData", testReopen},
		{"UnchangedDimensionsNotRewritten", testUnchangedDimensions},
		{"FirstLoadSkipsStoredRows", testFirstLoad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var cur *sinkUnderTest
			closeCur := func() {
				if cur != nil {
					if err := cur.Close(); err != nil {
						t.Errorf("close: %v", err)
					}
					cur = nil
				}
			}
			t.Cleanup(closeCur)
			reopen := func(t *testing.T) sinkUnderTest {
				closeCur()
				s := open(t, dir)
				cur = &s
				return s
			}
			tc.test(t, reopen, reopen)
		})
	}
}

var ctx = context.Background()

// +02:00 times with milliseconds, to prove the UTC round trip.
var zone = time.FixedZone("CEST", 2*60*60)

func at(day, ms int) time.Time {
	return time.Date(2025, 3, day, 15, 10, 0, ms*int(time.Millisecond), zone)
}

func p[T any](v T) *T { return &v }

// conv is a conversation with every column set, its answers and bookings.
func conv(id string, created, updated time.Time, answers, bookings int) (transform.Conversation, []transform.Answer, []transform.Booking) {
	c := transform.Conversation{
		ID: id, CreationTime: created, LastUpdatedTime: updated,
		LastInteractedTime: p(updated.Add(-time.Second)),
		InitiatedBy:        p("visitor"), Status: p("closed"),
		ContactID: p("CTC-" + id), OwnerID: p("USR-1"), BotID: p("BOT-1"),
		WebsiteID: p("WEB-1"), AudienceID: p("AUD-1"),
		AnswerCount: int32(answers), BookingCount: int32(bookings),
		Raw: fmt.Sprintf(`{"id":%q,"last_updated_time":%q}`, id, updated.Format(time.RFC3339Nano)),
	}
	var as []transform.Answer
	for i := 1; i <= answers; i++ {
		as = append(as, transform.Answer{
			ConversationID: id, Position: int32(i), AnswerID: p(fmt.Sprintf("INT-%d", i)),
			Question: p(fmt.Sprintf("Q%d", i)), InternalLabel: p(""),
			Value: p(fmt.Sprintf("%s v%s", id, updated.Format(time.StampMilli))),
		})
	}
	var bs []transform.Booking
	for i := 1; i <= bookings; i++ {
		bs = append(bs, transform.Booking{ConversationID: id, Position: int32(i), BookingID: fmt.Sprintf("BKNG-%s-%d", id, i)})
	}
	return c, as, bs
}

// batchOf is a batch of conversations with their children.
func batchOf(convs ...func() (transform.Conversation, []transform.Answer, []transform.Booking)) *transform.Batch {
	b := &transform.Batch{}
	for _, f := range convs {
		c, as, bs := f()
		b.Conversations = append(b.Conversations, c)
		b.Answers = append(b.Answers, as...)
		b.Bookings = append(b.Bookings, bs...)
	}
	return b
}

func version(id string, created, updated time.Time, answers, bookings int) func() (transform.Conversation, []transform.Answer, []transform.Booking) {
	return func() (transform.Conversation, []transform.Answer, []transform.Booking) {
		return conv(id, created, updated, answers, bookings)
	}
}

func runOf(id string) load.Run {
	return load.Run{ID: id, Mode: "incremental", Start: at(1, 0).UTC(), Status: "running"}
}

func commit(t *testing.T, s sinkUnderTest, b *transform.Batch, st load.State, run load.Run) load.Counts {
	t.Helper()
	c, err := s.Commit(ctx, b, st, run)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return c
}

func rows(t *testing.T, s sinkUnderTest, q string) [][]any {
	t.Helper()
	return s.query(t, q)
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// utc is t as DuckDB hands a TIMESTAMPTZ back.
func utc(t time.Time) time.Time { return t.UTC() }

func testRoundTrip(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	b := batchOf(version("CVR-A", at(1, 123), at(2, 456), 2, 1))
	// A conversation with every nullable column NULL and no children.
	b.Conversations = append(b.Conversations, transform.Conversation{
		ID: "CVR-N", CreationTime: at(3, 1), LastUpdatedTime: at(3, 2), Raw: `{ "id": "CVR-N",  "x": [1, 2.50] }`,
	})
	b.Answers = append(b.Answers, transform.Answer{ConversationID: "CVR-N", Position: 1})
	b.Contacts = []transform.Contact{fullContact("CTC-1"), {ID: "CTC-2"}}
	b.Users = []transform.User{{ID: "USR-1", FirstName: p("Ann"), LastName: p("Lee"), Email: p("a@x.io"),
		Status: p("active"), RoleName: p("admin"), Timezone: p("Europe/Paris"), Teams: p(`["TM-1"]`)}}
	b.Bots = []transform.Bot{{ID: "BOT-1", Name: p("Sales bot")}}
	b.Websites = []transform.Website{{ID: "WEB-1", Name: p("Shop"), URL: p("https://shop.example")}}
	b.Audiences = []transform.Audience{{ID: "AUD-1", Name: p("Visitors")}}
	before := time.Now()
	commit(t, s, b, load.State{}, runOf("R1"))
	after := time.Now()

	a := b.Conversations[0]
	equal(t, "conversations", rows(t, s, `SELECT id, creation_time, last_updated_time, last_interacted_time,
		initiated_by, status, contact_id, owner_id, bot_id, website_id, audience_id, answer_count,
		booking_count, raw::VARCHAR, run_id FROM conversations ORDER BY id`), [][]any{
		{"CVR-A", utc(at(1, 123)), utc(at(2, 456)), utc(*a.LastInteractedTime), "visitor", "closed",
			"CTC-CVR-A", "USR-1", "BOT-1", "WEB-1", "AUD-1", int32(2), int32(1), a.Raw, "R1"},
		{"CVR-N", utc(at(3, 1)), utc(at(3, 2)), nil, nil, nil, nil, nil, nil, nil, nil, int32(0), int32(0), `{ "id": "CVR-N",  "x": [1, 2.50] }`, "R1"},
	})
	got := rows(t, s, `SELECT creation_time FROM conversations WHERE id = 'CVR-A'`)[0][0].(time.Time)
	if got.Location() != time.UTC || got.Nanosecond() != 123*int(time.Millisecond) || got.Hour() != 13 {
		t.Errorf("creation_time %v: want 13:10:00.123 UTC", got)
	}
	equal(t, "answers", rows(t, s, `SELECT conversation_id, position, answer_id, question, internal_label, value, run_id
		FROM conversation_answers ORDER BY ALL`), [][]any{
		{"CVR-A", int32(1), "INT-1", "Q1", "", *b.Answers[0].Value, "R1"},
		{"CVR-A", int32(2), "INT-2", "Q2", "", *b.Answers[1].Value, "R1"},
		{"CVR-N", int32(1), nil, nil, nil, nil, "R1"},
	})
	equal(t, "bookings", rows(t, s, `SELECT conversation_id, position, booking_id, run_id FROM conversation_bookings`),
		[][]any{{"CVR-A", int32(1), "BKNG-CVR-A-1", "R1"}})
	equal(t, "contacts", rows(t, s, `SELECT * EXCLUDE (synced_at, custom_fields), custom_fields::VARCHAR FROM contacts ORDER BY id`), [][]any{
		{"CTC-1", false, utc(at(1, 1)), utc(at(1, 2)), utc(at(1, 3)), "USR-1", "qualified", "Ann", "Lee",
			"ann@x.io", "+1", "+2", "Ms", "CTO", "Acme", "11-50", int64(42), "1 Main St", "Paris", "IDF",
			"75001", "FR", "Europe/Paris", true, false, "BOT-1", "lead form", "R1", `[{"a":1}]`},
		{"CTC-2", false, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, "R1", nil},
	})
	equal(t, "users", rows(t, s, `SELECT * EXCLUDE (synced_at, teams), teams::VARCHAR FROM users`), [][]any{
		{"USR-1", false, "Ann", "Lee", "a@x.io", "active", "admin", "Europe/Paris", "R1", `["TM-1"]`},
	})
	equal(t, "bots", rows(t, s, `SELECT * EXCLUDE (synced_at) FROM bots`), [][]any{{"BOT-1", false, "Sales bot", "R1"}})
	equal(t, "websites", rows(t, s, `SELECT * EXCLUDE (synced_at) FROM websites`),
		[][]any{{"WEB-1", false, "Shop", "https://shop.example", "R1"}})
	equal(t, "audiences", rows(t, s, `SELECT * EXCLUDE (synced_at) FROM audiences`), [][]any{{"AUD-1", false, "Visitors", "R1"}})

	// synced_at: the commit time, the same on every row written, in UTC.
	stamps := rows(t, s, `SELECT DISTINCT synced_at FROM (
		SELECT synced_at FROM conversations UNION ALL SELECT synced_at FROM conversation_answers
		UNION ALL SELECT synced_at FROM conversation_bookings UNION ALL SELECT synced_at FROM contacts
		UNION ALL SELECT synced_at FROM users UNION ALL SELECT synced_at FROM bots
		UNION ALL SELECT synced_at FROM websites UNION ALL SELECT synced_at FROM audiences)`)
	if len(stamps) != 1 {
		t.Fatalf("synced_at: %d distinct values, want 1", len(stamps))
	}
	ts := stamps[0][0].(time.Time)
	if ts.Before(before.Truncate(time.Microsecond)) || ts.After(after) || ts.Location() != time.UTC {
		t.Errorf("synced_at %v: want UTC within [%v, %v]", ts, before, after)
	}
}

func fullContact(id string) transform.Contact {
	return transform.Contact{
		ID: id, CreationTime: p(at(1, 1)), LastUpdatedTime: p(at(1, 2)), LastInteractedTime: p(at(1, 3)),
		OwnerID: p("USR-1"), Status: p("qualified"), FirstName: p("Ann"), LastName: p("Lee"),
		Email: p("ann@x.io"), Phone: p("+1"), MobilePhone: p("+2"), Salutation: p("Ms"),
		JobTitle: p("CTO"), Company: p("Acme"), CompanySize: p("11-50"), Employees: p(int64(42)),
		StreetAddress: p("1 Main St"), City: p("Paris"), State: p("IDF"), PostCode: p("75001"),
		Country: p("FR"), Timezone: p("Europe/Paris"), HasConsent: p(true), TermsOfService: p(false),
		BotID: p("BOT-1"), Form: p("lead form"), CustomFields: p(`[{"a":1}]`),
	}
}

func testNewerWins(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	created := at(1, 0)
	statusOf := func() any { return rows(t, s, `SELECT last_updated_time, answer_count FROM conversations`) }
	steps := []struct {
		name    string
		updated time.Time
		answers int
		want    load.Counts
		stored  time.Time // last_updated_time stored after the step
		count   int32     // answer_count stored after the step
	}{
		{"new id is inserted", at(2, 0), 1, load.Counts{Inserted: 1, ChildRows: 1}, at(2, 0), 1},
		{"newer version replaces", at(3, 0), 2, load.Counts{Updated: 1, ChildRows: 2}, at(3, 0), 2},
		{"one millisecond newer replaces", at(3, 1), 3, load.Counts{Updated: 1, ChildRows: 3}, at(3, 1), 3},
		{"older version is ignored", at(2, 500), 4, load.Counts{Unchanged: 1}, at(3, 1), 3},
		{"equal version is unchanged", at(3, 1), 5, load.Counts{Unchanged: 1}, at(3, 1), 3},
	}
	for _, st := range steps {
		got := commit(t, s, batchOf(version("CVR-A", created, st.updated, st.answers, 0)), load.State{}, runOf("R1"))
		equal(t, st.name+": counts", got, st.want)
		equal(t, st.name+": stored", statusOf(), [][]any{{utc(st.stored), st.count}})
		equal(t, st.name+": answers", rows(t, s, `SELECT count(*)::INTEGER FROM conversation_answers`), [][]any{{st.count}})
	}
}

func testDuplicateInBatch(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	newer, older := version("CVR-A", at(1, 0), at(5, 0), 2, 0), version("CVR-A", at(1, 0), at(4, 0), 1, 0)
	got := commit(t, s, batchOf(newer, older), load.State{}, runOf("R1"))
	equal(t, "counts", got.Inserted+got.Updated, int64(1))
	equal(t, "stored", rows(t, s, `SELECT id, last_updated_time, answer_count FROM conversations`),
		[][]any{{"CVR-A", utc(at(5, 0)), int32(2)}})

	// A contact comes with each of its conversations: the batch's last
	// version of it is stored, once.
	b := batchOf(version("CVR-B", at(1, 0), at(6, 0), 1, 0), version("CVR-C", at(1, 0), at(6, 0), 1, 0))
	b.Contacts = []transform.Contact{{ID: "CTC-9", FirstName: p("Ann")}, {ID: "CTC-9", FirstName: p("Anna")}}
	commit(t, s, b, load.State{}, runOf("R2"))
	equal(t, "contact stored once", rows(t, s, `SELECT id, first_name FROM contacts WHERE id = 'CTC-9'`),
		[][]any{{"CTC-9", "Anna"}})
}

func testChildSetReplaced(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	commit(t, s, batchOf(version("CVR-A", at(1, 0), at(2, 0), 3, 2), version("CVR-B", at(1, 1), at(2, 0), 2, 1)), load.State{}, runOf("R1"))

	// CVR-A: an answer removed at the source and every booking gone.
	// CVR-B: an older version with other children changes nothing.
	a, as, _ := conv("CVR-A", at(1, 0), at(3, 0), 3, 0)
	as = slices.Delete(as, 1, 2) // the second answer is removed
	as[1].Position = 2
	b := &transform.Batch{Conversations: []transform.Conversation{a}, Answers: as}
	old := batchOf(version("CVR-B", at(1, 1), at(1, 5), 5, 4))
	b.Conversations = append(b.Conversations, old.Conversations...)
	b.Answers = append(b.Answers, old.Answers...)
	b.Bookings = append(b.Bookings, old.Bookings...)
	got := commit(t, s, b, load.State{}, runOf("R2"))

	equal(t, "counts", got, load.Counts{Updated: 1, Unchanged: 1, ChildRows: 2})
	equal(t, "answers", rows(t, s, `SELECT conversation_id, position, answer_id, run_id FROM conversation_answers ORDER BY ALL`), [][]any{
		{"CVR-A", int32(1), "INT-1", "R2"},
		{"CVR-A", int32(2), "INT-3", "R2"},
		{"CVR-B", int32(1), "INT-1", "R1"},
		{"CVR-B", int32(2), "INT-2", "R1"},
	})
	equal(t, "bookings", rows(t, s, `SELECT conversation_id, position, run_id FROM conversation_bookings ORDER BY ALL`),
		[][]any{{"CVR-B", int32(1), "R1"}})

	// An emptied answer list leaves no rows.
	c, _, _ := conv("CVR-A", at(1, 0), at(4, 0), 0, 0)
	commit(t, s, &transform.Batch{Conversations: []transform.Conversation{c}}, load.State{}, runOf("R3"))
	equal(t, "answers after emptying", rows(t, s, `SELECT count(*)::INTEGER FROM conversation_answers WHERE conversation_id = 'CVR-A'`),
		[][]any{{int32(0)}})
}

func testDimensionDeleted(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	commit(t, s, &transform.Batch{
		Contacts:  []transform.Contact{fullContact("CTC-1")},
		Users:     []transform.User{{ID: "USR-1", FirstName: p("Ann")}},
		Bots:      []transform.Bot{{ID: "BOT-1", Name: p("bot")}},
		Websites:  []transform.Website{{ID: "WEB-1", Name: p("web"), URL: p("https://w")}},
		Audiences: []transform.Audience{{ID: "AUD-1", Name: p("aud")}},
	}, load.State{}, runOf("R1"))
	// Redacted forms: known ids keep their attributes, unknown ids appear id-only.
	commit(t, s, &transform.Batch{
		Contacts:  []transform.Contact{{ID: "CTC-1", Deleted: true}, {ID: "CTC-9", Deleted: true}},
		Users:     []transform.User{{ID: "USR-1", Deleted: true}, {ID: "USR-9", Deleted: true}},
		Bots:      []transform.Bot{{ID: "BOT-1", Deleted: true}, {ID: "BOT-9", Deleted: true}},
		Websites:  []transform.Website{{ID: "WEB-1", Deleted: true}, {ID: "WEB-9", Deleted: true}},
		Audiences: []transform.Audience{{ID: "AUD-1", Deleted: true}, {ID: "AUD-9", Deleted: true}},
	}, load.State{}, runOf("R2"))

	equal(t, "contacts", rows(t, s, `SELECT id, deleted, first_name, employees, custom_fields::VARCHAR, run_id FROM contacts ORDER BY id`), [][]any{
		{"CTC-1", true, "Ann", int64(42), `[{"a":1}]`, "R2"},
		{"CTC-9", true, nil, nil, nil, "R2"},
	})
	for _, q := range []struct{ table, prefix, attr, value string }{
		{"users", "USR", "first_name", "Ann"}, {"bots", "BOT", "name", "bot"},
		{"websites", "WEB", "url", "https://w"}, {"audiences", "AUD", "name", "aud"},
	} {
		equal(t, q.table, rows(t, s, fmt.Sprintf(`SELECT id, deleted, %s, run_id FROM %s ORDER BY id`, q.attr, q.table)), [][]any{
			{q.prefix + "-1", true, q.value, "R2"},
			{q.prefix + "-9", true, nil, "R2"},
		})
	}

	// A full row again replaces the deleted one.
	commit(t, s, &transform.Batch{Bots: []transform.Bot{{ID: "BOT-1", Name: p("bot 2")}}}, load.State{}, runOf("R3"))
	equal(t, "bot restored", rows(t, s, `SELECT id, deleted, name FROM bots ORDER BY id`), [][]any{
		{"BOT-1", false, "bot 2"}, {"BOT-9", true, nil},
	})
}

// testRejectsKept: rejects are kept with their run and reason, a record
// rejected again for the same reason only once.
func testRejectsKept(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	commit(t, s, &transform.Batch{Rejects: []transform.Reject{
		{ConversationID: p("CVR-X"), Reason: "creation_time: bad", Raw: `{"id":"CVR-X"}`},
		{Reason: "not an object", Raw: `[1`},
	}}, load.State{}, runOf("R1"))
	// R2 reads CVR-X again (the lookback), with the same fault, and a
	// record twice in its batch: each is kept once.
	commit(t, s, &transform.Batch{Rejects: []transform.Reject{
		{Reason: "again", Raw: `x`},
		{Reason: "again", Raw: `x`},
		{ConversationID: p("CVR-X"), Reason: "creation_time: bad", Raw: `{"id":"CVR-X"}`},
		{ConversationID: p("CVR-X"), Reason: "creation_time: worse", Raw: `{"id":"CVR-X"}`},
	}}, load.State{}, runOf("R2"))
	equal(t, "rejects", rows(t, s, `SELECT run_id, conversation_id, reason, raw FROM _convsync_rejects ORDER BY run_id, reason`), [][]any{
		{"R1", "CVR-X", "creation_time: bad", `{"id":"CVR-X"}`},
		{"R1", nil, "not an object", `[1`},
		{"R2", nil, "again", `x`},
		{"R2", "CVR-X", "creation_time: worse", `{"id":"CVR-X"}`},
	})
	ts := rows(t, s, `SELECT max(rejected_at) FROM _convsync_rejects`)[0][0].(time.Time)
	if time.Since(ts) > time.Minute || ts.Location() != time.UTC {
		t.Errorf("rejected_at %v: want the commit time in UTC", ts)
	}
}

func testStateRoundTrip(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	equalState(t, s, load.State{})
	want := load.State{
		Watermark: at(2, 7).UTC(),
		Pending: &load.Progress{RunID: "R1", WindowLo: at(1, 0).UTC(), WindowHi: at(3, 0).UTC(),
			SliceLo: at(1, 0).UTC(), SliceHi: at(2, 0).UTC(), After: "CVR-B"},
		Backfill: &load.Progress{RunID: "R0", WindowLo: at(1, 0).UTC(), WindowHi: at(1, 9).UTC()},
	}
	commit(t, s, &transform.Batch{}, want, runOf("R1"))
	equalState(t, s, want)
	want.Pending = nil
	commit(t, s, &transform.Batch{}, want, runOf("R1"))
	equalState(t, s, want)
}

func equalState(t *testing.T, s sinkUnderTest, want load.State) {
	t.Helper()
	got, err := s.State(ctx)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	g, _ := load.MarshalState(got)
	w, _ := load.MarshalState(want)
	equal(t, "state", string(g), string(w))
}

func testLedgerUpserted(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	run := load.Run{ID: "R1", Mode: "incremental", Start: at(1, 5).UTC(), Status: "running",
		WindowLo: p(at(1, 0).UTC()), WindowHi: p(at(2, 0).UTC()), Pages: 1, APICalls: 2, Retries: 3, RateLimited: 4}
	if err := s.Record(ctx, run); err != nil {
		t.Fatalf("Record: %v", err)
	}
	ledger := func() [][]any {
		return rows(t, s, `SELECT run_id, mode, started_at, ended_at, status, window_lo, window_hi, pages, api_calls,
			retries, rate_limited, inserted, updated, unchanged, child_rows, rejected, error FROM _convsync_runs ORDER BY run_id`)
	}
	equal(t, "after start", ledger(), [][]any{{"R1", "incremental", utc(at(1, 5)), nil, "running", utc(at(1, 0)),
		utc(at(2, 0)), int64(1), int64(2), int64(3), int64(4), int64(0), int64(0), int64(0), int64(0), int64(0), nil}})

	// Commit writes the run with this commit's counts added.
	run.Counts = load.Counts{Inserted: 10, Updated: 20, Unchanged: 30, ChildRows: 40}
	run.Rejected = 5
	got := commit(t, s, batchOf(version("CVR-A", at(1, 0), at(2, 0), 2, 1)), load.State{}, run)
	equal(t, "after commit", ledger(), [][]any{{"R1", "incremental", utc(at(1, 5)), nil, "running", utc(at(1, 0)),
		utc(at(2, 0)), int64(1), int64(2), int64(3), int64(4), int64(11), int64(20), int64(30), int64(43), int64(5), nil}})

	run.Counts.Add(got)
	// An error may quote bytes from outside that are not UTF-8 (a
	// response, a file name): they are stored as U+FFFD, not refused.
	run.End, run.Status, run.Error = p(at(1, 9).UTC()), "failed", "fetch page: boom \xff"
	if err := s.Record(ctx, run); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if err := s.Record(ctx, load.Run{ID: "R2", Mode: "backfill", Start: at(2, 0).UTC(), Status: "running"}); err != nil {
		t.Fatalf("Record: %v", err)
	}
	equal(t, "after end", ledger(), [][]any{
		{"R1", "incremental", utc(at(1, 5)), utc(at(1, 9)), "failed", utc(at(1, 0)), utc(at(2, 0)), int64(1), int64(2),
			int64(3), int64(4), int64(11), int64(20), int64(30), int64(43), int64(5), "fetch page: boom \uFFFD"},
		{"R2", "backfill", utc(at(2, 0)), nil, "running", nil, nil, int64(0), int64(0), int64(0), int64(0), int64(0),
			int64(0), int64(0), int64(0), int64(0), nil},
	})

	// R2's process is killed: the next run to record itself (holding the
	// lock, as only a writer does) marks it abandoned; R1 keeps its outcome.
	if err := s.Record(ctx, load.Run{ID: "R3", Mode: "incremental", Start: at(3, 0).UTC(), Status: "running"}); err != nil {
		t.Fatalf("Record: %v", err)
	}
	equal(t, "after a killed run", rows(t, s, `SELECT run_id, status, ended_at, error FROM _convsync_runs ORDER BY run_id`), [][]any{
		{"R1", "failed", utc(at(1, 9)), "fetch page: boom \uFFFD"},
		{"R2", "abandoned", nil, load.AbandonedError},
		{"R3", "running", nil, nil},
	})
}

// snapshot is every table's rows, without the commit-time stamps, and the
// state: what a failed commit must leave exactly as it was.
func snapshot(t *testing.T, s sinkUnderTest) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT * EXCLUDE (synced_at) FROM conversations`,
		`SELECT * EXCLUDE (synced_at) FROM conversation_answers`,
		`SELECT * EXCLUDE (synced_at) FROM conversation_bookings`,
		`SELECT * EXCLUDE (synced_at) FROM contacts`,
		`SELECT * EXCLUDE (synced_at) FROM users`,
		`SELECT * EXCLUDE (synced_at) FROM bots`,
		`SELECT * EXCLUDE (synced_at) FROM websites`,
		`SELECT * EXCLUDE (synced_at) FROM audiences`,
		`SELECT * EXCLUDE (rejected_at) FROM _convsync_rejects`,
		`SELECT * FROM _convsync_runs`,
	} {
		fmt.Fprintf(&b, "%s:\n", q)
		for _, r := range rows(t, s, q+` ORDER BY ALL`) {
			fmt.Fprintln(&b, r...)
		}
	}
	st, err := s.State(ctx)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	js, _ := load.MarshalState(st)
	fmt.Fprintf(&b, "state: %s\n", js)
	return b.String()
}

// overlapping is a batch that touches every table: updates, new
// conversations, changed children, dimension upserts and deletions, rejects.
func overlapping() *transform.Batch {
	b := batchOf(version("CVR-A", at(1, 0), at(5, 0), 1, 0), version("CVR-C", at(4, 0), at(5, 0), 2, 2),
		version("CVR-B", at(1, 1), at(1, 2), 9, 9))
	b.Contacts = []transform.Contact{{ID: "CTC-1", Deleted: true}, fullContact("CTC-2")}
	b.Users = []transform.User{{ID: "USR-2", FirstName: p("Bo")}}
	b.Bots = []transform.Bot{{ID: "BOT-1", Deleted: true}}
	b.Websites = []transform.Website{{ID: "WEB-1", Name: p("new")}}
	b.Audiences = []transform.Audience{{ID: "AUD-2"}}
	b.Rejects = []transform.Reject{{Reason: "bad", Raw: "x"}}
	return b
}

func base() *transform.Batch {
	b := batchOf(version("CVR-A", at(1, 0), at(2, 0), 3, 1), version("CVR-B", at(1, 1), at(2, 0), 2, 1))
	b.Contacts = []transform.Contact{fullContact("CTC-1")}
	b.Bots = []transform.Bot{{ID: "BOT-1", Name: p("bot")}}
	b.Websites = []transform.Website{{ID: "WEB-1", Name: p("web")}}
	return b
}

func testCrashAtEveryStep(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	commit(t, s, base(), load.State{Watermark: at(2, 0).UTC()}, runOf("R1"))
	before := snapshot(t, s)
	next := load.State{Watermark: at(5, 0).UTC()}
	crash := errors.New("crash")

	// Crash at the 1st, 2nd, … step the sink reports until a commit gets
	// past its last step: that one is the re-commit that must converge.
	var steps []string
	var got load.Counts
	for k := 1; ; k++ {
		calls := 0
		s.failAt(func(step string) error {
			if calls++; calls == k {
				steps = append(steps, step)
				return crash
			}
			return nil
		})
		c, err := s.Commit(ctx, overlapping(), next, runOf("R2"))
		if err == nil {
			got = c
			break
		}
		if !errors.Is(err, crash) {
			t.Fatalf("crash at step %d: Commit returned %v, want the hook's error", k, err)
		}
		if after := snapshot(t, s); after != before {
			t.Fatalf("crash at %s changed the warehouse:\n%s\nwant\n%s", steps[k-1], after, before)
		}
	}
	s.failAt(nil)
	if len(steps) < 4 {
		t.Errorf("Commit reported steps %v; want one after staging, conversations, children, dimensions", steps)
	}
	t.Logf("crashed at steps %v", steps)
	equal(t, "counts after re-commit", got, load.Counts{Inserted: 1, Updated: 1, Unchanged: 1, ChildRows: 5})
	equalState(t, s, next)
	equal(t, "conversations after re-commit", rows(t, s, `SELECT id, last_updated_time FROM conversations ORDER BY id`),
		[][]any{{"CVR-A", utc(at(5, 0))}, {"CVR-B", utc(at(2, 0))}, {"CVR-C", utc(at(5, 0))}})
	equal(t, "children after re-commit", rows(t, s, `SELECT conversation_id, count(*)::INTEGER FROM conversation_answers GROUP BY ALL ORDER BY ALL`),
		[][]any{{"CVR-A", int32(1)}, {"CVR-B", int32(2)}, {"CVR-C", int32(2)}})
	equal(t, "dimensions after re-commit", rows(t, s, `SELECT id, deleted, first_name FROM contacts ORDER BY id`),
		[][]any{{"CTC-1", true, "Ann"}, {"CTC-2", false, "Ann"}})
	equal(t, "rejects after re-commit", rows(t, s, `SELECT count(*)::INTEGER FROM _convsync_rejects`), [][]any{{int32(1)}})
}

func testCancelled(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	commit(t, s, base(), load.State{Watermark: at(2, 0).UTC()}, runOf("R1"))
	before := snapshot(t, s)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Commit(cancelled, overlapping(), load.State{Watermark: at(5, 0).UTC()}, runOf("R2")); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled ctx: %v, want context.Canceled", err)
	}
	equal(t, "warehouse after cancelled commit", snapshot(t, s), before)

	// Cancelled in the middle of the commit, after its first step.
	mid, cancel := context.WithCancel(ctx)
	defer cancel()
	s.failAt(func(string) error { cancel(); return nil })
	_, err := s.Commit(mid, overlapping(), load.State{Watermark: at(5, 0).UTC()}, runOf("R2"))
	s.failAt(nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit cancelled midway: %v, want context.Canceled", err)
	}
	equal(t, "warehouse after commit cancelled midway", snapshot(t, s), before)
}

// testNoDuplicateKeys commits many overlapping batches, out of order, and
// checks every table's key is unique and the newest versions are stored.
func testNoDuplicates(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	const ids = 40
	newest := map[string]int{} // id -> newest version committed (its answer count)
	for round := range 25 {
		var b transform.Batch
		for j := range 15 {
			n := (round*7 + j*11) % ids
			id := fmt.Sprintf("CVR-%02d", n)
			v := (round*13 + j*5) % 9 // versions arrive out of order
			c, as, bs := conv(id, at(1, n), at(2, v), v%4, v%3)
			b.Conversations = append(b.Conversations, c)
			b.Answers = append(b.Answers, as...)
			b.Bookings = append(b.Bookings, bs...)
			b.Contacts = append(b.Contacts, transform.Contact{ID: "CTC-" + id, Deleted: v%2 == 0})
			if old, ok := newest[id]; !ok || v > old {
				newest[id] = v
			}
		}
		b.Bots = []transform.Bot{{ID: "BOT-1", Deleted: round%2 == 0}, {ID: fmt.Sprintf("BOT-%d", round%3)}}
		commit(t, s, &b, load.State{}, runOf(fmt.Sprintf("R%d", round)))
	}
	for _, q := range []string{
		`SELECT id FROM conversations GROUP BY id HAVING count(*) > 1`,
		`SELECT conversation_id, position FROM conversation_answers GROUP BY ALL HAVING count(*) > 1`,
		`SELECT conversation_id, position FROM conversation_bookings GROUP BY ALL HAVING count(*) > 1`,
		`SELECT id FROM contacts GROUP BY id HAVING count(*) > 1`,
		`SELECT id FROM bots GROUP BY id HAVING count(*) > 1`,
	} {
		equal(t, q, len(rows(t, s, q)), 0)
	}
	var want [][]any
	for n := range ids {
		id := fmt.Sprintf("CVR-%02d", n)
		if v, ok := newest[id]; ok {
			want = append(want, []any{id, utc(at(2, v)), int32(v % 4), int32(v % 4), int32(v % 3)})
		}
	}
	equal(t, "newest versions", rows(t, s, `SELECT c.id, c.last_updated_time, c.answer_count,
		(SELECT count(*) FROM conversation_answers a WHERE a.conversation_id = c.id)::INTEGER,
		(SELECT count(*) FROM conversation_bookings b WHERE b.conversation_id = c.id)::INTEGER
		FROM conversations c ORDER BY c.id`), want)
}

func testReopen(t *testing.T, open, reopen func(t *testing.T) sinkUnderTest) {
	s := open(t)
	st := load.State{Watermark: at(2, 0).UTC()}
	commit(t, s, base(), st, runOf("R1"))
	before := snapshot(t, s)

	s = reopen(t)
	equal(t, "warehouse after reopen", snapshot(t, s), before)
	equalState(t, s, st)
	got := commit(t, s, overlapping(), load.State{Watermark: at(5, 0).UTC()}, runOf("R2"))
	equal(t, "counts after reopen", got, load.Counts{Inserted: 1, Updated: 1, Unchanged: 1, ChildRows: 5})
}

// A dimension row identical to the one the sink committed is not staged and
// written again (a contact comes with each of its conversations, so a full
// load would rewrite it several times); a changed one is, and a row whose
// commit failed is written by the next commit.
func testUnchangedDimensions(t *testing.T, open, _ func(t *testing.T) sinkUnderTest) {
	s := open(t)
	withDims := func(conv string, contacts []transform.Contact, users []transform.User) *transform.Batch {
		b := batchOf(version(conv, at(1, 0), at(1, 1), 1, 0))
		b.Contacts, b.Users = contacts, users
		return b
	}
	ann, bob := fullContact("CTC-1"), transform.Contact{ID: "CTC-2", FirstName: p("Bob")}
	user := transform.User{ID: "USR-1", Email: p("a@x.io")}
	commit(t, s, withDims("CVR-A", []transform.Contact{ann}, []transform.User{user}), load.State{}, runOf("R1"))
	user2 := user
	user2.Email = p("b@x.io")
	commit(t, s, withDims("CVR-B", []transform.Contact{ann, bob}, []transform.User{user2}), load.State{}, runOf("R2"))
	lineage := func() [][]any {
		return rows(t, s, `SELECT id, run_id, coalesce(email, first_name) FROM contacts
			UNION ALL SELECT id, run_id, email FROM users ORDER BY id`)
	}
	equal(t, "after R2", lineage(), [][]any{{"CTC-1", "R1", "ann@x.io"}, {"CTC-2", "R2", "Bob"}, {"USR-1", "R2", "b@x.io"}})

	ann2 := ann
	ann2.Email = p("ann@y.io")
	s.failAt(func(step string) error {
		if step == "dimensions" {
			return errors.New("crash")
		}
		return nil
	})
	if _, err := s.Commit(ctx, withDims("CVR-C", []transform.Contact{ann2}, nil), load.State{}, runOf("R3")); err == nil {
		t.Fatal("commit R3 should fail")
	}
	s.failAt(nil)
	commit(t, s, withDims("CVR-C", []transform.Contact{ann2}, nil), load.State{}, runOf("R4"))
	equal(t, "after the failed R3 and R4", lineage(), [][]any{{"CTC-1", "R4", "ann@y.io"}, {"CTC-2", "R2", "Bob"}, {"USR-1", "R2", "b@x.io"}})

	// A new process (as each scheduled run is) knows nothing of what was
	// committed before: rows equal to the stored ones are still not
	// rewritten, nor is a deleted row already stored as deleted, and they
	// stay when other rows of their batch are replaced, inserted or marked
	// deleted.
	gone := transform.Contact{ID: "CTC-3", Deleted: true}
	commit(t, s, withDims("CVR-D", []transform.Contact{gone}, nil), load.State{}, runOf("R5"))
	s = open(t)
	bob2 := bob
	bob2.FirstName = p("Robert")
	commit(t, s, withDims("CVR-E", []transform.Contact{ann2, bob2}, []transform.User{user2}), load.State{}, runOf("R6"))
	commit(t, s, withDims("CVR-F", []transform.Contact{gone, {ID: "CTC-4", Deleted: true}}, nil), load.State{}, runOf("R7"))
	equal(t, "after reopening, R6 and R7", lineage(), [][]any{
		{"CTC-1", "R4", "ann@y.io"}, {"CTC-2", "R6", "Robert"}, {"CTC-3", "R5", nil}, {"CTC-4", "R7", nil}, {"USR-1", "R2", "b@x.io"}})
	s = open(t)
	commit(t, s, withDims("CVR-G", []transform.Contact{ann2, {ID: "CTC-2", Deleted: true}}, nil), load.State{}, runOf("R8"))
	equal(t, "after reopening and R8", rows(t, s, `SELECT id, run_id, deleted, coalesce(email, first_name) FROM contacts ORDER BY id`), [][]any{
		{"CTC-1", "R4", false, "ann@y.io"}, {"CTC-2", "R8", true, "Robert"}, {"CTC-3", "R5", true, nil}, {"CTC-4", "R7", true, nil}})
}

// testFirstLoad checks that a warehouse found empty takes batches of new ids
// without reading the stored rows (which made each batch of a first load
// slower than the one before), and that it still merges an id it committed
// before, stores a failed commit's batch right when it comes again, and
// reads the stored rows for every batch once reopened with rows in it.
func testFirstLoad(t *testing.T, open, reopen func(t *testing.T) sinkUnderTest) {
	s := open(t)
	created := at(1, 0)
	withContact := func(b *transform.Batch, id, name string) *transform.Batch {
		b.Contacts = append(b.Contacts, transform.Contact{ID: id, FirstName: p(name)})
		return b
	}
	commit(t, s, withContact(batchOf(version("CVR-A", created, at(2, 0), 2, 1), version("CVR-B", created, at(2, 0), 1, 0)), "CTC-1", "Ann"), load.State{}, runOf("R1"))
	commit(t, s, withContact(batchOf(version("CVR-C", created, at(2, 0), 1, 0)), "CTC-2", "Bo"), load.State{}, runOf("R1"))
	equal(t, "merges of two batches of new ids", s.merges(), 0)

	s.failAt(func(step string) error {
		if step == "dimensions" {
			return context.DeadlineExceeded
		}
		return nil
	})
	if _, err := s.Commit(ctx, withContact(batchOf(version("CVR-D", created, at(2, 0), 1, 0)), "CTC-3", "Cy"), load.State{}, runOf("R1")); err == nil {
		t.Fatal("the commit did not fail")
	}
	s.failAt(nil)
	equal(t, "the failed commit's batch, again", commit(t, s, withContact(batchOf(version("CVR-D", created, at(2, 0), 1, 0)), "CTC-3", "Cy"), load.State{}, runOf("R1")),
		load.Counts{Inserted: 1, ChildRows: 1})

	merges := s.merges()
	c := commit(t, s, withContact(batchOf(version("CVR-A", created, at(3, 0), 1, 0), version("CVR-E", created, at(3, 0), 1, 0)), "CTC-1", "Anna"), load.State{}, runOf("R1"))
	equal(t, "an id committed before: counts", c, load.Counts{Inserted: 1, Updated: 1, ChildRows: 2})
	equal(t, "ids committed before: merges (conversations, contacts)", s.merges(), merges+2)
	equal(t, "stored", rows(t, s, `SELECT (SELECT string_agg(id || '@' || day(last_updated_time), ',' ORDER BY id) FROM conversations),
			(SELECT count(*)::INTEGER FROM conversation_answers WHERE conversation_id = 'CVR-A'),
			(SELECT count(*)::INTEGER FROM conversation_bookings WHERE conversation_id = 'CVR-A'),
			(SELECT string_agg(id || '=' || first_name, ',' ORDER BY id) FROM contacts)`),
		[][]any{{"CVR-A@3,CVR-B@2,CVR-C@2,CVR-D@2,CVR-E@3", int32(1), int32(0), "CTC-1=Anna,CTC-2=Bo,CTC-3=Cy"}})

	s = reopen(t)
	commit(t, s, batchOf(version("CVR-F", created, at(4, 0), 1, 0)), load.State{}, runOf("R1"))
	equal(t, "merges once reopened with rows", s.merges(), 1)
}
