package load

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	sqlfiles "github.com/convsync/convsync/sql"
	"github.com/convsync/convsync/transform"
)

// DuckDBOptions tunes the DuckDB warehouse. The zero value is ready to use.
type DuckDBOptions struct {
	// Threads DuckDB may use; 0 means DuckDB's default (one per core).
	Threads int
	// MemoryLimit caps DuckDB's buffer memory, e.g. "1GB"; "" means
	// DefaultMemoryLimit. Past it DuckDB evicts cached blocks and spills to
	// disk, so the process's memory does not grow with the warehouse.
	MemoryLimit string
}

// DefaultMemoryLimit is the DuckDB memory_limit of the sink unless
// DuckDBOptions say otherwise. DuckDB's own default (80% of RAM) lets its
// block cache, and so the process, grow with the warehouse; a commit of a
// batch needs far less (see bench/README.md).
const DefaultMemoryLimit = "256MB"

// CheckpointThreshold is the DuckDB checkpoint_threshold of the sink: the
// size of write-ahead log past which a COMMIT also checkpoints (which
// compresses the raw JSON). With DuckDB's 16MB a full load checkpointed
// every few commits; at 256MB a full load of 200k took a quarter less time
// at the same peak RSS, while 512MB and more raised it (see
// bench/README.md). The cost is a log of up to that size on disk, to
// replay after a crash; closing the warehouse checkpoints it.
const CheckpointThreshold = "256MB"

// StorageVersion is the DuckDB storage format of a warehouse file the sink
// creates: DuckDB 1.4's. It has zstd compression of strings (from 1.2),
// which sql/schema.sql asks for the raw JSON: on 200k conversations the raw
// JSON takes 39 MB on disk instead of 199 MB (DuckDB's default format and
// compression, FSST), and the peak RSS while writing it was 456 MiB instead
// of 677 MiB. And a checkpoint reuses the metadata of unchanged row groups
// (from 1.4), so the checkpoint that closes a 2,000-conversation delta took
// 28-45 ms at both 200k and 1M conversations, against 50-63 ms and 55-132 ms
// in 1.2's format (see bench/README.md). DuckDB 1.4 and later read the
// file. A file created before keeps its format.
const StorageVersion = "v1.4.0"

// DuckDB is a warehouse in one DuckDB file. Commit is the only writer of
// warehouse rows and cursor; read queries go through DB. It is safe for
// concurrent use; commits are serialized.
type DuckDB struct {
	path string
	db   *sql.DB
	// memoryLimit is DuckDB's memory_limit, named by an error of reaching it.
	memoryLimit string
	now         func() time.Time
	mu          sync.Mutex // held by Commit
	dims        *dimCache  // the dimension rows committed, not staged again
	// fresh holds the ids committed to tables found empty at open: a batch
	// of new ids only skips reading the stored rows.
	fresh  *freshKeys
	merges int // reads of a table's stored rows to merge a batch's with them
	// failAt, when set by a test, is called between the steps of Commit;
	// an error aborts the commit there as a crash would.
	failAt func(step string) error
}

var _ interface {
	State(ctx context.Context) (State, error)
	Commit(ctx context.Context, b *transform.Batch, st State, run Run) (Counts, error)
	Record(ctx context.Context, run Run) error
} = (*DuckDB)(nil)

// OpenDuckDB opens the warehouse file at path, creating it, its parent
// directories and the schema (sql/schema.sql) as needed; opening an existing
// warehouse is safe. An empty file (0 bytes, no write-ahead log: a creation
// that failed on a full disk) is removed and created again. One process may have a file open at a time; DuckDB
// refuses a second one with a lock error.
func OpenDuckDB(ctx context.Context, path string, opts DuckDBOptions) (*DuckDB, error) {
	opts.MemoryLimit = cmp.Or(opts.MemoryLimit, DefaultMemoryLimit)
	d, err := openDuckDB(ctx, path, opts)
	if err != nil {
		return nil, withMemoryHint(fmt.Errorf("open warehouse %s: %w", path, err), opts.MemoryLimit)
	}
	return d, nil
}

// duckdbOutOfMemory matches what DuckDB appends to an error of reaching its
// memory_limit: "failed to pin block of size 8.0 MiB (57.1 MiB/61.0 MiB
// used)", or a checkpoint that failed for the same reason.
var duckdbOutOfMemory = regexp.MustCompile(`\([0-9.]+ [KMGT]?i?B/[0-9.]+ [KMGT]?i?B used\)`)

