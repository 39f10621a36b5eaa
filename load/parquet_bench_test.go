package load_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// Benchmarks of the Parquet sink on the data of duckdb_bench_test.go, with
// conversations created over two years (24 monthly partitions):
//
//	go test ./load -run '^$' -bench 'Parquet' -benchtime 5x [-parquet.conversations 1000000]
var parquetBenchSize = flag.Int("parquet.conversations", 50000, "conversations in the Parquet benchmarks' dataset")

const benchSpan = 730 * 24 * time.Hour

// parquetBatch is conversations [lo, hi) of a dataset of size, in version
// v, created evenly over benchSpan.
func parquetBatch(lo, hi, size, v int) *transform.Batch {
	var b transform.Batch
	step := benchSpan / time.Duration(size)
	for n := lo; n < hi; n++ {
		benchConv(&b, n, v)
		c := &b.Conversations[len(b.Conversations)-1]
		c.CreationTime = benchEpoch.Add(time.Duration(n) * step)
		updated := c.CreationTime.Add(time.Duration(v+1) * time.Hour)
		c.LastUpdatedTime, c.LastInteractedTime = updated, &updated
	}
	return &b
}

// BenchmarkParquetDelta commits a delta of 1 % of the dataset (half updates
// of the conversations of the last two months, half new conversations) next
// to a full write of the whole dataset into an empty folder, and DuckDB's
// own partitioned COPY TO of the same rows, the ceiling of a full write.
func BenchmarkParquetDelta(b *testing.B) {
	size := *parquetBenchSize
	delta := max(size/100, 2)

	b.Run(fmt.Sprintf("full/%d", size), func(b *testing.B) {
		batch := parquetBatch(0, size, size, 0)
		var written, removed int
		var bytes int64
		for i := 0; b.Loop(); i++ {
			pq := openParquet(b, filepath.Join(b.TempDir(), fmt.Sprint(i)), load.ParquetOptions{})
			if _, err := pq.Commit(ctx, batch, load.State{}, load.Run{ID: "full", Start: benchEpoch}); err != nil {
				b.Fatal(err)
			}
			written, bytes, removed = pq.LastPublish()
			pq.Close()
		}
		b.ReportMetric(float64(written), "files/op")
		b.ReportMetric(float64(bytes)/1e6, "MB/op")
		b.ReportMetric(float64(removed), "removed/op")
	})

	b.Run(fmt.Sprintf("copy-to-ceiling/%d", size), func(b *testing.B) {
		src := filepath.Join(b.TempDir(), "src")
		pq := openParquet(b, src, load.ParquetOptions{})
		if _, err := pq.Commit(ctx, parquetBatch(0, size, size, 0), load.State{}, load.Run{ID: "full", Start: benchEpoch}); err != nil {
			b.Fatal(err)
		}
		pq.Close()
		db := duck(b)
		tables := []string{"conversations", "conversation_answers", "conversation_bookings", "contacts"}
		for _, t := range tables {
			q := fmt.Sprintf("CREATE TABLE copy_%s AS SELECT * FROM read_parquet(%s, hive_partitioning = true)",
				t, quoteLit(filepath.Join(src, t, "**", "*.parquet")))
			if _, err := db.Exec(q); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; b.Loop(); i++ {
			out := filepath.Join(b.TempDir(), fmt.Sprint(i))
			if err := os.MkdirAll(out, 0o755); err != nil {
				b.Fatal(err)
			}
			for _, t := range tables {
				opts, to := "PARTITION_BY (creation_month)", filepath.Join(out, t)
				if t == "contacts" {
					opts, to = "", filepath.Join(out, "contacts.parquet")
				}
				q := fmt.Sprintf("COPY copy_%s TO %s (FORMAT parquet, COMPRESSION zstd %s)", t, quoteLit(to), comma(opts))
				if _, err := db.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
		}
	})

	b.Run(fmt.Sprintf("delta-1pct/%d", size), func(b *testing.B) {
		pq := openParquet(b, b.TempDir(), load.ParquetOptions{})
		defer pq.Close()
		if _, err := pq.Commit(ctx, parquetBatch(0, size, size, 0), load.State{}, load.Run{ID: "full", Start: benchEpoch}); err != nil {
			b.Fatal(err)
		}
		var written, removed int
		var bytes int64
		recent := size - size/12 // the last two months
		for i := 0; b.Loop(); i++ {
			half := delta / 2
			upd := recent + (i*half)%(size/12-half)
			batch := parquetBatch(upd, upd+half, size, i+1)
			more := parquetBatch(size+i*half, size+(i+1)*half, size, 0) // new: created after the last
			batch.Conversations = append(batch.Conversations, more.Conversations...)
			batch.Answers = append(batch.Answers, more.Answers...)
			batch.Bookings = append(batch.Bookings, more.Bookings...)
			batch.Contacts = append(batch.Contacts, more.Contacts...)
			c, err := pq.Commit(ctx, batch, load.State{}, load.Run{ID: "delta", Start: benchEpoch})
			if err != nil {
				b.Fatal(err)
			}
			if c.Updated != int64(half) || c.Inserted != int64(half) {
				b.Fatalf("delta %d: %+v, want %d updated and inserted", i, c, half)
			}
			written, bytes, removed = pq.LastPublish()
		}
		b.ReportMetric(float64(written), "files/op")
		b.ReportMetric(float64(bytes)/1e6, "MB/op")
		b.ReportMetric(float64(removed), "removed/op")
	})
}

func comma(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}
