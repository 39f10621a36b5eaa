package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	sqlfiles "github.com/convsync/convsync/sql"
	"github.com/convsync/convsync/transform"
)

// stage creates the TEMP staging tables and appends batch b to them with
// DuckDB's appender, inside the transaction open on conn. The Parquet sink
// stages this way; the DuckDB sink stages conversations narrowly
// (stageKeys).
func stage(ctx context.Context, conn *sql.Conn, b *transform.Batch, runID string, now time.Time) error {
	return stageWith(ctx, conn, b, runID, now, func(c driver.Conn) error {
		return appendRows(ctx, c, "stage_conversations", 14, b.Conversations, conversationValues)
	})
}

// stageKeys stages batch b as stage does, except that stage_conversations
// gets only the id and last_updated_time of the conversations at indexes
// newest (nil: all of b's), one per id: all the merge needs to decide; and
// nothing unless merge is set (a batch of new ids is not merged). The full
// rows, raw JSON included, are then written once, by appendConversations,
// instead of being copied through staging.
func stageKeys(ctx context.Context, conn *sql.Conn, b *transform.Batch, newest []int, merge bool, runID string, now time.Time) error {
	return stageWith(ctx, conn, b, runID, now, func(c driver.Conn) error {
		if !merge {
			return nil
		}
		a, err := duckdb.NewAppenderWithColumns(c, "temp", "main", "stage_conversations", []string{"id", "last_updated_time"})
		if err != nil {
			return fmt.Errorf("stage_conversations: %w", err)
		}
		err = eachOf(ctx, b.Conversations, newest, func(r transform.Conversation) error {
			return a.AppendRow(r.ID, r.LastUpdatedTime)
		})
		if cerr := a.CloseWithCancel(ctx); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("stage_conversations: %w", err)
		}
		return nil
	})
}

// stageWith creates the staging tables and appends b to them, its
// conversations with convs. b's dimension rows must be one per id, as
// dimCache.changed leaves them (the last of each, see lastOf).
func stageWith(ctx context.Context, conn *sql.Conn, b *transform.Batch, runID string, now time.Time, convs func(driver.Conn) error) error {
	if err := exec(ctx, conn, "create staging tables", sqlfiles.Stage); err != nil {
		return err
	}
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T", dc)
		}
		return errors.Join(
			appendRows(ctx, c, "stage_run", 2, []string{runID}, func(id string, v []driver.Value) { v[0], v[1] = id, now }),
			convs(c),
			appendRows(ctx, c, "stage_contacts", len(contactFields), b.Contacts, contactValues),
			appendRows(ctx, c, "stage_users", len(userFields), b.Users, userValues),
			appendRows(ctx, c, "stage_bots", len(botFields), b.Bots, botValues),
			appendRows(ctx, c, "stage_websites", len(websiteFields), b.Websites, websiteValues),
			appendRows(ctx, c, "stage_audiences", len(audienceFields), b.Audiences, audienceValues),
			appendRows(ctx, c, "stage_rejects", 3, b.Rejects, rejectValues),
		)
	})
	if err != nil {
		return fmt.Errorf("stage batch: %w", err)
	}
	return nil
}

// lastOf returns the last row of each id of rows, in batch order: the row a
// dimension merge keeps when a batch holds an id twice (a contact is
// expanded into each of its conversations). Staging only those saves
// appending, and sorting away, the repeats.
func lastOf[T any](rows []T, id func(T) string) []T {
	last := make(map[string]int, len(rows))
	for i, r := range rows {
		last[id(r)] = i
	}
	if len(last) == len(rows) {
		return rows
	}
	kept := make([]T, 0, len(last))
	for i, r := range rows {
		if last[id(r)] == i {
			kept = append(kept, r)
		}
	}
	return kept
}

// newestVersions returns the indexes, in batch order, of the newest version
// of each conversation of convs (the later row on a tie), or nil if no id
// occurs twice.
func newestVersions(convs []transform.Conversation) []int {
	at := make(map[string]int, len(convs))
	for i, r := range convs {
		if j, ok := at[r.ID]; !ok || !r.LastUpdatedTime.Before(convs[j].LastUpdatedTime) {
			at[r.ID] = i
		}
	}
	if len(at) == len(convs) {
		return nil
	}
	newest := make([]int, 0, len(at))
	for _, i := range at {
		newest = append(newest, i)
	}
	slices.Sort(newest)
	return newest
}

