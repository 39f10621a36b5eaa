//go:build duckdb_arrow

package load

// The measurement behind the sink's path into DuckDB (bench/README.md,
// "Measured and not done"): the same rows inserted with the row appender, and as Arrow
// record batches through duckdb-go's Arrow interface, which needs the
// duckdb_arrow build tag:
//
//	go test -tags duckdb_arrow ./load -run '^$' -bench Ingest -benchtime 5x

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/convsync/convsync/transform"
)

// ingestBatch is 20,000 conversations with ~1.6 kB of raw JSON and 7
// answers each, like the simulator's.
func ingestBatch() *transform.Batch {
	var b transform.Batch
	s := func(v string) *string { return &v }
	raw := `{"pad":"` + strings.Repeat("x", 1600) + `"}`
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for n := range 20_000 {
		id := fmt.Sprintf("CVR-%010X", uint32(n)*2654435761)
		at := t0.Add(time.Duration(n) * time.Minute)
		b.Conversations = append(b.Conversations, transform.Conversation{ID: id, CreationTime: at, LastUpdatedTime: at,
			LastInteractedTime: &at, InitiatedBy: s("visitor"), Status: s("closed"), ContactID: s("CTC-" + id[4:]),
			BotID: s("BOT-1"), AnswerCount: 7, Raw: raw})
		for i := range int32(7) {
			b.Answers = append(b.Answers, transform.Answer{ConversationID: id, Position: i + 1, AnswerID: s(fmt.Sprintf("INT-%d", i)),
				Question: s("What is your question?"), Value: s(fmt.Sprintf("answer %d", i))})
		}
	}
	return &b
}

func BenchmarkIngest(b *testing.B) {
	batch := ingestBatch()
	d, err := OpenDuckDB(context.Background(), filepath.Join(b.TempDir(), "w.duckdb"), DuckDBOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	for _, path := range []struct {
		name   string
		ingest func(c driver.Conn) error
	}{
		{"appender", func(c driver.Conn) error {
			if err := appendRows(ctx, c, "ic", batch.Conversations, conversationFields); err != nil {
				return err
			}
			return appendRows(ctx, c, "ia", batch.Answers, answerFields)
		}},
		{"arrow", func(c driver.Conn) error { return ingestArrow(ctx, c, batch) }},
	} {
		b.Run(path.name, func(b *testing.B) {
			conn, err := d.DB().Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			for b.Loop() {
				b.StopTimer()
				mustExecConn(b, conn, `CREATE OR REPLACE TEMP TABLE ic AS SELECT * EXCLUDE (synced_at, run_id) FROM conversations LIMIT 0;
					CREATE OR REPLACE TEMP TABLE ia AS SELECT * EXCLUDE (synced_at, run_id) FROM conversation_answers LIMIT 0`)
				b.StartTimer()
				if err := conn.Raw(func(dc any) error { return path.ingest(dc.(driver.Conn)) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(batch.Conversations)+len(batch.Answers))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func mustExecConn(b *testing.B, conn *sql.Conn, q string) {
	b.Helper()
	if _, err := conn.ExecContext(context.Background(), q); err != nil {
		b.Fatal(err)
	}
}

var tsUTC = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// ingestArrow builds one record batch per table and inserts each through a
// view of it (a view of a record reader can be read once).
func ingestArrow(ctx context.Context, c driver.Conn, b *transform.Batch) error {
	ar, err := duckdb.NewArrowFromConn(c)
	if err != nil {
		return err
	}
	str, i32 := arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32
	convs := arrow.NewSchema([]arrow.Field{{Name: "id", Type: str}, {Name: "creation_time", Type: tsUTC},
		{Name: "last_updated_time", Type: tsUTC}, {Name: "last_interacted_time", Type: tsUTC, Nullable: true},
		{Name: "initiated_by", Type: str, Nullable: true}, {Name: "status", Type: str, Nullable: true},
		{Name: "contact_id", Type: str, Nullable: true}, {Name: "owner_id", Type: str, Nullable: true},
		{Name: "bot_id", Type: str, Nullable: true}, {Name: "website_id", Type: str, Nullable: true},
		{Name: "audience_id", Type: str, Nullable: true}, {Name: "answer_count", Type: i32},
		{Name: "booking_count", Type: i32}, {Name: "raw", Type: str}}, nil)
	answers := arrow.NewSchema([]arrow.Field{{Name: "conversation_id", Type: str}, {Name: "position", Type: i32},
		{Name: "answer_id", Type: str, Nullable: true}, {Name: "question", Type: str, Nullable: true},
		{Name: "internal_label", Type: str, Nullable: true}, {Name: "value", Type: str, Nullable: true}}, nil)
	mem := memory.NewGoAllocator()

	cb := array.NewRecordBuilder(mem, convs)
	defer cb.Release()
	for _, r := range b.Conversations {
		cb.Field(0).(*array.StringBuilder).Append(r.ID)
		cb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.CreationTime.UnixMicro()))
		cb.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(r.LastUpdatedTime.UnixMicro()))
		if r.LastInteractedTime == nil {
			cb.Field(3).AppendNull()
		} else {
			cb.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(r.LastInteractedTime.UnixMicro()))
		}
		for i, v := range []*string{r.InitiatedBy, r.Status, r.ContactID, r.OwnerID, r.BotID, r.WebsiteID, r.AudienceID} {
			appendString(cb.Field(4+i).(*array.StringBuilder), v)
		}
		cb.Field(11).(*array.Int32Builder).Append(r.AnswerCount)
		cb.Field(12).(*array.Int32Builder).Append(r.BookingCount)
		cb.Field(13).(*array.StringBuilder).Append(r.Raw)
	}
	ab := array.NewRecordBuilder(mem, answers)
	defer ab.Release()
	for _, r := range b.Answers {
		ab.Field(0).(*array.StringBuilder).Append(r.ConversationID)
		ab.Field(1).(*array.Int32Builder).Append(r.Position)
		for i, v := range []*string{r.AnswerID, r.Question, r.InternalLabel, r.Value} {
			appendString(ab.Field(2+i).(*array.StringBuilder), v)
		}
	}
	for _, t := range []struct {
		schema *arrow.Schema
		rec    arrow.RecordBatch
		into   string
	}{{convs, cb.NewRecordBatch(), "ic"}, {answers, ab.NewRecordBatch(), "ia"}} {
		rr, err := array.NewRecordReader(t.schema, []arrow.RecordBatch{t.rec})
		if err != nil {
			return err
		}
		release, err := ar.RegisterView(rr, "arrow_in")
		if err != nil {
			return err
		}
		_, err = c.(driver.ExecerContext).ExecContext(ctx, "INSERT INTO "+t.into+" SELECT * FROM arrow_in", nil)
		release()
		t.rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func appendString(b *array.StringBuilder, v *string) {
	if v == nil {
		b.AppendNull()
		return
	}
	b.Append(*v)
}
