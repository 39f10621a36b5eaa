package load

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/convsync/convsync/transform"
)

// column is one column of a table, typed, read from rows of type R: the
// DuckDB appender gets its values from it (duckdb_stage.go), the Parquet
// sink writes new rows' files with it without boxing a value
// (parquet_direct.go), and the dimension cache fingerprints rows with it
// (dimcache.go).
type column[R any] struct {
	name string
	// node makes the column's Parquet schema node: one for each file, as
	// making a file's schema sets its nodes' parent.
	node func() *schema.PrimitiveNode
	// write writes the column's values of rows idx to cw.
	write func(cw file.ColumnChunkWriter, rows []R, idx []int, buf *columnBuf) error
	// hash writes r's value, tagged NULL or not, to h.
	hash func(h *maphash.Hash, r *R)
	// value is r's value as DuckDB's appender takes it: untyped nil for
	// NULL, as it rejects typed nil pointers.
	value func(r *R) driver.Value
	duck  duckdb.Type // the column's type in sql/schema.sql
}

// columnBuf holds one writer's value and definition-level buffers, reused
// from column to column.
type columnBuf struct {
	bytes []parquet.ByteArray
	i64   []int64
	i32   []int32
	bools []bool
	def   []int16
}

// newColumn makes a column of physical values V: get returns a row's value,
// or false for NULL; vals picks the buffer of V; put writes a batch of them;
// hash writes one to a hash; value is the row's value for the appender.
// Every column is OPTIONAL, as DuckDB writes them.
func newColumn[R, V any](name string, logical schema.LogicalType, typ parquet.Type, get func(*R) (V, bool),
	vals func(*columnBuf) *[]V, put func(file.ColumnChunkWriter, []V, []int16) error, hash func(*maphash.Hash, V),
	value func(*R) driver.Value) column[R] {
	node := func() *schema.PrimitiveNode {
		n, err := schema.NewPrimitiveNodeLogical(name, parquet.Repetitions.Optional, logical, typ, -1, -1)
		if err != nil {
			panic(fmt.Sprintf("column %s: %v", name, err)) // the column lists below are fixed
		}
		return n
	}
	node() // fails now, not in a commit
	duck := map[parquet.Type]duckdb.Type{parquet.Types.ByteArray: duckdb.TYPE_VARCHAR, parquet.Types.Int32: duckdb.TYPE_INTEGER,
		parquet.Types.Int64: duckdb.TYPE_BIGINT, parquet.Types.Boolean: duckdb.TYPE_BOOLEAN}[typ]
	if logical != nil && logical.Equals(timestampTZ) {
		duck = duckdb.TYPE_TIMESTAMP_TZ
	}
	return column[R]{
		name:  name,
		node:  node,
		value: value,
		duck:  duck,
		write: func(cw file.ColumnChunkWriter, rows []R, idx []int, buf *columnBuf) error {
			v, def := (*vals(buf))[:0], buf.def[:0]
			for _, i := range idx {
				x, ok := get(&rows[i])
				if ok {
					v = append(v, x)
					def = append(def, 1)
				} else {
					def = append(def, 0)
				}
			}
			*vals(buf), buf.def = v, def
			return put(cw, v, def)
		},
		hash: func(h *maphash.Hash, r *R) {
			x, ok := get(r)
			if !ok {
				h.WriteByte(0)
				return
			}
			h.WriteByte(1)
			hash(h, x)
		},
	}
}

func byteArrays(b *columnBuf) *[]parquet.ByteArray { return &b.bytes }
func int64s(b *columnBuf) *[]int64                 { return &b.i64 }

func bools(b *columnBuf) *[]bool { return &b.bools }

func putBools(cw file.ColumnChunkWriter, v []bool, def []int16) error {
	_, err := cw.(*file.BooleanColumnChunkWriter).WriteBatch(v, def, nil)
	return err
}

