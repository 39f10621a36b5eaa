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
		return appendRows(ctx, c, "stage_conversations", b.Conversations, conversationFields)
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
		err = eachOf(ctx, b.Conversations, newest, func(r *transform.Conversation) error {
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
			appendTemp(ctx, c, "stage_run", 2, []string{runID}, func(id *string, v []driver.Value) { v[0], v[1] = *id, now }),
			convs(c),
			appendRows(ctx, c, "stage_contacts", b.Contacts, contactFields),
			appendRows(ctx, c, "stage_users", b.Users, userFields),
			appendRows(ctx, c, "stage_bots", b.Bots, botFields),
			appendRows(ctx, c, "stage_websites", b.Websites, websiteFields),
			appendRows(ctx, c, "stage_audiences", b.Audiences, audienceFields),
			appendTemp(ctx, c, "stage_rejects", 3, b.Rejects, func(r *transform.Reject, v []driver.Value) {
				v[0], v[1], v[2] = orNull(r.ConversationID), r.Reason, r.Raw
			}),
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
func eachOf[T any](ctx context.Context, rows []T, indexes []int, f func(*T) error) error {
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
		if err := f(&rows[i]); err != nil {
			return err
		}
	}
	return nil
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
		// The TEMP table appended, which sqlfiles.AppendConversations reads,
		// has conversations' columns up to raw.
		types := make([]duckdb.TypeInfo, len(conversationFields))
		names := make([]string, len(conversationFields))
		for i, col := range conversationFields {
			if types[i], err = duckdb.NewTypeInfo(col.duck); err != nil {
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
		v := make([]driver.Value, len(conversationFields))
		return eachOf(ctx, b.Conversations, newest, func(r *transform.Conversation) error {
			if touched != nil && !touched[r.ID] {
				return nil
			}
			appenderValues(conversationFields, r, v)
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
	// The lineage is boxed once, not for each of a batch's rows.
	synced, run := driver.Value(now), driver.Value(runID)
	answers := func(r *transform.Answer, v []driver.Value) bool {
		if touched != nil && !touched[r.ConversationID] {
			return false
		}
		appenderValues(answerFields, r, v)
		v[len(answerFields)], v[len(answerFields)+1] = synced, run
		return true
	}
	bookings := func(r *transform.Booking, v []driver.Value) bool {
		if touched != nil && !touched[r.ConversationID] {
			return false
		}
		appenderValues(bookingFields, r, v)
		v[len(bookingFields)], v[len(bookingFields)+1] = synced, run
		return true
	}
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T", dc)
		}
		na, err := appendSome(ctx, c, "", "conversation_answers", len(answerFields)+2, b.Answers, answers)
		if err != nil {
			return err
		}
		nb, err := appendSome(ctx, c, "", "conversation_bookings", len(bookingFields)+2, b.Bookings, bookings)
		n = na + nb
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("append child rows: %w", err)
	}
	return n, nil
}

// appendRows appends rows to the TEMP table of columns cols with the
// appender.
func appendRows[T any](ctx context.Context, c driver.Conn, table string, rows []T, cols []column[T]) error {
	return appendTemp(ctx, c, table, len(cols), rows, func(r *T, v []driver.Value) { appenderValues(cols, r, v) })
}

// appendTemp appends rows to the TEMP table of n columns with the appender;
// set sets a row's values in the order of the table's columns.
func appendTemp[T any](ctx context.Context, c driver.Conn, table string, n int, rows []T, set func(*T, []driver.Value)) error {
	_, err := appendSome(ctx, c, "temp", table, n, rows, func(r *T, v []driver.Value) bool { set(r, v); return true })
	return err
}

// appendSome appends to the table of n columns in catalog ("" is the
// warehouse's, "temp" the session's TEMP tables) the rows that
// fill accepts (it sets their values in column order, or returns false to
// skip the row) and returns how many it appended.
func appendSome[T any](ctx context.Context, c driver.Conn, catalog, table string, n int, rows []T, fill func(*T, []driver.Value) bool) (appended int64, err error) {
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
	for i := range rows {
		// Cancellation is checked every chunk so a huge batch stops soon.
		if i%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return appended, err
			}
		}
		clear(v)
		if !fill(&rows[i], v) {
			continue
		}
		if err := a.AppendRow(v...); err != nil {
			return appended, fmt.Errorf("%s row %d: %w", table, i, err)
		}
		appended++
	}
	return appended, nil
}
