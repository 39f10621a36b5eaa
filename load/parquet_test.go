package load_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/transform"
)

// The Parquet sink's own behaviour: layout, copy-on-write, the publish
// protocol and its recovery. The semantics it shares with the DuckDB sink
// are proven by TestParquet_Suite.

func pcommit(t *testing.T, pq *load.Parquet, b *transform.Batch, st load.State, run string) load.Counts {
	t.Helper()
	c, err := pq.Commit(ctx, b, st, runOf(run))
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return c
}

// threeMonths is a batch of conversations created in January, February and
// March 2025, with answers and bookings, and a contact.
func threeMonths(updated time.Time) *transform.Batch {
	jan, feb, mar := janCreated, febCreated, at(1, 0)
	b := batchOf(version("CVR-J", jan, updated, 2, 1), version("CVR-F", feb, updated, 3, 0), version("CVR-M", mar, updated, 1, 2))
	b.Contacts = []transform.Contact{fullContact("CTC-1")}
	return b
}

var (
	janCreated = time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	febCreated = time.Date(2025, 2, 1, 3, 0, 0, 0, zone)
)

// duck is a DuckDB of its own, as a BI tool reading the folder would use.
func duck(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestParquet_LayoutReadableByGlob(t *testing.T) {
	for _, tc := range []struct {
		partition string
		folders   []string // of conversations, relative to its table folder
		contacts  string   // the folder of the contact, created on 2025-03-01
	}{
		{"", []string{"creation_month=2025-01", "creation_month=2025-02", "creation_month=2025-03"}, "creation_month=2025-03"},
		{"day", []string{"creation_day=2025-01-15", "creation_day=2025-02-01", "creation_day=2025-03-01"}, "creation_day=2025-03-01"},
		{"none", []string{"."}, "."},
	} {
		t.Run("partition="+tc.partition, func(t *testing.T) {
			dir := t.TempDir()
			pq := openParquet(t, dir, load.ParquetOptions{Partition: tc.partition})
			defer pq.Close()
			pcommit(t, pq, threeMonths(at(2, 0)), load.State{}, "R1")

			var folders []string
			for _, f := range dataFiles(t, dir, "conversations") {
				folders = append(folders, filepath.Dir(f))
			}
			equal(t, "conversation folders", folders, tc.folders)
			equal(t, "contacts folders", dataFilesDirs(t, dir, "contacts"), []string{tc.contacts})

			db := duck(t)
			glob := func(table string) string {
				return fmt.Sprintf("read_parquet(%s, hive_partitioning = true)", quoteLit(filepath.Join(dir, table, "**", "*.parquet")))
			}
			types := map[string]string{}
			for _, r := range queryRows(t, db, "DESCRIBE SELECT * FROM "+glob("conversations")) {
				types[r[0].(string)] = r[1].(string)
			}
			for col, want := range map[string]string{
				"id": "VARCHAR", "creation_time": "TIMESTAMP WITH TIME ZONE", "last_updated_time": "TIMESTAMP WITH TIME ZONE",
				"last_interacted_time": "TIMESTAMP WITH TIME ZONE", "synced_at": "TIMESTAMP WITH TIME ZONE",
				"answer_count": "INTEGER", "raw": "VARCHAR", "run_id": "VARCHAR",
			} {
				if types[col] != want {
					t.Errorf("conversations.%s is %q, want %s", col, types[col], want)
				}
			}
			if tc.partition != "none" && types[strings.SplitN(tc.folders[0], "=", 2)[0]] == "" {
				t.Errorf("no Hive partition column among %v", types)
			}
			for table, want := range map[string]int64{"conversations": 3, "conversation_answers": 6, "conversation_bookings": 3, "contacts": 1} {
				equal(t, table+" rows", queryRows(t, db, "SELECT count(*) FROM "+glob(table))[0][0], want)
			}
			// The partition of a conversation is its creation time's in UTC.
			if tc.partition == "" {
				pcommit(t, pq, batchOf(version("CVR-Z", time.Date(2025, 4, 1, 1, 0, 0, 0, zone), at(9, 0), 0, 0)), load.State{}, "R2")
				equal(t, "partition of CVR-Z", queryRows(t, db, "SELECT creation_month FROM "+glob("conversations")+" WHERE id = 'CVR-Z'")[0][0], "2025-03")
			}
		})
	}
}

func TestParquet_CopyOnWrite(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	defer pq.Close()
	pcommit(t, pq, threeMonths(at(2, 0)), load.State{}, "R1")
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range allDataFiles(t, dir) {
		if err := os.Chtimes(filepath.Join(dir, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	before := fileTimes(t, dir)

	t.Run("UpdateRewritesOnlyItsPartition", func(t *testing.T) {
		// The March file is made unreadable: reading it would fail the commit.
		// (Not January's: refreshing the views of DB binds their columns from
		// the footer of each table's first file.)
		mar := filepath.Join(dir, "conversations", dataFiles(t, dir, "conversations")[2])
		good, err := os.ReadFile(mar)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(mar, []byte("not parquet"), 0o644)
		os.Chtimes(mar, old, old)
		c, as, bs := conv("CVR-F", febCreated, at(3, 0), 1, 1)
		got := pcommit(t, pq, &transform.Batch{Conversations: []transform.Conversation{c}, Answers: as, Bookings: bs}, load.State{}, "R2")
		os.WriteFile(mar, good, 0o644)
		os.Chtimes(mar, old, old)
		equal(t, "counts", got, load.Counts{Updated: 1, ChildRows: 2})

		after := fileTimes(t, dir)
		for f, mt := range before {
			if strings.Contains(f, "2025-02") || strings.HasPrefix(f, "_convsync_runs") {
				if _, ok := after[f]; ok {
					t.Errorf("%s: still there after its partition was rewritten", f)
				}
				continue
			}
			if !after[f].Equal(mt) {
				t.Errorf("%s: untouched but now has mtime %v (was %v) or is gone", f, after[f], mt)
			}
		}
		for _, table := range []string{"conversations", "conversation_answers", "conversation_bookings"} {
			var feb []string
			for _, f := range dataFiles(t, dir, table) {
				if strings.Contains(f, "2025-02") {
					feb = append(feb, f)
				}
			}
			equal(t, table+" February files", len(feb), 1)
		}
		equal(t, "rows", queryRows(t, pq.DB(), `SELECT id, answer_count, (SELECT count(*) FROM conversation_answers a
			WHERE a.conversation_id = c.id)::INTEGER FROM conversations c ORDER BY id`),
			[][]any{{"CVR-F", int32(1), int32(1)}, {"CVR-J", int32(2), int32(2)}, {"CVR-M", int32(1), int32(1)}})
	})

	t.Run("InsertsAppendAFileUntilTheyAreMerged", func(t *testing.T) {
		march := func() []string { return marchFiles(t, dir) }
		first := march()
		for i := 2; i <= 8; i++ {
			pcommit(t, pq, batchOf(version(fmt.Sprintf("CVR-M%d", i), at(i, 0), at(9, 0), 1, 0)), load.State{}, "R3")
			files := march()
			equal(t, fmt.Sprintf("March files after %d inserts", i), len(files), i)
			if !slices.Contains(files, first[0]) {
				t.Fatalf("insert %d rewrote the partition's first file", i)
			}
		}
		pcommit(t, pq, batchOf(version("CVR-M9", at(9, 0), at(9, 0), 1, 0)), load.State{}, "R3")
		equal(t, "March files once merged", len(march()), 1)
		equal(t, "March rows", queryRows(t, pq.DB(), `SELECT count(*)::INTEGER FROM conversations WHERE id LIKE 'CVR-M%'`), [][]any{{int32(9)}})
		equal(t, "March answers", queryRows(t, pq.DB(), `SELECT count(*)::INTEGER FROM conversation_answers WHERE conversation_id LIKE 'CVR-M%'`), [][]any{{int32(9)}})
	})

	t.Run("UnchangedBatchWritesNoData", func(t *testing.T) {
		files := fileTimes(t, dir)
		got := pcommit(t, pq, batchOf(version("CVR-J", janCreated, at(1, 0), 5, 5)), load.State{}, "R4")
		equal(t, "counts", got, load.Counts{Unchanged: 1})
		for f, mt := range fileTimes(t, dir) {
			if !strings.HasPrefix(f, "_convsync_runs") && !files[f].Equal(mt) {
				t.Errorf("%s written by a commit that changed nothing", f)
			}
		}
	})
}

// TestParquet_MergeKeepsLargeFiles: a partition that a run of inserts
// takes past 8 files has its small files merged, and its large file kept
// as it is (same name, same modification time).
func TestParquet_MergeKeepsLargeFiles(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	defer pq.Close()
	march := func() []string { return marchFiles(t, dir) }
	var big []func() (transform.Conversation, []transform.Answer, []transform.Booking)
	for i := range 20 {
		big = append(big, version(fmt.Sprintf("CVR-B%02d", i), at(1, i), at(9, 0), 1, 0))
	}
	pcommit(t, pq, batchOf(big...), load.State{}, "R1")
	large := march()
	if len(large) != 1 {
		t.Fatalf("%d March files after the first commit", len(large))
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(dir, "conversations", large[0]), old, old)
	for i := 1; i <= 8; i++ {
		pcommit(t, pq, batchOf(version(fmt.Sprintf("CVR-S%d", i), at(2, i), at(9, 0), 1, 0)), load.State{}, "R2")
	}
	files := march()
	equal(t, "March files after 8 more inserts", len(files), 2)
	if !slices.Contains(files, large[0]) {
		t.Fatalf("the large file %s was merged: March has %v", large[0], files)
	}
	if fi, err := os.Stat(filepath.Join(dir, "conversations", large[0])); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("the large file was rewritten (%v, %v)", fi, err)
	}
	equal(t, "March conversations and answers", queryRows(t, pq.DB(), `SELECT count(*)::INTEGER,
		(SELECT count(*)::INTEGER FROM conversation_answers) FROM conversations`), [][]any{{int32(28), int32(28)}})
}

// marchFiles lists the conversation files of March 2025 in dataset dir.
func marchFiles(t *testing.T, dir string) []string {
	var out []string
	for _, f := range dataFiles(t, dir, "conversations") {
		if strings.Contains(f, "2025-03") {
			out = append(out, f)
		}
	}
	return out
}

// crashImage is what a crash at step of a commit leaves: the dataset
// folder copied at that moment.
func TestParquet_CrashDuringPublish(t *testing.T) {
	next := func() *transform.Batch {
		b := threeMonths(at(5, 0))
		b.Answers = slices.DeleteFunc(b.Answers, func(a transform.Answer) bool { return a.ConversationID == "CVR-J" })
		more := batchOf(version("CVR-N", at(4, 0), at(5, 0), 2, 0))
		b.Conversations = append(b.Conversations, more.Conversations...)
		b.Answers = append(b.Answers, more.Answers...)
		b.Contacts = []transform.Contact{{ID: "CTC-1", Deleted: true}}
		return b
	}
	stBefore, stAfter := load.State{Watermark: at(2, 0).UTC()}, load.State{Watermark: at(5, 0).UTC()}
	for _, tc := range []struct {
		step                 string
		manifestNew, globNew bool // which version each reader sees in the crash image
	}{
		{"data", false, false},
		{"manifest-temp", false, false},
		{"manifest", true, false},
		{"moved", true, true},
	} {
		t.Run(tc.step, func(t *testing.T) {
			dir, image := t.TempDir(), filepath.Join(t.TempDir(), "image")
			pq := openParquet(t, dir, load.ParquetOptions{})
			pcommit(t, pq, threeMonths(at(2, 0)), stBefore, "R1")
			before := viaGlob(t, dir)
			equal(t, "before: manifest and glob", viaManifest(t, dir), before)
			pq.SetHook(func(step string) error {
				if step == tc.step {
					copyDir(t, dir, image)
				}
				return nil
			})
			pcommit(t, pq, next(), stAfter, "R2")
			after := viaGlob(t, dir)
			equal(t, "after: manifest and glob", viaManifest(t, dir), after)
			if after == before {
				t.Fatal("the commit changed nothing")
			}
			pq.Close()

			pick := func(isNew bool) (string, string) {
				if isNew {
					return after, "after"
				}
				return before, "before"
			}
			want, name := pick(tc.manifestNew)
			equal(t, "crash image through the manifest is "+name, viaManifest(t, image), want)
			want, name = pick(tc.globNew)
			equal(t, "crash image through a glob is "+name, viaGlob(t, image), want)

			// Reopening recovers: the folder equals its manifest, nothing staged is left.
			pq2 := openParquet(t, image, load.ParquetOptions{})
			defer pq2.Close()
			want, _ = pick(tc.manifestNew)
			equal(t, "recovered through the glob", viaGlob(t, image), want)
			equal(t, "recovered through the manifest", viaManifest(t, image), want)
			equal(t, "recovered through DB", viaDB(t, pq2.DB()), want)
			for _, f := range allFiles(t, image) {
				if strings.HasSuffix(f, ".tmp") {
					t.Errorf("recovery left %s", f)
				}
			}
			st, _ := pq2.State(ctx)
			wantSt := stBefore
			if tc.manifestNew {
				wantSt = stAfter
			}
			equal(t, "recovered state", st, wantSt)

			// The next run re-commits the batch and converges.
			pcommit(t, pq2, next(), stAfter, "R2")
			equal(t, "converged through the glob", viaGlob(t, image), after)
			equal(t, "converged through the manifest", viaManifest(t, image), after)
		})
	}
}

func TestParquet_SecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{Owner: "convsync sync"})
	_, err := load.OpenParquet(ctx, dir, load.ParquetOptions{})
	var le *load.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "locked by convsync sync") {
		t.Fatalf("second open: %v, want a LockedError naming convsync sync", err)
	}
	pq.Close()
	pq = openParquet(t, dir, load.ParquetOptions{})
	pq.Close()
}