// eachOf calls f with the rows of rows at indexes (nil: every row) in order,
// checking ctx every chunk so a huge batch stops soon.
func eachOf[T any](ctx context.Context, rows []T, indexes []int, f func(T) error) error {
	n := len(rows)
	if indexes != nil {
		n = len(indexes)
	}
	for k := range n {
		if k%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		i := k
		if indexes != nil {
			i = indexes[k]
		}
		if err := f(rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// appendedColumns are the columns of TEMP table appended, which
// sqlfiles.AppendConversations reads: conversations' up to raw, which is
// VARCHAR.
var appendedColumns = []struct {
	name string
	typ  duckdb.Type
}{
	{"id", duckdb.TYPE_VARCHAR}, {"creation_time", duckdb.TYPE_TIMESTAMP_TZ},
	{"last_updated_time", duckdb.TYPE_TIMESTAMP_TZ}, {"last_interacted_time", duckdb.TYPE_TIMESTAMP_TZ},
	{"initiated_by", duckdb.TYPE_VARCHAR}, {"status", duckdb.TYPE_VARCHAR},
	{"contact_id", duckdb.TYPE_VARCHAR}, {"owner_id", duckdb.TYPE_VARCHAR},
	{"bot_id", duckdb.TYPE_VARCHAR}, {"website_id", duckdb.TYPE_VARCHAR},
	{"audience_id", duckdb.TYPE_VARCHAR}, {"answer_count", duckdb.TYPE_INTEGER},
	{"booking_count", duckdb.TYPE_INTEGER}, {"raw", duckdb.TYPE_VARCHAR},
}

// appendConversations inserts the conversations of b at indexes newest
// (nil: all) that are touched (nil: all of them) into conversations, with
// the lineage of stage_run, through a query appender: the rows, raw JSON
// included, are written once, not staged and copied.
func appendConversations(ctx context.Context, conn *sql.Conn, b *transform.Batch, newest []int, touched map[string]bool) error {
	err := conn.Raw(func(dc any) (err error) {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T", dc)
		}
		types := make([]duckdb.TypeInfo, len(appendedColumns))
		names := make([]string, len(appendedColumns))
		for i, col := range appendedColumns {
			if types[i], err = duckdb.NewTypeInfo(col.typ); err != nil {
				return err
			}
			names[i] = col.name
		}
		a, err := duckdb.NewQueryAppender(c, sqlfiles.AppendConversations, "appended", types, names)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := a.CloseWithCancel(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}()
		v := make([]driver.Value, len(appendedColumns))
		return eachOf(ctx, b.Conversations, newest, func(r transform.Conversation) error {
			if touched != nil && !touched[r.ID] {
				return nil
			}
			clear(v)
			conversationValues(r, v)
			return a.AppendRow(v...)
		})
	})
	if err != nil {
		return fmt.Errorf("insert conversations: %w", err)
	}
	return nil
}

// appendChildren appends the answers and bookings of the touched
// conversations straight to their tables, stamped with runID and now, and
// returns how many rows it wrote. Skipping the staging table saves a copy of
// the largest part of a batch. A nil touched means every conversation of b.
func appendChildren(ctx context.Context, conn *sql.Conn, b *transform.Batch, touched map[string]bool, runID string, now time.Time) (n int64, err error) {
	answers := func(r transform.Answer, v []driver.Value) bool {
		if touched != nil && !touched[r.ConversationID] {
			return false
		}
		answerValues(r, v)
		v[6], v[7] = now, runID
		return true
	}
	bookings := func(r transform.Booking, v []driver.Value) bool {
		if touched != nil && !touched[r.ConversationID] {
			return false
		}
		bookingValues(r, v)
		v[3], v[4] = now, runID
		return true
	}
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T", dc)
		}
		na, err := appendSome(ctx, c, "", "conversation_answers", 8, b.Answers, answers)
		if err != nil {
			return err
		}
		nb, err := appendSome(ctx, c, "", "conversation_bookings", 5, b.Bookings, bookings)
		n = na + nb
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("append child rows: %w", err)
	}
	return n, nil
}

// appendRows appends rows to the TEMP table of n columns with the appender;
// fill sets a row's values in the order of the table's columns.
func appendRows[T any](ctx context.Context, c driver.Conn, table string, n int, rows []T, fill func(T, []driver.Value)) error {
	_, err := appendSome(ctx, c, "temp", table, n, rows, func(r T, v []driver.Value) bool { fill(r, v); return true })
	return err
}