// withMemoryHint adds what to change to an error of DuckDB reaching its
// memory limit, limit: its message names a block, not the setting. Rows far
// larger than usual (conversations of megabytes) need more than the default.
func withMemoryHint(err error, limit string) error {
	if err == nil || !duckdbOutOfMemory.MatchString(err.Error()) {
		return err
	}
	return fmt.Errorf("%w (DuckDB reached its memory limit of %s: raise warehouse.memory_limit, or lower sync.batch_size)", err, limit)
}

func openDuckDB(ctx context.Context, path string, opts DuckDBOptions) (*DuckDB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, errors.New("path must be a file name without ? or #")
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("threads must be >= 0, got %d", opts.Threads)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := removeEmpty(path); err != nil {
		return nil, err
	}
	conf := url.Values{}
	if opts.Threads > 0 {
		conf.Set("threads", strconv.Itoa(opts.Threads))
	}
	conf.Set("memory_limit", opts.MemoryLimit)
	conf.Set("checkpoint_threshold", CheckpointThreshold)
	conf.Set("storage_compatibility_version", StorageVersion)
	dsn := path
	if len(conf) > 0 {
		dsn += "?" + conf.Encode()
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	if _, err := db.ExecContext(ctx, sqlfiles.Schema); err != nil {
		return nil, errors.Join(fmt.Errorf("create schema: %w", err), db.Close())
	}
	// A warehouse made by another version of convsync may lack a column
	// the loader writes: say so now, not at the first commit.
	cols, err := columns(ctx, db, "current_database()")
	if err == nil {
		err = checkColumns(cols)
	}
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	empty, err := emptyTables(ctx, db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return &DuckDB{path: path, db: db, memoryLimit: opts.MemoryLimit, now: time.Now, dims: newDimCache(), fresh: newFreshKeys(empty)}, nil
}

// removeEmpty removes the file at path if it has zero bytes and no
// write-ahead log beside it: what a creation that failed leaves (the disk
// was full when DuckDB wrote the header). It holds nothing, and DuckDB
// refuses it ("not a valid DuckDB database file") until someone deletes it,
// however much room the disk has again.
func removeEmpty(path string) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		return nil // DuckDB says what is wrong with anything else
	}
	if _, err := os.Stat(path + ".wal"); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove empty warehouse file: %w", err)
	}
	return nil
}

// keyedTables are the tables whose rows are upserted by id.
var keyedTables = []string{"conversations", "contacts", "users", "bots", "websites", "audiences"}

// emptyTables returns those of keyedTables that hold no rows.
func emptyTables(ctx context.Context, db *sql.DB) ([]string, error) {
	var empty []string
	for _, t := range keyedTables {
		var rows bool
		if err := db.QueryRowContext(ctx, "SELECT EXISTS (FROM "+t+")").Scan(&rows); err != nil {
			return nil, fmt.Errorf("look into %s: %w", t, err)
		}
		if !rows {
			empty = append(empty, t)
		}
	}
	return empty, nil
}

// DB is the warehouse's connection pool, for read queries (the sql and
// status commands, tests). Writing through it bypasses Commit's guarantees.
func (d *DuckDB) DB() *sql.DB { return d.db }

// Close closes the warehouse; data committed before is durable.
func (d *DuckDB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close warehouse %s: %w", d.path, err)
	}
	return nil
}

// State returns the state saved by the last successful Commit, or the zero
// State if there has been none.
func (d *DuckDB) State(ctx context.Context) (State, error) {
	var raw string
	err := d.db.QueryRowContext(ctx, sqlfiles.LoadState).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read sync state: %w", err)
	}
	return UnmarshalState([]byte(raw))
}

// Record upserts run's ledger row in _convsync_runs on its own, for the
// start, the end or the failure of a run, and marks any other row still
// running abandoned (sql/abandon_runs.sql).
func (d *DuckDB) Record(ctx context.Context, run Run) error {
	if _, err := d.db.ExecContext(ctx, sqlfiles.AbandonRuns, run.ID, AbandonedError); err != nil {
		return withMemoryHint(fmt.Errorf("record run %s: %w", run.ID, err), d.memoryLimit)
	}
	if _, err := d.db.ExecContext(ctx, sqlfiles.RecordRun, runArgs(run)...); err != nil {
		return withMemoryHint(fmt.Errorf("record run %s: %w", run.ID, err), d.memoryLimit)
	}
	return nil
}