func TestParquet_PartitioningIsTheDatasets(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{Partition: "day"})
	pcommit(t, pq, threeMonths(at(2, 0)), load.State{}, "R1")
	pq.Close()
	if _, err := load.OpenParquet(ctx, dir, load.ParquetOptions{Partition: "month"}); err == nil || !strings.Contains(err.Error(), "partitioned by day") {
		t.Fatalf("open with another partitioning: %v, want an error", err)
	}
	pq = openParquet(t, dir, load.ParquetOptions{}) // the default adopts the dataset's
	defer pq.Close()
	pcommit(t, pq, batchOf(version("CVR-X", at(7, 0), at(8, 0), 0, 0)), load.State{}, "R2")
	if !slices.Contains(dataFilesDirs(t, dir, "conversations"), "creation_day=2025-03-07") {
		t.Errorf("folders %v: want creation_day=2025-03-07", dataFilesDirs(t, dir, "conversations"))
	}
	for _, bad := range []load.ParquetOptions{{Partition: "week"}, {Compression: "zip"}, {RowGroupSize: -1}} {
		if _, err := load.OpenParquet(ctx, t.TempDir(), bad); err == nil {
			t.Errorf("OpenParquet(%+v): no error", bad)
		}
	}
}

func TestParquet_OpenRemovesOnlyItsOwnStrayFiles(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	pcommit(t, pq, threeMonths(at(2, 0)), load.State{}, "R1")
	pq.Close()
	listed := allFiles(t, dir)
	stray := []string{"conversations/creation_month=2025-01/part-99999999-001-abcdef.parquet",
		"conversations/creation_month=2025-01/.part-99999999-002-abcdef.parquet.tmp",
		"conversations/creation_month=2030-01/part-99999999-003-abcdef.parquet", "_convsync/manifest.json.tmp"}
	foreign := []string{"conversations/notes.txt", "contacts/export.parquet"}
	for _, f := range append(slices.Clone(stray), foreign...) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	pq = openParquet(t, dir, load.ParquetOptions{})
	defer pq.Close()
	equal(t, "files after open", allFiles(t, dir), sorted(append(listed, foreign...)))
	if _, err := os.Stat(filepath.Join(dir, "conversations/creation_month=2030-01")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty partition folder left: %v", err)
	}
}