// appendSome appends to the table of n columns in catalog ("" is the
// warehouse's, "temp" the session's TEMP tables) the rows that
// fill accepts (it sets their values in column order, or returns false to
// skip the row) and returns how many it appended.
func appendSome[T any](ctx context.Context, c driver.Conn, catalog, table string, n int, rows []T, fill func(T, []driver.Value) bool) (appended int64, err error) {
	if len(rows) == 0 {
		return 0, nil
	}
	a, err := duckdb.NewAppender(c, catalog, "main", table)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", table, err)
	}
	defer func() {
		if cerr := a.CloseWithCancel(ctx); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", table, cerr)
		}
	}()
	v := make([]driver.Value, n)
	for i, r := range rows {
		// Cancellation is checked every chunk so a huge batch stops soon.
		if i%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return appended, err
			}
		}
		clear(v)
		if !fill(r, v) {
			continue
		}
		if err := a.AppendRow(v...); err != nil {
			return appended, fmt.Errorf("%s row %d: %w", table, i, err)
		}
		appended++
	}
	return appended, nil
}

// val is *p as an appender value, or untyped nil (SQL NULL) when p is nil:
// the appender rejects typed nil pointers.
func val[T any](p *T) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

func conversationValues(r transform.Conversation, v []driver.Value) {
	v[0], v[1], v[2], v[3] = r.ID, r.CreationTime, r.LastUpdatedTime, val(r.LastInteractedTime)
	v[4], v[5], v[6], v[7] = val(r.InitiatedBy), val(r.Status), val(r.ContactID), val(r.OwnerID)
	v[8], v[9], v[10] = val(r.BotID), val(r.WebsiteID), val(r.AudienceID)
	v[11], v[12], v[13] = r.AnswerCount, r.BookingCount, r.Raw
}

func answerValues(r transform.Answer, v []driver.Value) {
	v[0], v[1], v[2] = r.ConversationID, r.Position, val(r.AnswerID)
	v[3], v[4], v[5] = val(r.Question), val(r.InternalLabel), val(r.Value)
}

func bookingValues(r transform.Booking, v []driver.Value) {
	v[0], v[1], v[2] = r.ConversationID, r.Position, r.BookingID
}

func contactValues(r transform.Contact, v []driver.Value) {
	v[0], v[1], v[2], v[3] = r.ID, r.Deleted, val(r.CreationTime), val(r.LastUpdatedTime)
	v[4], v[5], v[6] = val(r.LastInteractedTime), val(r.OwnerID), val(r.Status)
	v[7], v[8], v[9], v[10] = val(r.FirstName), val(r.LastName), val(r.Email), val(r.Phone)
	v[11], v[12], v[13] = val(r.MobilePhone), val(r.Salutation), val(r.JobTitle)
	v[14], v[15], v[16] = val(r.Company), val(r.CompanySize), val(r.Employees)
	v[17], v[18], v[19], v[20] = val(r.StreetAddress), val(r.City), val(r.State), val(r.PostCode)
	v[21], v[22], v[23] = val(r.Country), val(r.Timezone), val(r.HasConsent)
	v[24], v[25], v[26], v[27] = val(r.TermsOfService), val(r.BotID), val(r.Form), val(r.CustomFields)
}

func userValues(r transform.User, v []driver.Value) {
	v[0], v[1], v[2], v[3] = r.ID, r.Deleted, val(r.FirstName), val(r.LastName)
	v[4], v[5], v[6] = val(r.Email), val(r.Status), val(r.RoleName)
	v[7], v[8] = val(r.Timezone), val(r.Teams)
}

func botValues(r transform.Bot, v []driver.Value) {
	v[0], v[1], v[2] = r.ID, r.Deleted, val(r.Name)
}

func websiteValues(r transform.Website, v []driver.Value) {
	v[0], v[1], v[2], v[3] = r.ID, r.Deleted, val(r.Name), val(r.URL)
}

func audienceValues(r transform.Audience, v []driver.Value) {
	v[0], v[1], v[2] = r.ID, r.Deleted, val(r.Name)
}

func rejectValues(r transform.Reject, v []driver.Value) {
	v[0], v[1], v[2] = val(r.ConversationID), r.Reason, r.Raw
}
