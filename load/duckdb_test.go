package load_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
	sqlfiles "github.com/convsync/convsync/sql"
	"github.com/convsync/convsync/transform"
)

func TestDuckDB_Suite(t *testing.T) {
	testSink(t, func(t *testing.T, dir string) sinkUnderTest {
		d := openDuckDB(t, filepath.Join(dir, "warehouse.duckdb"), load.DuckDBOptions{})
		return sinkUnderTest{
			sink:   d,
			query:  func(t *testing.T, q string) [][]any { return queryRows(t, d.DB(), q) },
			failAt: d.SetFailAt,
			merges: d.Merges,
		}
	})
}

func openDuckDB(t *testing.T, path string, opts load.DuckDBOptions) *load.DuckDB {
	t.Helper()
	d, err := load.OpenDuckDB(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("OpenDuckDB: %v", err)
	}
	return d
}

// queryRows runs q and returns every row, each value as the driver scans it.
func queryRows(t testing.TB, db *sql.DB, q string) [][]any {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rs.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatalf("scan %s: %v", q, err)
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	return out
}

func TestOpenDuckDB_CreatesParentDirsAndAppliesOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "warehouse.duckdb")
	d := openDuckDB(t, path, load.DuckDBOptions{Threads: 1, MemoryLimit: "256MB"})
	defer d.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("warehouse file: %v", err)
	}
	got := queryRows(t, d.DB(), `SELECT current_setting('threads')::VARCHAR, current_setting('memory_limit')`)
	if got[0][0] != "1" || !strings.HasPrefix(got[0][1].(string), "244") { // 256 MB = 244.1 MiB
		t.Errorf("settings threads, memory_limit = %v; want 1, 244.1 MiB", got[0])
	}
}

func TestOpenDuckDB_ErrorNamesThePath(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path string }{
		{"parent is a file", filepath.Join(notDir, "w.duckdb")},
		{"not a database", notDir},
		{"query characters", filepath.Join(dir, "w.duckdb?threads=1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := load.OpenDuckDB(context.Background(), tc.path, load.DuckDBOptions{})
			if err == nil {
				d.Close()
				t.Fatal("OpenDuckDB succeeded")
			}
			if !strings.HasPrefix(err.Error(), "open warehouse "+tc.path+": ") {
				t.Errorf("error %q does not start with %q", err, "open warehouse "+tc.path+": ")
			}
		})
	}
}

// TestOpenDuckDB_RefusesAnotherSchema: a warehouse file whose table lacks
// a column the loader writes is refused at open, naming the table, before
// any commit.
func TestOpenDuckDB_RefusesAnotherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE contacts (id VARCHAR, deleted BOOLEAN, synced_at TIMESTAMPTZ, run_id VARCHAR)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	d, err := load.OpenDuckDB(context.Background(), path, load.DuckDBOptions{})
	if err == nil {
		d.Close()
		t.Fatal("OpenDuckDB opened a warehouse whose contacts lack columns")
	}
	if !strings.Contains(err.Error(), "open warehouse "+path) || !strings.Contains(err.Error(), "contacts") {
		t.Errorf("error %q does not name the warehouse and the table", err)
	}
}

// Keys are enforced by the loader, not by indexes (issue 5): no primary
// key, unique constraint or index may exist on the warehouse tables.
func TestOpenDuckDB_NoKeyIndexes(t *testing.T) {
	d := openDuckDB(t, filepath.Join(t.TempDir(), "w.duckdb"), load.DuckDBOptions{})
	defer d.Close()
	got := queryRows(t, d.DB(), `SELECT
		(SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')),
		(SELECT count(*) FROM duckdb_indexes()),
		(SELECT count(*) FROM duckdb_tables() WHERE database_name = 'w')`)
	if got[0][0] != int64(0) || got[0][1] != int64(0) || got[0][2] != int64(11) {
		t.Errorf("constraints, indexes, tables = %v; want 0, 0, 11", got[0])
	}
}

