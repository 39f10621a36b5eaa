package load_test

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// directBatch is a batch with NULLs in every nullable column somewhere, and
// contacts in two partitions and in the NULL one (a redacted contact has no
// creation time).
func directBatch() *transform.Batch {
	b := threeMonths(at(2, 0))
	bare, as, bs := conv("CVR-N", janCreated.Add(time.Hour), at(2, 0), 2, 1)
	bare.LastInteractedTime, bare.InitiatedBy, bare.Status, bare.ContactID = nil, nil, nil, nil
	bare.OwnerID, bare.BotID, bare.WebsiteID, bare.AudienceID = nil, nil, nil, nil
	as[0].AnswerID, as[0].Question, as[0].InternalLabel, as[0].Value = nil, nil, nil, nil
	// Created on 1 March in its zone, on 28 February in UTC, which partitions.
	edge, eas, ebs := conv("CVR-Z", time.Date(2025, 3, 1, 1, 0, 0, 0, zone), at(2, 0), 1, 1)
	b.Conversations = append(b.Conversations, bare, edge)
	b.Answers = append(append(b.Answers, as...), eas...)
	b.Bookings = append(append(b.Bookings, bs...), ebs...)
	// A child row of no conversation of the batch, which the Batch contract
	// rules out: both paths leave it out.
	b.Answers = append(b.Answers, transform.Answer{ConversationID: "CVR-GONE", Position: 1})
	jan := fullContact("CTC-2")
	jan.CreationTime = &janCreated
	b.Contacts = append(b.Contacts, jan, transform.Contact{ID: "CTC-3", Deleted: true})
	return b
}

// otherBatch is a conversation and a contact of another month, stored in a
// dataset before directBatch so that directBatch's rows are merged there.
func otherBatch() *transform.Batch {
	b := batchOf(version("CVR-O", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), at(2, 0), 1, 1))
	o := fullContact("CTC-O")
	o.CreationTime = p(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	b.Contacts = []transform.Contact{o}
	return b
}

var directTables = []struct{ table, key string }{
	{"conversations", "id"},
	{"conversation_answers", "conversation_id"},
	{"conversation_bookings", "conversation_id"},
	{"contacts", "id"},
}

// TestParquet_DirectFilesMatchDuckDB writes the same rows into two
// datasets: into an empty one, where they are new and written from Go, and
// into one that already holds other rows, where they are staged in DuckDB
// and written by its COPY. For every partitioning, each table must have the
// same rows, in the same partition folders, in files of the same Parquet
// schema.
func TestParquet_DirectFilesMatchDuckDB(t *testing.T) {
	for _, partition := range []string{"month", "day", "none"} {
		t.Run(partition, func(t *testing.T) {
			opts := load.ParquetOptions{Partition: partition}
			direct := t.TempDir()
			pq := openParquet(t, direct, opts)
			pcommit(t, pq, directBatch(), load.State{}, "R1")
			pq.Close()

			merged := t.TempDir()
			pq = openParquet(t, merged, opts)
			pcommit(t, pq, otherBatch(), load.State{}, "R0")
			pq.Close()
			pq = openParquet(t, merged, opts) // its tables are not empty now: no row is new to them
			pcommit(t, pq, directBatch(), load.State{}, "R1")
			pq.Close()

			db := duck(t)
			for _, tt := range directTables {
				files := func(dir string) []string {
					var out []string
					for _, f := range dataFiles(t, dir, tt.table) {
						out = append(out, filepath.Join(dir, tt.table, f))
					}
					return out
				}
				goFiles, duckFiles := files(direct), files(merged)
				if len(goFiles) == 0 {
					t.Fatalf("%s: no files", tt.table)
				}
				// Which writer wrote what: else this test compares DuckDB with itself.
				for _, f := range goFiles {
					if by := createdBy(t, db, f); by != "convsync" {
						t.Errorf("%s: %s was written by %q, not from Go", tt.table, f, by)
					}
				}
				var fromDuckDB []string
				for _, f := range duckFiles {
					if strings.HasPrefix(createdBy(t, db, f), "DuckDB") && !slices.Contains(fromDuckDB, f) {
						fromDuckDB = append(fromDuckDB, f)
					}
				}
				if len(fromDuckDB) == 0 {
					t.Fatalf("%s: no file of the merged dataset was written by DuckDB", tt.table)
				}
				equal(t, tt.table+": Parquet schema", parquetSchema(t, db, goFiles[0]), parquetSchema(t, db, fromDuckDB[0]))

				read := func(files []string) string {
					q := fmt.Sprintf(`SELECT * EXCLUDE (synced_at) FROM read_parquet([%s], hive_partitioning = %v)
						WHERE %s NOT LIKE '%%-O' ORDER BY ALL`, quoteList(files), partition != "none", tt.key)
					var b strings.Builder
					for _, r := range queryRows(t, db, q) {
						fmt.Fprintln(&b, r...)
					}
					return b.String()
				}
				got, want := read(goFiles), read(duckFiles)
				if got == "" {
					t.Fatalf("%s: no rows", tt.table)
				}
				equal(t, tt.table+": rows and their partition values", got, want)
			}
		})
	}
}

