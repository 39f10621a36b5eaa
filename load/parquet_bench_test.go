package load_test

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// Benchmarks of the Parquet sink on generated rows (no HTTP): ~7 answers
// and ~1 booking per conversation, a few hundred bytes of raw JSON, one
// contact per conversation created with it, conversations created evenly
// over two years (24 monthly partitions).
//
//	go test ./load -run '^$' -bench 'ParquetFull' -benchtime 3x -parquet.full 200000
//	go test ./load -run '^$' -bench 'ParquetDelta' -benchtime 5x -parquet.conversations 1000000
var (
	parquetFullSize  = flag.Int("parquet.full", 50000, "conversations in BenchmarkParquetFull")
	parquetDeltaSize = flag.Int("parquet.conversations", 50000, "conversations in BenchmarkParquetDelta's dataset")
)

const benchSpan = 730 * 24 * time.Hour

// parquetBatch is conversations [lo, hi) of a dataset of size, in version
// v, created evenly over benchSpan from benchEpoch.
func parquetBatch(lo, hi, size, v int) *transform.Batch {
	b := &transform.Batch{}
	step := benchSpan / time.Duration(size)
	question, label := "What is your question number?", "label"
	for n := lo; n < hi; n++ {
		id := fmt.Sprintf("CVR-%010X", uint32(n)*2654435761) // opaque, unordered ids like the API's
		created := benchEpoch.Add(time.Duration(n) * step)
		updated := created.Add(time.Duration(v+1) * time.Hour)
		answers, bookings := 5+n%5, n%3
		contact, owner, bot := "CTC-"+id[4:], fmt.Sprintf("USR-%d", n%50), fmt.Sprintf("BOT-%d", n%20)
		b.Conversations = append(b.Conversations, transform.Conversation{
			ID: id, CreationTime: created, LastUpdatedTime: updated, LastInteractedTime: &updated,
			InitiatedBy: p("visitor"), Status: p("closed"), ContactID: &contact, OwnerID: &owner, BotID: &bot,
			WebsiteID: p("WEB-1"), AnswerCount: int32(answers), BookingCount: int32(bookings),
			Raw: fmt.Sprintf(`{"id":%q,"object":"conversation","creation_time":%q,"last_updated_time":%q,"status":"closed","initiated_by":"visitor","answers":[%s]}`,
				id, created.Format(time.RFC3339Nano), updated.Format(time.RFC3339Nano), strings.Repeat(`{"id":"INT-1","question":"What is your name?","value":"A name"},`, 3)),
		})
		for i := 1; i <= answers; i++ {
			b.Answers = append(b.Answers, transform.Answer{ConversationID: id, Position: int32(i),
				AnswerID: p(fmt.Sprintf("INT-%d", i)), Question: &question, InternalLabel: &label,
				Value: p(fmt.Sprintf("answer %d of version %d", i, v))})
		}
		for i := 1; i <= bookings; i++ {
			b.Bookings = append(b.Bookings, transform.Booking{ConversationID: id, Position: int32(i), BookingID: fmt.Sprintf("BKNG-%d-%d", n, i)})
		}
		b.Contacts = append(b.Contacts, transform.Contact{ID: contact, CreationTime: &created, LastUpdatedTime: &updated,
			FirstName: p("Ann"), Email: p("ann@example.com"), Status: p("lead")})
	}
	return b
}

// BenchmarkParquetFull writes the whole dataset into an empty folder with
// one commit (opening and closing the dataset included), and, in the same
// iteration, DuckDB's own partitioned COPY TO of the same rows from tables
// in memory (same layout, compression and session settings): the ceiling of
// a full write. It reports both and their ratio (issue 5: at most 1.5).
func BenchmarkParquetFull(b *testing.B) {
	size := *parquetFullSize
	batch := parquetBatch(0, size, size, 0)
	src := filepath.Join(b.TempDir(), "src")
	pq := openParquet(b, src, load.ParquetOptions{})
	if _, err := pq.Commit(ctx, batch, load.State{}, load.Run{ID: "full", Start: benchEpoch}); err != nil {
		b.Fatal(err)
	}
	pq.Close()
	db := duck(b)
	db.SetMaxOpenConns(1)
	mustExec(b, db, "SET preserve_insertion_order = false")
	for _, t := range partitionedTables {
		mustExec(b, db, fmt.Sprintf("CREATE TABLE copy_%s AS SELECT * FROM read_parquet(%s, hive_partitioning = true, hive_types = {'creation_month': VARCHAR})",
			t, quoteLit(filepath.Join(src, t, "**", "*.parquet"))))
	}
	var sink, ceiling time.Duration
	steps := map[string]time.Duration{}
	var files int
	var bytes int64
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		pq := openParquet(b, filepath.Join(b.TempDir(), fmt.Sprint(i)), load.ParquetOptions{})
		timeParquetSteps(pq, steps)
		if _, err := pq.Commit(ctx, batch, load.State{}, load.Run{ID: "full", Start: benchEpoch}); err != nil {
			b.Fatal(err)
		}
		files, bytes, _ = pq.LastPublish()
		pq.Close()
		sink += time.Since(start)

		start = time.Now()
		out := b.TempDir()
		for _, t := range partitionedTables {
			mustExec(b, db, fmt.Sprintf("COPY copy_%s TO %s (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (creation_month), ROW_GROUP_SIZE_BYTES '16MB')",
				t, quoteLit(filepath.Join(out, t))))
		}
		ceiling += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(sink.Seconds()/n, "sink-s")
	b.ReportMetric(ceiling.Seconds()/n, "copy-to-s")
	b.ReportMetric(sink.Seconds()/ceiling.Seconds(), "sink/copy-to")
	reportSteps(b, steps, "")
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(float64(bytes)/1e6, "MB")
}