// viaManifest is the conversations, answers and contacts the manifest lists,
// read by a reader of its own, and its state.
func viaManifest(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "_convsync", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		State  json.RawMessage
		Tables map[string][]struct{ Path string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return readTables(t, func(table string) []string {
		var out []string
		for _, f := range m.Tables[table] {
			p := filepath.Join(dir, f.Path)
			if _, err := os.Stat(p); err != nil { // a staged name already renamed
				base := filepath.Base(p)
				p = filepath.Join(filepath.Dir(p), strings.TrimSuffix(strings.TrimPrefix(base, "."), ".tmp"))
			}
			out = append(out, p)
		}
		return out
	})
}

// viaGlob is what a reader of DIR/<table>/**/*.parquet sees.
func viaGlob(t *testing.T, dir string) string {
	t.Helper()
	return readTables(t, func(table string) []string {
		var out []string
		for _, f := range allFiles(t, filepath.Join(dir, table)) {
			if strings.HasSuffix(f, ".parquet") {
				out = append(out, filepath.Join(dir, table, f))
			}
		}
		return out
	})
}

var compared = []struct{ table, cols string }{
	{"conversations", "id, creation_time, last_updated_time, answer_count, run_id"},
	{"conversation_answers", "conversation_id, position, value, run_id"},
	{"conversation_bookings", "conversation_id, position, booking_id, run_id"},
	{"contacts", "id, deleted, first_name, run_id"},
}

func readTables(t *testing.T, files func(table string) []string) string {
	t.Helper()
	db := duck(t)
	var b strings.Builder
	for _, c := range compared {
		fmt.Fprintf(&b, "%s:\n", c.table)
		fs := files(c.table)
		if len(fs) == 0 {
			continue
		}
		for i := range fs {
			fs[i] = quoteLit(fs[i])
		}
		for _, r := range queryRows(t, db, fmt.Sprintf("SELECT %s FROM read_parquet([%s]) ORDER BY ALL", c.cols, strings.Join(fs, ", "))) {
			fmt.Fprintln(&b, r...)
		}
	}
	return b.String()
}

func viaDB(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, c := range compared {
		fmt.Fprintf(&b, "%s:\n", c.table)
		for _, r := range queryRows(t, db, fmt.Sprintf("SELECT %s FROM %s ORDER BY ALL", c.cols, c.table)) {
			fmt.Fprintln(&b, r...)
		}
	}
	return b.String()
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// allFiles lists the files under dir, relative, sorted.
func allFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return sorted(out)
}

func sorted(s []string) []string { slices.Sort(s); return s }

// dataFiles lists table's published files, relative to its folder.
func dataFiles(t *testing.T, dir, table string) []string {
	t.Helper()
	var out []string
	for _, f := range allFiles(t, filepath.Join(dir, table)) {
		if strings.HasSuffix(f, ".parquet") {
			out = append(out, f)
		}
	}
	return out
}

func dataFilesDirs(t *testing.T, dir, table string) []string {
	var out []string
	for _, f := range dataFiles(t, dir, table) {
		out = append(out, filepath.Dir(f))
	}
	return out
}

func allDataFiles(t *testing.T, dir string) []string {
	var out []string
	for _, f := range allFiles(t, dir) {
		if strings.HasSuffix(f, ".parquet") {
			out = append(out, f)
		}
	}
	return out
}

func fileTimes(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for _, f := range allDataFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = fi.ModTime()
	}
	return out
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	for _, f := range allFiles(t, from) {
		src, err := os.Open(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(to, f)), 0o755)
		dst, err := os.Create(filepath.Join(to, f))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(dst, src)
		src.Close()
		dst.Close()
	}
}