// A warehouse created when raw, custom_fields and teams were typed JSON
// (they are JSON text in VARCHAR now) keeps loading: the JSON text is staged
// as VARCHAR either way and cast on insert, so it is stored as sent, and
// compared with the typed columns to find the unchanged dimension rows.
func TestDuckDB_LoadsIntoTypedJSONColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.duckdb")
	old := sqlfiles.Schema
	for _, col := range []string{"raw                  VARCHAR NOT NULL", "custom_fields        VARCHAR", "teams      VARCHAR"} {
		if !strings.Contains(old, col) {
			t.Fatalf("schema has no %q", col)
		}
		old = strings.Replace(old, col, strings.Replace(col, "VARCHAR", "JSON", 1), 1)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(old); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	d := openDuckDB(t, path, load.DuckDBOptions{})
	b := batchOf(version("CVR-A", at(1, 1), at(1, 2), 1, 0))
	b.Conversations[0].Raw = `{ "id": "CVR-A",  "x": [1, 2.50] }`
	b.Contacts = []transform.Contact{{ID: "CTC-1", CustomFields: p(`[ {"a": 1} ]`)}}
	b.Users = []transform.User{{ID: "USR-1", Teams: p(`["TM-1"]`)}}
	if _, err := d.Commit(context.Background(), b, load.State{}, runOf("R1")); err != nil {
		t.Fatal(err)
	}
	equal(t, "JSON columns", queryRows(t, d.DB(), `SELECT typeof(c.raw), c.raw::VARCHAR, k.custom_fields::VARCHAR, u.teams::VARCHAR
		FROM conversations c, contacts k, users u`), [][]any{{"JSON", `{ "id": "CVR-A",  "x": [1, 2.50] }`, `[ {"a": 1} ]`, `["TM-1"]`}})

	// Reopened (no cache of committed rows), the staged rows are compared
	// with the typed ones: the unchanged contact is not rewritten.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openDuckDB(t, path, load.DuckDBOptions{})
	defer d.Close()
	b = batchOf(version("CVR-B", at(1, 1), at(1, 2), 1, 0))
	b.Contacts = []transform.Contact{{ID: "CTC-1", CustomFields: p(`[ {"a": 1} ]`)}}
	b.Users = []transform.User{{ID: "USR-1", Teams: p(`["TM-2"]`)}}
	if _, err := d.Commit(context.Background(), b, load.State{}, runOf("R2")); err != nil {
		t.Fatal(err)
	}
	equal(t, "lineage", queryRows(t, d.DB(), `SELECT k.run_id, k.custom_fields::VARCHAR, u.run_id, u.teams::VARCHAR FROM contacts k, users u`),
		[][]any{{"R1", `[ {"a": 1} ]`, "R2", `["TM-2"]`}})
}

const crashHelperEnv = "CONVSYNC_DUCKDB_CRASH_HELPER"

// TestDuckDBCrashHelperProcess is the process TestDuckDB_CommitSurvivesCrash
// runs: it commits batches A, B and C, then exits without Close, as a crash
// would (no checkpoint).
func TestDuckDBCrashHelperProcess(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("helper process only")
	}
	d, err := load.OpenDuckDB(context.Background(), path, load.DuckDBOptions{})
	if err != nil {
		os.Exit(1)
	}
	for i, id := range []string{"CVR-A", "CVR-B", "CVR-C"} {
		batch := batchOf(version(id, at(1, 0), at(1, 1), 1, 0))
		if _, err := d.Commit(context.Background(), batch, load.State{Watermark: at(i+1, 0)}, runOf("R1")); err != nil {
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// A returned Commit is durable: after a crash (here an exit without Close,
// so nothing is checkpointed) the warehouse has every committed batch and
// the cursor of the last one, replayed from DuckDB's write-ahead log.
func TestDuckDB_CommitSurvivesCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb")
	cmd := osexec.Command(os.Args[0], "-test.run=^TestDuckDBCrashHelperProcess$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if _, err := os.Stat(path + ".wal"); err != nil {
		t.Fatalf("no write-ahead log after the crash: %v", err)
	}
	d := openDuckDB(t, path, load.DuckDBOptions{})
	defer d.Close()
	equal(t, "conversations after the crash", queryRows(t, d.DB(), "SELECT id FROM conversations ORDER BY id"),
		[][]any{{"CVR-A"}, {"CVR-B"}, {"CVR-C"}})
	st, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Watermark.Equal(at(3, 0)) {
		t.Errorf("cursor after the crash %s, want the last commit's %s", st.Watermark, at(3, 0))
	}
}

// A new warehouse is written in load.StorageVersion's format, so the raw
// JSON is stored zstd-compressed (a fifth of the default FSST's size).
func TestDuckDB_RawJSONIsZstd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb")
	commitOneAndClose(t, path)
	d := openDuckDB(t, path, load.DuckDBOptions{})
	defer d.Close()
	equal(t, "compression of raw", queryRows(t, d.DB(), `SELECT DISTINCT compression FROM pragma_storage_info('conversations')
		WHERE column_name = 'raw' AND segment_type = 'VARCHAR'`), [][]any{{"ZSTD"}})
}