func putByteArrays(cw file.ColumnChunkWriter, v []parquet.ByteArray, def []int16) error {
	_, err := cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(v, def, nil)
	return err
}

func putInt64s(cw file.ColumnChunkWriter, v []int64, def []int16) error {
	_, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch(v, def, nil)
	return err
}

// hashBytes writes v with its length, so that two columns' values cannot
// run into each other.
func hashBytes(h *maphash.Hash, v parquet.ByteArray) {
	maphash.WriteComparable(h, len(v))
	h.Write(v)
}

func hashComparable[V comparable](h *maphash.Hash, v V) { maphash.WriteComparable(h, v) }

// bytesOf is s's bytes without a copy: they are only read.
func bytesOf(s string) parquet.ByteArray { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func optString[R any](name string, f func(*R) *string) column[R] {
	return newColumn(name, schema.StringLogicalType{}, parquet.Types.ByteArray, func(r *R) (parquet.ByteArray, bool) {
		if s := f(r); s != nil {
			return bytesOf(*s), true
		}
		return nil, false
	}, byteArrays, putByteArrays, hashBytes, func(r *R) driver.Value { return orNull(f(r)) })
}

func stringCol[R any](name string, f func(*R) string) column[R] {
	return newColumn(name, schema.StringLogicalType{}, parquet.Types.ByteArray, func(r *R) (parquet.ByteArray, bool) {
		return bytesOf(f(r)), true
	}, byteArrays, putByteArrays, hashBytes, func(r *R) driver.Value { return f(r) })
}

// orNull is *p, or untyped nil (NULL) when p is nil.
func orNull[T any](p *T) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

// The logical types of DuckDB's TIMESTAMPTZ, INTEGER and BIGINT.
var (
	timestampTZ = schema.NewTimestampLogicalType(true, schema.TimeUnitMicros)
	int32Type   = schema.NewIntLogicalType(32, true)
	int64Type   = schema.NewIntLogicalType(64, true)
)

func optTime[R any](name string, f func(*R) *time.Time) column[R] {
	return newColumn(name, timestampTZ, parquet.Types.Int64, func(r *R) (int64, bool) {
		if t := f(r); t != nil {
			return t.UnixMicro(), true
		}
		return 0, false
	}, int64s, putInt64s, hashComparable[int64], func(r *R) driver.Value { return orNull(f(r)) })
}

func timeCol[R any](name string, f func(*R) time.Time) column[R] {
	return newColumn(name, timestampTZ, parquet.Types.Int64, func(r *R) (int64, bool) { return f(r).UnixMicro(), true },
		int64s, putInt64s, hashComparable[int64], func(r *R) driver.Value { return f(r) })
}

func int32Col[R any](name string, f func(*R) int32) column[R] {
	return newColumn(name, int32Type, parquet.Types.Int32, func(r *R) (int32, bool) { return f(r), true },
		func(b *columnBuf) *[]int32 { return &b.i32 }, func(cw file.ColumnChunkWriter, v []int32, def []int16) error {
			_, err := cw.(*file.Int32ColumnChunkWriter).WriteBatch(v, def, nil)
			return err
		}, hashComparable[int32], func(r *R) driver.Value { return f(r) })
}

func optInt64[R any](name string, f func(*R) *int64) column[R] {
	return newColumn(name, int64Type, parquet.Types.Int64, func(r *R) (int64, bool) {
		if n := f(r); n != nil {
			return *n, true
		}
		return 0, false
	}, int64s, putInt64s, hashComparable[int64], func(r *R) driver.Value { return orNull(f(r)) })
}

func boolCol[R any](name string, f func(*R) bool) column[R] {
	return newColumn(name, nil, parquet.Types.Boolean, func(r *R) (bool, bool) { return f(r), true }, bools, putBools,
		hashComparable[bool], func(r *R) driver.Value { return f(r) })
}

func optBool[R any](name string, f func(*R) *bool) column[R] {
	return newColumn(name, nil, parquet.Types.Boolean, func(r *R) (bool, bool) {
		if v := f(r); v != nil {
			return *v, true
		}
		return false, false
	}, bools, putBools, hashComparable[bool], func(r *R) driver.Value { return orNull(f(r)) })
}

// withLineage is cols followed by the synced_at and run_id columns every
// table ends with.
func withLineage[R any](cols []column[R], now time.Time, runID string) []column[R] {
	return append(slices.Clip(cols),
		timeCol("synced_at", func(*R) time.Time { return now }),
		stringCol("run_id", func(*R) string { return runID }),
	)
}

// The columns of each table, in the order of sql/schema.sql (checked when a
// warehouse opens, see checkColumns), lineage aside.
var (
	conversationFields = conversationColumns()
	answerFields       = answerColumns()
	bookingFields      = bookingColumns()
	contactFields      = contactColumns()
	userFields         = userColumns()
	botFields          = botColumns()
	websiteFields      = websiteColumns()
	audienceFields     = audienceColumns()
)

func conversationColumns() []column[transform.Conversation] {
	type R = transform.Conversation
	return []column[R]{
		stringCol("id", func(r *R) string { return r.ID }),
		timeCol("creation_time", func(r *R) time.Time { return r.CreationTime }),
		timeCol("last_updated_time", func(r *R) time.Time { return r.LastUpdatedTime }),
		optTime("last_interacted_time", func(r *R) *time.Time { return r.LastInteractedTime }),
		optString("initiated_by", func(r *R) *string { return r.InitiatedBy }),
		optString("status", func(r *R) *string { return r.Status }),
		optString("contact_id", func(r *R) *string { return r.ContactID }),
		optString("owner_id", func(r *R) *string { return r.OwnerID }),
		optString("bot_id", func(r *R) *string { return r.BotID }),
		optString("website_id", func(r *R) *string { return r.WebsiteID }),
		optString("audience_id", func(r *R) *string { return r.AudienceID }),
		int32Col("answer_count", func(r *R) int32 { return r.AnswerCount }),
		int32Col("booking_count", func(r *R) int32 { return r.BookingCount }),
		stringCol("raw", func(r *R) string { return r.Raw }),
	}
}

func answerColumns() []column[transform.Answer] {
	type R = transform.Answer
	return []column[R]{
		stringCol("conversation_id", func(r *R) string { return r.ConversationID }),
		int32Col("position", func(r *R) int32 { return r.Position }),
		optString("answer_id", func(r *R) *string { return r.AnswerID }),
		optString("question", func(r *R) *string { return r.Question }),
		optString("internal_label", func(r *R) *string { return r.InternalLabel }),
		optString("value", func(r *R) *string { return r.Value }),
	}
}

func bookingColumns() []column[transform.Booking] {
	type R = transform.Booking
	return []column[R]{
		stringCol("conversation_id", func(r *R) string { return r.ConversationID }),
		int32Col("position", func(r *R) int32 { return r.Position }),
		stringCol("booking_id", func(r *R) string { return r.BookingID }),
	}
}

func contactColumns() []column[transform.Contact] {
	type R = transform.Contact
	return []column[R]{
		stringCol("id", func(r *R) string { return r.ID }),
		boolCol("deleted", func(r *R) bool { return r.Deleted }),
		optTime("creation_time", func(r *R) *time.Time { return r.CreationTime }),
		optTime("last_updated_time", func(r *R) *time.Time { return r.LastUpdatedTime }),
		optTime("last_interacted_time", func(r *R) *time.Time { return r.LastInteractedTime }),
		optString("owner_id", func(r *R) *string { return r.OwnerID }),
		optString("status", func(r *R) *string { return r.Status }),
		optString("first_name", func(r *R) *string { return r.FirstName }),
		optString("last_name", func(r *R) *string { return r.LastName }),
		optString("email", func(r *R) *string { return r.Email }),
		optString("phone", func(r *R) *string { return r.Phone }),
		optString("mobile_phone", func(r *R) *string { return r.MobilePhone }),
		optString("salutation", func(r *R) *string { return r.Salutation }),
		optString("job_title", func(r *R) *string { return r.JobTitle }),
		optString("company", func(r *R) *string { return r.Company }),
		optString("company_size", func(r *R) *string { return r.CompanySize }),
		optInt64("employees", func(r *R) *int64 { return r.Employees }),
		optString("street_address", func(r *R) *string { return r.StreetAddress }),
		optString("city", func(r *R) *string { return r.City }),
		optString("state", func(r *R) *string { return r.State }),
		optString("post_code", func(r *R) *string { return r.PostCode }),
		optString("country", func(r *R) *string { return r.Country }),
		optString("timezone", func(r *R) *string { return r.Timezone }),
		optBool("has_consent", func(r *R) *bool { return r.HasConsent }),
		optBool("terms_of_service", func(r *R) *bool { return r.TermsOfService }),
		optString("bot_id", func(r *R) *string { return r.BotID }),
		optString("form", func(r *R) *string { return r.Form }),
		optString("custom_fields", func(r *R) *string { return r.CustomFields }),
	}
}

func userColumns() []column[transform.User] {
	type R = transform.User
	return []column[R]{
		stringCol("id", func(r *R) string { return r.ID }),
		boolCol("deleted", func(r *R) bool { return r.Deleted }),
		optString("first_name", func(r *R) *string { return r.FirstName }),
		optString("last_name", func(r *R) *string { return r.LastName }),
		optString("email", func(r *R) *string { return r.Email }),
		optString("status", func(r *R) *string { return r.Status }),
		optString("role_name", func(r *R) *string { return r.RoleName }),
		optString("timezone", func(r *R) *string { return r.Timezone }),
		optString("teams", func(r *R) *string { return r.Teams }),
	}
}

func botColumns() []column[transform.Bot] {
	type R = transform.Bot
	return []column[R]{
		stringCol("id", func(r *R) string { return r.ID }),
		boolCol("deleted", func(r *R) bool { return r.Deleted }),
		optString("name", func(r *R) *string { return r.Name }),
	}
}

func websiteColumns() []column[transform.Website] {
	type R = transform.Website
	return []column[R]{
		stringCol("id", func(r *R) string { return r.ID }),
		boolCol("deleted", func(r *R) bool { return r.Deleted }),
		optString("name", func(r *R) *string { return r.Name }),
		optString("url", func(r *R) *string { return r.URL }),
	}
}

func audienceColumns() []column[transform.Audience] {
	type R = transform.Audience
	return []column[R]{
		stringCol("id", func(r *R) string { return r.ID }),
		boolCol("deleted", func(r *R) bool { return r.Deleted }),
		optString("name", func(r *R) *string { return r.Name }),
	}
}

// checkColumns reports a column list that differs from its table's in a
// warehouse (cols, from DuckDB's catalog, lineage included).
func checkColumns(cols map[string][]string) error {
	var errs []error
	check := func(table string, names []string) {
		names = append(names, "synced_at", "run_id")
		if has := cols[table]; !slices.Equal(names, has) {
			errs = append(errs, fmt.Errorf("table %s has the columns %v, where this convsync writes %v", table, has, names))
		}
	}
	check("conversations", columnNames(conversationFields))
	check("conversation_answers", columnNames(answerFields))
	check("conversation_bookings", columnNames(bookingFields))
	check("contacts", columnNames(contactFields))
	check("users", columnNames(userFields))
	check("bots", columnNames(botFields))
	check("websites", columnNames(websiteFields))
	check("audiences", columnNames(audienceFields))
	return errors.Join(errs...)
}

func columnNames[R any](cols []column[R]) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return names
}

// appenderValues sets v to r's values in cols, for the appender.
func appenderValues[R any](cols []column[R], r *R, v []driver.Value) {
	for i, c := range cols {
		v[i] = c.value(r)
	}
}