// Contacts are partitioned by their own creation time, so a batch rewrites
// only the contact partitions holding the contacts it touches.
func TestParquet_ContactsCopyOnWrite(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	defer func() { pq.Close() }()
	contact := func(id string, created time.Time, name string) transform.Contact {
		c := fullContact(id)
		c.CreationTime, c.FirstName = &created, &name
		return c
	}
	b := batchOf(version("CVR-1", janCreated, at(2, 0), 0, 0))
	b.Contacts = []transform.Contact{contact("CTC-J", janCreated, "Jan"), contact("CTC-F", febCreated, "Feb"),
		{ID: "CTC-X", Deleted: true}}
	pcommit(t, pq, b, load.State{}, "R1")
	equal(t, "contact folders", dataFilesDirs(t, dir, "contacts"),
		[]string{"creation_month=2025-01", "creation_month=2025-02", "creation_month=__HIVE_DEFAULT_PARTITION__"})
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range allDataFiles(t, dir) {
		os.Chtimes(filepath.Join(dir, f), old, old)
	}
	before := fileTimes(t, dir)

	// CTC-F is updated; CTC-X, first seen redacted, now comes whole and
	// moves out of the default partition.
	b = batchOf(version("CVR-1", janCreated, at(3, 0), 0, 0))
	b.Contacts = []transform.Contact{contact("CTC-F", febCreated, "Feb2"), contact("CTC-X", janCreated.AddDate(0, 2, 0), "Mar")}
	pcommit(t, pq, b, load.State{}, "R2")
	after := fileTimes(t, dir)
	for f, mt := range before {
		rewritten := strings.Contains(f, "2025-02") || strings.Contains(f, hiveNull) ||
			strings.HasPrefix(f, "conversations") || strings.HasPrefix(f, "_convsync_runs")
		if _, ok := after[f]; ok == rewritten {
			t.Errorf("%s: still there %v, want %v", f, ok, !rewritten)
		}
		if !rewritten && !after[f].Equal(mt) {
			t.Errorf("%s: untouched but its mtime changed", f)
		}
	}
	equal(t, "contact folders", dataFilesDirs(t, dir, "contacts"),
		[]string{"creation_month=2025-01", "creation_month=2025-02", "creation_month=2025-03"})
	glob := fmt.Sprintf("read_parquet(%s, hive_partitioning = true)", quoteLit(filepath.Join(dir, "contacts", "**", "*.parquet")))
	equal(t, "contacts by glob", queryRows(t, duck(t), "SELECT id, first_name, creation_month FROM "+glob+" ORDER BY id"),
		[][]any{{"CTC-F", "Feb2", "2025-02"}, {"CTC-J", "Jan", "2025-01"}, {"CTC-X", "Mar", "2025-03"}})

	// A redacted row keeps the stored attributes, and so its partition; a
	// contact without a creation time is read as NULL.
	b = batchOf(version("CVR-1", janCreated, at(4, 0), 0, 0))
	b.Contacts = []transform.Contact{{ID: "CTC-J", Deleted: true}, {ID: "CTC-Y", Deleted: true}}
	pcommit(t, pq, b, load.State{}, "R3")
	equal(t, "contacts by glob", queryRows(t, duck(t), "SELECT id, deleted, first_name, creation_month FROM "+glob+" ORDER BY id"),
		[][]any{{"CTC-F", false, "Feb2", "2025-02"}, {"CTC-J", true, "Jan", "2025-01"}, {"CTC-X", false, "Mar", "2025-03"}, {"CTC-Y", true, nil, nil}})

	// Reopened, the sink has no cache of what it wrote: rows equal to the
	// stored ones (CTC-F, and CTC-J, deleted again) leave their partitions
	// alone; only CTC-X's is rewritten and CTC-Z's written. Then a batch
	// whose only changed row is new (CTC-Y is deleted again) writes that
	// row's partition alone.
	if err := pq.Close(); err != nil {
		t.Fatal(err)
	}
	pq = openParquet(t, dir, load.ParquetOptions{})
	for _, f := range allDataFiles(t, dir) {
		os.Chtimes(filepath.Join(dir, f), old, old)
	}
	unchanged := func(run string, b *transform.Batch, rewritten ...string) {
		t.Helper()
		before := fileTimes(t, dir)
		pcommit(t, pq, b, load.State{}, run)
		after := fileTimes(t, dir)
		for f, mt := range before {
			if !strings.HasPrefix(f, "contacts") || slices.ContainsFunc(rewritten, func(p string) bool { return strings.Contains(f, p) }) {
				continue
			}
			if !after[f].Equal(mt) {
				t.Errorf("%s: %s holds no changed contact but was rewritten", run, f)
			}
		}
	}
	b = batchOf(version("CVR-1", janCreated, at(5, 0), 0, 0))
	b.Contacts = []transform.Contact{{ID: "CTC-J", Deleted: true}, contact("CTC-F", febCreated, "Feb2"),
		contact("CTC-X", janCreated.AddDate(0, 2, 0), "Mar2"), contact("CTC-Z", janCreated.AddDate(0, 3, 0), "Apr")}
	unchanged("R4", b, "2025-03")
	b = batchOf(version("CVR-1", janCreated, at(6, 0), 0, 0))
	b.Contacts = []transform.Contact{{ID: "CTC-Y", Deleted: true}, contact("CTC-W", janCreated.AddDate(0, 4, 0), "May")}
	unchanged("R5", b)
	equal(t, "contacts by glob", queryRows(t, duck(t), "SELECT id, deleted, first_name, run_id FROM "+glob+" ORDER BY id"),
		[][]any{{"CTC-F", false, "Feb2", "R2"}, {"CTC-J", true, "Jan", "R3"}, {"CTC-W", false, "May", "R5"},
			{"CTC-X", false, "Mar2", "R4"}, {"CTC-Y", true, nil, "R3"}, {"CTC-Z", false, "Apr", "R4"}})
}