// Commit writes batch b, the cursor state st and run's ledger row in one
// transaction: all of it becomes visible and durable together, or, on any
// error or a cancelled ctx, none of it does and the warehouse is exactly as
// before.
//
// Conversations are upserted (only a strictly newer last_updated_time
// replaces a stored row); the child rows of every inserted or replaced
// conversation are replaced by the batch's; dimensions are upserted by id,
// a deleted row only marking the stored one; rejects are appended. Every row
// written carries synced_at (the commit time, UTC) and run_id (run.ID).
//
// The ledger row written is run with the returned Counts added to
// run.Counts, so it matches the data committed; the caller adds the
// returned Counts to its own Run. run.Rejected is written as given.
func (d *DuckDB) Commit(ctx context.Context, b *transform.Batch, st State, run Run) (Counts, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.commit(ctx, b, st, run)
	if err != nil {
		return Counts{}, withMemoryHint(fmt.Errorf("commit batch of run %s: %w", run.ID, err), d.memoryLimit)
	}
	return c, nil
}

func (d *DuckDB) commit(ctx context.Context, b *transform.Batch, st State, run Run) (c Counts, err error) {
	state, err := MarshalState(st)
	if err != nil {
		return c, err
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return c, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		// A BEGIN that ctx interrupted may have begun the transaction all
		// the same (DuckDB began it; the driver reported the cancellation).
		// Back in the pool inside it, the connection took the next writes
		// through the pool (the run's ledger row) uncommitted, lost when
		// the warehouse closed. ROLLBACK ends it; it fails, harmlessly, when
		// no transaction began.
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		return c, err
	}
	committing := false // COMMIT was sent: it ends the transaction, even when it fails
	defer func() {
		if err != nil && !committing {
			err = errors.Join(err, rollback(conn))
		}
	}()
	now := d.now().UTC()
	b = d.dims.changed(b)
	d.fresh.begin()
	unseen := d.fresh.unseenIn(b)
	newest := newestVersions(b.Conversations)
	if err := d.step(ctx, "staged", func() error { return stageKeys(ctx, conn, b, newest, !unseen["conversations"], run.ID, now) }); err != nil {
		return c, err
	}
	var touched map[string]bool // nil: every conversation of the batch
	if err := d.step(ctx, "conversations", func() (err error) {
		if unseen["conversations"] {
			c.Inserted = int64(len(b.Conversations))
			if newest != nil {
				c.Inserted = int64(len(newest))
			}
			return appendConversations(ctx, conn, b, newest, nil)
		}
		d.merges++
		touched, err = mergeConversations(ctx, conn, b, newest, &c)
		return err
	}); err != nil {
		return c, err
	}
	if err := d.step(ctx, "children", func() (err error) {
		c.ChildRows, err = appendChildren(ctx, conn, b, touched, run.ID, now)
		return err
	}); err != nil {
		return c, err
	}
	if err := d.step(ctx, "dimensions", func() error { return d.mergeDimensions(ctx, conn, b, unseen) }); err != nil {
		return c, err
	}
	if err := d.step(ctx, "rejects", func() error { return exec(ctx, conn, "append rejects", sqlfiles.AppendRejects) }); err != nil {
		return c, err
	}
	run.Counts.Add(c)
	if err := d.step(ctx, "state", func() error { return saveState(ctx, conn, state, now, run) }); err != nil {
		return c, err
	}
	if err := ctx.Err(); err != nil {
		return c, err
	}
	// Once COMMIT starts it must finish: an interrupted COMMIT would leave
	// the outcome unknown to the caller.
	committing = true
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		d.fresh.forget() // what is stored now is unknown
		// DuckDB ended the transaction: a ROLLBACK would only add "no
		// transaction is active" to the error. The connection is dropped
		// rather than reused, in case it holds anything of it.
		discard(conn)
		return c, fmt.Errorf("commit: %w", err)
	}
	d.dims.keep()
	d.fresh.keep()
	return c, nil
}

// step runs one step of Commit after checking ctx, then calls the test hook
// named after the step.
func (d *DuckDB) step(ctx context.Context, name string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f(); err != nil {
		return err
	}
	if d.failAt != nil {
		return d.failAt(name)
	}
	return nil
}

// rollback ends the open transaction on conn; a connection that cannot roll
// back is discarded from the pool rather than reused mid-transaction.
func rollback(conn *sql.Conn) error {
	_, err := conn.ExecContext(context.Background(), "ROLLBACK")
	if err != nil {
		discard(conn)
		return fmt.Errorf("roll back: %w", err)
	}
	return nil
}

// discard makes the pool close conn when it is released instead of reusing
// it; closing a connection rolls back any transaction it still has open.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