// TestParquet_DirectOptions checks that the files written from Go take the
// dataset's compression and row-group size.
func TestParquet_DirectOptions(t *testing.T) {
	for _, tc := range []struct{ option, codec string }{
		{"zstd", "ZSTD"}, {"snappy", "SNAPPY"}, {"gzip", "GZIP"}, {"lz4", "LZ4_RAW"}, {"brotli", "BROTLI"}, {"uncompressed", "UNCOMPRESSED"},
	} {
		t.Run(tc.option, func(t *testing.T) {
			dir := t.TempDir()
			pq := openParquet(t, dir, load.ParquetOptions{Compression: tc.option, RowGroupSize: 2})
			pcommit(t, pq, directBatch(), load.State{}, "R1")
			pq.Close()
			db := duck(t)
			var files []string
			filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(path, ".parquet") && !strings.Contains(path, "_convsync") {
					files = append(files, path)
				}
				return err
			})
			var direct []string
			for _, f := range files {
				if createdBy(t, db, f) == "convsync" {
					direct = append(direct, f)
				}
			}
			if len(direct) == 0 {
				t.Fatal("no file written from Go")
			}
			r := queryRows(t, db, fmt.Sprintf(`SELECT list(DISTINCT compression), max(row_group_num_rows), count(DISTINCT row_group_id) > 1
				FROM parquet_metadata([%s])`, quoteList(direct)))[0]
			if got := fmt.Sprint(r[0]); got != "["+tc.codec+"]" {
				t.Errorf("codecs %s, want [%s]", got, tc.codec)
			}
			if r[1].(int64) > 2 || r[2] != true {
				t.Errorf("row groups of up to %v rows (several: %v), want at most 2 rows each", r[1], r[2])
			}
			// And readable: the answers of CVR-J, written in row groups of two.
			got := queryRows(t, db, fmt.Sprintf(`SELECT count(*) FROM read_parquet(%s) WHERE conversation_id = 'CVR-J'`,
				quoteLit(filepath.Join(dir, "conversation_answers", "**", "*.parquet"))))[0][0]
			if got != int64(2) {
				t.Errorf("%v answers of CVR-J read back, want 2", got)
			}
		})
	}
}

// createdBy is the writer a Parquet file names in its footer.
func createdBy(t *testing.T, db *sql.DB, file string) string {
	t.Helper()
	return fmt.Sprint(queryRows(t, db, "SELECT created_by FROM parquet_file_metadata("+quoteLit(file)+")")[0][0])
}

// parquetSchema is a file's columns: as a reader without logical types
// sees them (physical and converted type, repetition), then as DuckDB reads
// them (SQL type). The logical types are left out: DuckDB writes none for
// strings and integers, the Go writer the ones the converted types imply.
func parquetSchema(t *testing.T, db *sql.DB, file string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range queryRows(t, db, `SELECT name, type, repetition_type, converted_type
		FROM parquet_schema(`+quoteLit(file)+") WHERE num_children IS NULL") {
		fmt.Fprintln(&b, r...)
	}
	for _, r := range queryRows(t, db, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet("+quoteLit(file)+"))") {
		fmt.Fprintln(&b, r...)
	}
	return b.String()
}

func quoteList(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = quoteLit(f)
	}
	return strings.Join(q, ", ")
}