const hiveNull = "__HIVE_DEFAULT_PARTITION__"

// A commit that fails after its partitioned COPYs leaves no file behind,
// without waiting for the next open's sweep.
func TestParquet_FailedCommitRemovesItsFiles(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	defer pq.Close()
	pcommit(t, pq, threeMonths(at(2, 0)), load.State{}, "R1")
	before := allFiles(t, dir)
	pq.SetHook(func(step string) error {
		if step == "dimensions" {
			return errors.New("crash")
		}
		return nil
	})
	if _, err := pq.Commit(ctx, threeMonths(at(3, 0)), load.State{}, runOf("R2")); err == nil {
		t.Fatal("Commit: no error")
	}
	equal(t, "files after the failed commit", allFiles(t, dir), before)
}

// A writer's DuckDB has the sink's memory_limit and spills into the
// dataset's control folder (a partition rewrite took 1 GB without); a reader
// keeps DuckDB's defaults, for analysts' queries, and writes nothing.
func TestOpenParquet_WriterMemoryBounded(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	commit(t, sinkUnderTest{sink: pq}, base(), load.State{}, runOf("R1"))
	got := queryRows(t, pq.DB(), `SELECT current_setting('memory_limit'), current_setting('temp_directory'), current_setting('partitioned_write_flush_threshold'), current_setting('enable_external_file_cache')`)
	if !strings.HasPrefix(got[0][0].(string), "244") || got[0][1] != filepath.Join(dir, "_convsync", "tmp") {
		t.Errorf("writer memory_limit, temp_directory = %v; want 244.1 MiB (256MB), %s", got[0][:2], filepath.Join(dir, "_convsync", "tmp"))
	}
	// A partitioned COPY writes its rows out every 4,096 rows a thread
	// (sql/parquet_session.sql), not after holding half a million.
	if got[0][2] != uint64(4096) {
		t.Errorf("writer partitioned_write_flush_threshold = %v (%T); want 4096", got[0][2], got[0][2])
	}
	// It reads each stored file once: it keeps no cache of them.
	if got[0][3] != false {
		t.Errorf("writer enable_external_file_cache = %v; want false", got[0][3])
	}
	if err := pq.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := load.OpenParquetReader(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got = queryRows(t, r.DB(), `SELECT current_setting('memory_limit'), current_setting('enable_external_file_cache')`)
	if strings.HasPrefix(got[0][0].(string), "244") || got[0][1] != true {
		t.Errorf("reader memory_limit, enable_external_file_cache = %v; want DuckDB's defaults", got[0])
	}
}

// Two months of 45,000 conversations with 2 kB of raw JSON each (90 MB a
// month, loaded in batches of 30 MB) are rewritten, when a delta updates
// one conversation of each, within the writer's default 256MB memory limit:
// files are written in row groups of at most 16MB, so reading partitions
// back never decompresses a whole partition's column at once.
func TestParquet_LargePartitionRewrittenWithinMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	defer pq.Close()
	filler := strings.Repeat("x", 2000)
	batch := func(lo, hi int, updated time.Time) *transform.Batch {
		b := &transform.Batch{}
		for i := lo; i < hi; i++ {
			month := janCreated
			if i%2 == 1 {
				month = febCreated
			}
			c, _, _ := conv(fmt.Sprintf("CVR-%05d", i), month.Add(time.Duration(i)*time.Second), updated, 0, 0)
			c.Raw = fmt.Sprintf(`{"id":"CVR-%05d","filler":"%s"}`, i, filler)
			b.Conversations = append(b.Conversations, c)
		}
		return b
	}
	const per = 15000
	for k := range 6 {
		pcommit(t, pq, batch(k*per, (k+1)*per, at(1, 0)), load.State{}, fmt.Sprintf("R%d", k))
	}
	// Each update rewrites the partition: the first reads the six files of
	// the batches, the second the file the first wrote.
	for k, run := range []string{"R6", "R7"} {
		pcommit(t, pq, batch(2*k, 2*k+2, at(2+k, 0)), load.State{}, run)
		got := queryRows(t, duck(t), fmt.Sprintf(`SELECT max(total_uncompressed_size) FROM parquet_metadata(%s) WHERE path_in_schema = 'raw'`,
			quoteLit(filepath.Join(dir, "conversations", "**", "*.parquet"))))
		if got[0][0].(int64) > 24<<20 {
			t.Errorf("after %s: a raw column chunk of %d bytes; want row groups of at most 16MB", run, got[0][0])
		}
	}
	equal(t, "conversations", queryRows(t, pq.DB(), `SELECT count(*), count(*) FILTER (WHERE run_id IN ('R6', 'R7')) FROM conversations`), [][]any{{int64(6 * per), int64(4)}})
}