func exec(ctx context.Context, conn *sql.Conn, what, script string, args ...any) error {
	if _, err := conn.ExecContext(ctx, script, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// mergeConversations writes the batch's new and newer conversations (of
// those at indexes newest, nil: all) and deletes the stored versions they
// replace with all their child rows, and returns the ids it wrote, or nil
// if it wrote every conversation of the batch. The deletes scan whole
// tables, so a batch that replaces nothing (a first load) skips them.
func mergeConversations(ctx context.Context, conn *sql.Conn, b *transform.Batch, newest []int, c *Counts) (map[string]bool, error) {
	err := conn.QueryRowContext(ctx, sqlfiles.MergeConversations).Scan(&c.Inserted, &c.Updated, &c.Unchanged)
	if err != nil {
		return nil, fmt.Errorf("merge conversations: %w", err)
	}
	if c.Updated > 0 {
		if err := exec(ctx, conn, "delete replaced rows", sqlfiles.DeleteReplaced); err != nil {
			return nil, err
		}
	}
	var touched map[string]bool
	if c.Unchanged > 0 {
		if touched, err = touchedIDs(ctx, conn, c.Inserted+c.Updated); err != nil {
			return nil, err
		}
	}
	return touched, appendConversations(ctx, conn, b, newest, touched)
}

// mergeDimensions upserts the batch's contacts, users, bots, websites and
// audiences (staged one row per id) that differ from the stored rows. A
// table's stored rows are read once, for the staged ids, unless none of
// them can be stored (unseen, see freshKeys): then the staged rows are
// inserted. A batch without deleted rows of a table that replace stored
// ones skips the steps that keep a stored row's attributes.
func (d *DuckDB) mergeDimensions(ctx context.Context, conn *sql.Conn, b *transform.Batch, unseen map[string]bool) error {
	tables := []struct {
		name          string
		rows, deleted int
	}{
		{"contacts", len(b.Contacts), countIf(b.Contacts, func(r transform.Contact) bool { return r.Deleted })},
		{"users", len(b.Users), countIf(b.Users, func(r transform.User) bool { return r.Deleted })},
		{"bots", len(b.Bots), countIf(b.Bots, func(r transform.Bot) bool { return r.Deleted })},
		{"websites", len(b.Websites), countIf(b.Websites, func(r transform.Website) bool { return r.Deleted })},
		{"audiences", len(b.Audiences), countIf(b.Audiences, func(r transform.Audience) bool { return r.Deleted })},
	}
	for _, t := range tables {
		if t.rows == 0 {
			continue
		}
		insert := fmt.Sprintf(sqlfiles.InsertDimension, t.name)
		if unseen[t.name] {
			if err := exec(ctx, conn, "insert "+t.name, insert); err != nil {
				return err
			}
			continue
		}
		d.merges++
		var staged, replacing int64
		q := fmt.Sprintf(sqlfiles.UnchangedDimension, t.name, t.name, "")
		if err := conn.QueryRowContext(ctx, q).Scan(&staged, &replacing); err != nil {
			return fmt.Errorf("compare %s with the stored rows: %w", t.name, err)
		}
		if staged == 0 {
			continue // every staged row is stored as it is
		}
		merge := fmt.Sprintf(sqlfiles.ReplaceDimension, t.name) + insert
		if t.deleted > 0 && replacing > 0 {
			merge = fmt.Sprintf(sqlfiles.MergeDimension, t.name)
		}
		if err := exec(ctx, conn, "merge "+t.name, merge); err != nil {
			return err
		}
	}
	return nil
}

func countIf[T any](rows []T, f func(T) bool) (n int) {
	for _, r := range rows {
		if f(r) {
			n++
		}
	}
	return n
}

func touchedIDs(ctx context.Context, conn *sql.Conn, n int64) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, sqlfiles.TouchedIDs)
	if err != nil {
		return nil, fmt.Errorf("read touched ids: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read touched ids: %w", err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read touched ids: %w", err)
	}
	return ids, nil
}

func saveState(ctx context.Context, conn *sql.Conn, state []byte, now time.Time, run Run) error {
	if err := exec(ctx, conn, "save sync state", sqlfiles.SaveState, string(state), now); err != nil {
		return err
	}
	if err := exec(ctx, conn, "record run", sqlfiles.RecordRun, runArgs(run)...); err != nil {
		return err
	}
	return exec(ctx, conn, "drop staging tables", sqlfiles.Unstage)
}

// runArgs are the parameters of sqlfiles.RecordRun.
func runArgs(r Run) []any {
	var errText any
	if r.Error != "" {
		// Errors quote what came from outside (an API's response, a file
		// name), and a text column holds UTF-8 only.
		errText = strings.ToValidUTF8(r.Error, "\uFFFD")
	}
	return []any{
		r.ID, r.Mode, r.Start, orNull(r.End), r.Status, orNull(r.WindowLo), orNull(r.WindowHi),
		r.Pages, r.APICalls, r.Retries, r.RateLimited,
		r.Inserted, r.Updated, r.Unchanged, r.ChildRows, r.Rejected, errText,
	}
}