// timeParquetSteps adds the time each step of pq's commits takes, from the
// previous step's end (or the hook's installation), to steps.
func timeParquetSteps(pq *load.Parquet, steps map[string]time.Duration) {
	last := time.Now()
	pq.SetHook(func(step string) error {
		steps[step] += time.Since(last)
		last = time.Now()
		return nil
	})
}

// reportSteps reports the mean seconds of the main steps of a commit.
func reportSteps(b *testing.B, steps map[string]time.Duration, prefix string) {
	for _, step := range []string{"direct", "staged", "conversations", "dimensions"} {
		b.ReportMetric(steps[step].Seconds()/float64(b.N), prefix+step+"-s")
	}
}

var partitionedTables = []string{"conversations", "conversation_answers", "conversation_bookings", "contacts"}

func mustExec(b *testing.B, db *sql.DB, q string) {
	b.Helper()
	if _, err := db.Exec(q); err != nil {
		b.Fatalf("%s: %v", q, err)
	}
}

// BenchmarkParquetDelta commits deltas of 1 % of the dataset (half updates
// of conversations of the last two months, half new conversations) to a
// dataset built in commits of 100,000, and, once, a full rewrite of the
// same dataset: every file of every partitioned table read and written
// again by DuckDB alone, a lower bound on what a sink without
// copy-on-write partitions pays for any batch. It reports, per delta, the
// files and bytes written and the seconds, next to the rewrite's.
func BenchmarkParquetDelta(b *testing.B) {
	size := *parquetDeltaSize
	delta := max(size/100, 2)
	dir := b.TempDir()
	pq := openParquet(b, dir, load.ParquetOptions{})
	defer pq.Close()
	start := time.Now()
	for lo := 0; lo < size; lo += 100_000 {
		if _, err := pq.Commit(ctx, parquetBatch(lo, min(lo+100_000, size), size, 0), load.State{}, load.Run{ID: "base", Start: benchEpoch}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("dataset of %d conversations built in %v", size, time.Since(start))

	var written, removed int
	var bytes int64
	var took time.Duration
	steps := map[string]time.Duration{}
	recent := size - size/12 // the last two months
	half := delta / 2
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		upd := recent + (i*half)%(size/12-half)
		batch := parquetBatch(upd, upd+half, size, i+1)
		more := parquetBatch(size+i*half, size+(i+1)*half, size, 0) // new: created after the last
		batch.Conversations = append(batch.Conversations, more.Conversations...)
		batch.Answers = append(batch.Answers, more.Answers...)
		batch.Bookings = append(batch.Bookings, more.Bookings...)
		batch.Contacts = append(batch.Contacts, more.Contacts...)
		b.StartTimer()
		start := time.Now()
		timeParquetSteps(pq, steps)
		c, err := pq.Commit(ctx, batch, load.State{}, load.Run{ID: "delta", Start: benchEpoch})
		if err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		if c.Updated != int64(half) || c.Inserted != int64(half) {
			b.Fatalf("delta %d: %+v, want %d updated and inserted", i, c, half)
		}
		w, by, r := pq.LastPublish()
		written, bytes, removed = written+w, bytes+by, removed+r
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(written)/n, "delta-files")
	b.ReportMetric(float64(bytes)/n/1e6, "delta-MB")
	b.ReportMetric(float64(removed)/n, "delta-removed")
	b.ReportMetric(took.Seconds()/n, "delta-s")
	reportSteps(b, steps, "delta-")

	rewrite, rewriteBytes := rewriteAll(b, dir)
	b.ReportMetric(rewrite.Seconds(), "rewrite-s")
	b.ReportMetric(float64(rewriteBytes)/1e6, "rewrite-MB")
	b.ReportMetric(took.Seconds()/n/rewrite.Seconds(), "delta/rewrite-s")
	b.ReportMetric(float64(bytes)/n/float64(rewriteBytes), "delta/rewrite-MB")
}

// rewriteAll reads every file of the partitioned tables of dataset dir and
// writes them again, as the sink lays them out, into a new folder; it
// returns the time and the bytes written.
func rewriteAll(b *testing.B, dir string) (time.Duration, int64) {
	db := duck(b)
	db.SetMaxOpenConns(1)
	mustExec(b, db, "SET preserve_insertion_order = false")
	out := b.TempDir()
	start := time.Now()
	for _, t := range partitionedTables {
		mustExec(b, db, fmt.Sprintf(`COPY (SELECT * FROM read_parquet(%s, hive_partitioning = true, hive_types = {'creation_month': VARCHAR}))
			TO %s (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (creation_month))`,
			quoteLit(filepath.Join(dir, t, "**", "*.parquet")), quoteLit(filepath.Join(out, t))))
	}
	took := time.Since(start)
	var bytes int64
	filepath.Walk(out, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			bytes += fi.Size()
		}
		return nil
	})
	return took, bytes
}