// A commit that writes hundreds of partitions (here conversations and
// contacts created on 400 different days, two a day, with day partitions)
// stays within the writer's default memory limit: DuckDB buffers rows for
// every partition a COPY writes, so the sink writes at most
// maxPartitionsPerCopy partitions a COPY.
func TestParquet_ManyPartitionsWithinMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{Partition: "day"})
	defer pq.Close()
	b := &transform.Batch{}
	for i := range 800 {
		created := janCreated.AddDate(0, 0, i/2).Add(time.Duration(i%2) * time.Hour)
		c, as, _ := conv(fmt.Sprintf("CVR-%03d", i), created, at(1, 0), 2, 0)
		c.ContactID = p(fmt.Sprintf("CTC-%03d", i))
		ct := fullContact(*c.ContactID)
		ct.CreationTime = &created
		b.Conversations, b.Answers, b.Contacts = append(b.Conversations, c), append(b.Answers, as...), append(b.Contacts, ct)
	}
	pcommit(t, pq, b, load.State{}, "R1")
	equal(t, "rows and partitions", queryRows(t, pq.DB(), `SELECT
		(SELECT count(*) FROM contacts), (SELECT count(*) FROM conversations), (SELECT count(*) FROM conversation_answers)`),
		[][]any{{int64(800), int64(800), int64(1600)}})
	if got := len(dataFilesDirs(t, dir, "contacts")); got != 400 {
		t.Errorf("contacts in %d partition folders, want 400", got)
	}

	// An update of one conversation in each of 40 days rewrites 40
	// partitions, in two COPYs: the other conversation of each is kept.
	b = &transform.Batch{}
	for i := 0; i < 800; i += 20 {
		c, as, _ := conv(fmt.Sprintf("CVR-%03d", i), janCreated.AddDate(0, 0, i/2), at(2, 0), 3, 0)
		b.Conversations, b.Answers = append(b.Conversations, c), append(b.Answers, as...)
	}
	pcommit(t, pq, b, load.State{}, "R2")
	equal(t, "rows after the update", queryRows(t, pq.DB(), `SELECT
		(SELECT count(*) FROM conversations), (SELECT count(*) FILTER (WHERE run_id = 'R2') FROM conversations),
		(SELECT count(*) FROM conversation_answers), (SELECT count(DISTINCT conversation_id) FROM conversation_answers WHERE position = 3)`),
		[][]any{{int64(800), int64(40), int64(1640), int64(40)}})
}