// A new warehouse file is in load.StorageVersion's format (DuckDB 1.4's:
// zstd strings, checkpoints that reuse unchanged row groups' metadata); a
// file created in an older format keeps it through commits and checkpoints,
// so the DuckDB versions that read it still do.
func TestDuckDB_StorageFormat(t *testing.T) {
	format := func(t *testing.T, path string) string {
		t.Helper()
		db, err := sql.Open("duckdb", path+"?access_mode=read_only")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var tags string
		if err := db.QueryRow(`SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory'`).Scan(&tags); err != nil {
			t.Fatal(err)
		}
		return tags
	}
	t.Run("New", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "w.duckdb")
		commitOneAndClose(t, path)
		if got, want := format(t, path), load.StorageVersion+"+"; got != want {
			t.Errorf("storage format %q, want %q", got, want)
		}
	})
	t.Run("OlderKept", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "w.duckdb")
		db, err := sql.Open("duckdb", path+"?storage_compatibility_version=v1.2.0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE TABLE created_by_an_earlier_version (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		commitOneAndClose(t, path)
		if got := format(t, path); got != "v1.2.0+" {
			t.Errorf("storage format %q after a commit, want the file's own v1.2.0+", got)
		}
	})
}

// commitOneAndClose commits one conversation to the warehouse at path and
// closes it, which checkpoints it.
func commitOneAndClose(t *testing.T, path string) {
	t.Helper()
	d := openDuckDB(t, path, load.DuckDBOptions{})
	if _, err := d.Commit(context.Background(), batchOf(version("CVR-A", at(1, 0), at(1, 1), 1, 0)), load.State{}, runOf("R1")); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDuckDB_FailedCommitSaysOnlyWhy: a COMMIT that fails (here its write-
// ahead log cannot be written: the disk is full, the folder read-only) is
// reported with DuckDB's reason alone. DuckDB has already ended the
// transaction, and a ROLLBACK after it only added "roll back: cannot
// rollback - no transaction is active" to every such error, as if the
// warehouse were left mid-transaction. The warehouse is as before, and the
// next commit goes through.
func TestDuckDB_FailedCommitSaysOnlyWhy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warehouse.duckdb")
	d := openDuckDB(t, path, load.DuckDBOptions{})
	defer d.Close()
	if _, err := d.DB().Exec("CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path+".wal", 0o755); err != nil { // where the log goes
		t.Fatal(err)
	}
	b := batchOf(version("CVR-1", at(1, 0), at(1, 0), 2, 1))
	_, err := d.Commit(ctx, b, load.State{}, runOf("R1"))
	if err == nil || !strings.Contains(err.Error(), "commit: ") {
		t.Fatalf("Commit with an unwritable log: %v, want the failed COMMIT", err)
	}
	if strings.Contains(err.Error(), "roll back") {
		t.Errorf("Commit: %v, want no roll back error after a failed COMMIT", err)
	}
	if err := os.Remove(path + ".wal"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Commit(ctx, b, load.State{}, runOf("R1")); err != nil {
		t.Fatalf("Commit after the log is writable again: %v", err)
	}
	if got := queryRows(t, d.DB(), "SELECT count(*) FROM conversations")[0][0]; got != int64(1) {
		t.Errorf("conversations = %v, want 1", got)
	}
}

// TestOpenDuckDB_EmptyFileIsANewWarehouse: a warehouse file of zero bytes is
// what a creation that failed leaves (the disk was full when DuckDB wrote
// its header). DuckDB refuses it as "not a valid DuckDB database file", and
// every later run failed on it after the disk had room again. It holds
// nothing, so opening it creates the warehouse; a file with anything in it
// is still refused and kept.
func TestOpenDuckDB_EmptyFileIsANewWarehouse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warehouse.duckdb")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := openDuckDB(t, path, load.DuckDBOptions{})
	if _, err := d.Commit(ctx, batchOf(version("CVR-1", at(1, 0), at(1, 0), 1, 0)), load.State{}, runOf("R1")); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	d.Close()

	garbage := filepath.Join(t.TempDir(), "warehouse.duckdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := load.OpenDuckDB(ctx, garbage, load.DuckDBOptions{}); err == nil {
		t.Fatal("OpenDuckDB of a file that is not a database: no error")
	}
	if b, _ := os.ReadFile(garbage); string(b) != "not a database" {
		t.Errorf("file that is not a database changed to %q", b)
	}
}

// TestDuckDB_CancelDuringBeginLeavesNoTransaction: a commit cancelled
// while its BEGIN runs may find the transaction begun all the same (DuckDB
// began it, the driver reported the cancellation). The connection then went
// back to the pool inside that transaction, and the next writes through
// the pool (a run's ledger row, recorded after the cancelled commit) landed
// in it uncommitted, lost when the warehouse closed. Every ledger row
// recorded after a cancelled commit must survive a reopen.
func TestDuckDB_CancelDuringBeginLeavesNoTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warehouse.duckdb")
	d := openDuckDB(t, path, load.DuckDBOptions{})
	const runs = 400 // the cancellation lands inside BEGIN in a few percent of them
	for i := range runs {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(i%50)*time.Microsecond, cancel)
		run := load.Run{ID: fmt.Sprintf("run-%03d", i), Mode: "incremental", Status: "running"}
		_, _ = d.Commit(ctx, &transform.Batch{}, load.State{}, run)
		timer.Stop()
		cancel()
		run.Status = "cancelled"
		if err := d.Record(context.Background(), run); err != nil {
			t.Fatalf("record %s: %v", run.ID, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openDuckDB(t, path, load.DuckDBOptions{})
	defer d.Close()
	var n int
	if err := d.DB().QueryRow("SELECT count(*) FROM _convsync_runs WHERE status = 'cancelled'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != runs {
		t.Errorf("%d ledger rows survived the reopen, want %d", n, runs)
	}
}

// TestDuckDB_OutOfMemorySaysWhatToChange: a batch of rows far larger than
// usual (conversations of megabytes) past DuckDB's memory limit fails with
// the setting to change named, not only DuckDB's "failed to pin block";
// nothing of it is written and the warehouse takes the next batch.
func TestDuckDB_OutOfMemorySaysWhatToChange(t *testing.T) {
	d, err := load.OpenDuckDB(ctx, filepath.Join(t.TempDir(), "w.duckdb"), load.DuckDBOptions{MemoryLimit: "64MB"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b := batchOf()
	for i := range 12 {
		c, a, _ := version(fmt.Sprintf("CVR-%d", i), at(1, 0), at(2, 0), 1, 0)()
		c.Raw = `"` + strings.Repeat("y", 8<<20) + `"`
		b.Conversations, b.Answers = append(b.Conversations, c), append(b.Answers, a...)
	}
	_, err = d.Commit(ctx, b, load.State{}, runOf("R1"))
	if err == nil || !strings.Contains(err.Error(), "DuckDB reached its memory limit of 64MB: raise warehouse.memory_limit") {
		t.Fatalf("commit past the memory limit: %v, want the setting named", err)
	}
	if _, err := d.Commit(ctx, batchOf(version("CVR-A", at(1, 0), at(2, 0), 1, 0)), load.State{}, runOf("R2")); err != nil {
		t.Fatalf("a small batch after: %v", err)
	}
	var n int
	if err := d.DB().QueryRow("SELECT count(*) FROM conversations").Scan(&n); err != nil || n != 1 {
		t.Errorf("conversations after: %d, %v; want the one of the small batch", n, err)
	}
}