// TestParquet_OpenRefusesDataWithoutManifest: a dataset whose manifest is
// gone (deleted, or lost in a partial restore) but whose data files are
// there is refused with an error naming both, and its files are kept: the
// recovery of a crashed publish would have removed every one of them as
// unlisted. Staged files alone are a first publish that crashed before its
// manifest: they are removed as before.
func TestParquet_OpenRefusesDataWithoutManifest(t *testing.T) {
	dir := t.TempDir()
	pq := openParquet(t, dir, load.ParquetOptions{})
	pcommit(t, pq, threeMonths(at(2, 0)), load.State{}, "R1")
	pq.Close()
	files := allDataFiles(t, dir)
	if err := os.Remove(filepath.Join(dir, "_convsync", "manifest.json")); err != nil {
		t.Fatal(err)
	}
	_, err := load.OpenParquet(ctx, dir, load.ParquetOptions{})
	if err == nil || !strings.Contains(err.Error(), "manifest.json") || !strings.Contains(err.Error(), ".parquet") {
		t.Fatalf("open without manifest: %v, want an error naming the manifest and a data file", err)
	}
	equal(t, "data files after the refused open", allDataFiles(t, dir), files)
	// A reader says the same, not to run a sync, which would be refused.
	if _, err := load.OpenParquetReader(ctx, dir); err == nil || !strings.Contains(err.Error(), "restore the manifest") {
		t.Errorf("reader without manifest: %v, want the same refusal", err)
	}

	fresh := t.TempDir()
	staged := filepath.Join(fresh, "conversations", "creation_month=2025-01", ".part-00000001-001-abcdef.parquet.tmp")
	os.MkdirAll(filepath.Dir(staged), 0o755)
	os.WriteFile(staged, []byte("x"), 0o644)
	pq = openParquet(t, fresh, load.ParquetOptions{})
	pq.Close()
	if _, err := os.Stat(staged); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staged file of a publish without manifest left: %v", err)
	}
}
