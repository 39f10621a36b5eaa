package load

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	sqlfiles "github.com/convsync/convsync/sql"
)

// The SQL of a Parquet commit. It runs on the commit connection, whose
// default catalog is the scratch catalog work, after stageParquet has filled
// the TEMP staging tables as for the DuckDB sink (and the child rows); the
// dimension, reject and ledger rules are those of sql/merge_dimensions.sql,
// sql/append_rejects.sql and sql/record_run.sql. %s placeholders take only
// identifiers, partition expressions and quoted paths made by this package.
// TODO(sql/): move these to sql/parquet_*.sql once the text settles.
const (
	// The batch's conversations, the newest version of each id, with its
	// partition value. %s: the partition expression of creation_time.
	sqlIncoming = `CREATE OR REPLACE TEMP TABLE incoming AS
SELECT *, %s AS _part FROM stage_conversations
QUALIFY row_number() OVER (PARTITION BY id ORDER BY last_updated_time DESC, rowid DESC) = 1`

	// Each incoming conversation against the stored version in its
	// partition: written if new or strictly newer. %s: the stored rows.
	sqlDecided = `CREATE OR REPLACE TEMP TABLE decided AS
SELECT i.id, i._part, s.id IS NOT NULL AS existed,
       (s.id IS NULL OR i.last_updated_time > s.last_updated_time) AS write
FROM incoming i LEFT JOIN (SELECT id, last_updated_time FROM %s) s ON s.id = i.id`

	sqlDecidedParts = `SELECT _part,
       count(*) FILTER (WHERE write AND NOT existed),
       count(*) FILTER (WHERE write AND existed),
       count(*) FILTER (WHERE NOT write)
FROM decided GROUP BY _part ORDER BY _part`

	// The new rows are sorted by partition so that each partition's COPY
	// reads only its own row groups (zone maps on _part).
	sqlNewConversations = `CREATE OR REPLACE TEMP TABLE new_conversations AS
SELECT i.*, r.synced_at, r.run_id FROM incoming i, stage_run r
WHERE i.id IN (SELECT id FROM decided WHERE write)
ORDER BY i._part`

	// The whole child set of every written conversation. %[1]s: the child
	// table, %[2]s: its staging table.
	sqlNewChildren = `CREATE OR REPLACE TEMP TABLE new_%[1]s AS
SELECT c.*, d._part, r.synced_at, r.run_id
FROM %[2]s c JOIN decided d ON d.id = c.conversation_id AND d.write, stage_run r
QUALIFY row_number() OVER (PARTITION BY c.conversation_id, c.position ORDER BY c.rowid DESC) = 1
ORDER BY d._part`

	// The rows to write for a dimension: staged rows, a deleted one keeping
	// the stored attributes. %[1]s: the table, %[2]s: the stored rows.
	sqlNewDimension = `CREATE OR REPLACE TEMP TABLE new_%[1]s AS
WITH s AS (
    SELECT * FROM stage_%[1]s
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
), d AS (
    SELECT * FROM %[2]s WHERE id IN (SELECT id FROM s)
)
SELECT m.*, r.synced_at, r.run_id FROM (
    SELECT * FROM s WHERE NOT deleted
    UNION ALL BY NAME
    SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
    FROM s JOIN d ON d.id = s.id WHERE s.deleted
    UNION ALL BY NAME
    SELECT s.* FROM s ANTI JOIN d ON d.id = s.id WHERE s.deleted
) m, stage_run r`

	sqlNewRejects = `CREATE OR REPLACE TEMP TABLE new__convsync_rejects AS
SELECT s.*, r.run_id, r.synced_at AS rejected_at FROM stage_rejects s, stage_run r`

	// A TEMP table shadowing work's _convsync_runs, for sql/record_run.sql
	// to upsert the run into.
	sqlNewRun = `CREATE OR REPLACE TEMP TABLE _convsync_runs AS
SELECT * FROM ` + work + `.main._convsync_runs LIMIT 0`

	sqlDropScratch = `DROP TABLE IF EXISTS incoming; DROP TABLE IF EXISTS decided;
DROP TABLE IF EXISTS new_conversations; DROP TABLE IF EXISTS new_conversation_answers;
DROP TABLE IF EXISTS new_conversation_bookings; DROP TABLE IF EXISTS new_contacts;
DROP TABLE IF EXISTS new_users; DROP TABLE IF EXISTS new_bots; DROP TABLE IF EXISTS new_websites;
DROP TABLE IF EXISTS new_audiences; DROP TABLE IF EXISTS new__convsync_rejects;
DROP TABLE IF EXISTS temp.main._convsync_runs;
DROP TABLE IF EXISTS pq_stage_answers; DROP TABLE IF EXISTS pq_stage_bookings`
)

// partExpr is the SQL partition value of a creation_time, in UTC whatever
// the session's time zone.
func partExpr(partition string) string {
	switch partition {
	case "day":
		return "strftime(make_timestamp(epoch_us(creation_time)), '%Y-%m-%d')"
	case "none":
		return "''"
	}
	return "strftime(make_timestamp(epoch_us(creation_time)), '%Y-%m')"
}

// partKey is the Hive partition column, named by its folders.
func partKey(partition string) string {
	if partition == "day" {
		return "creation_day"
	}
	return "creation_month"
}

// writer builds one commit: it writes new files under staged names and
// lists them, and drops the files they replace, in next.
type writer struct {
	p       *Parquet
	conn    *sql.Conn
	next    *manifest
	token   string
	n       int
	staged  []string        // absolute staged paths written, removed if the commit fails
	newRel  []string        // staged relative paths listed in next
	removed []string        // relative paths next no longer lists
	dirs    map[string]bool // folders holding new files, to fsync
	stats   publishStats
}

func (p *Parquet) newWriter() *writer {
	next := p.m.clone()
	next.Seq++
	b := make([]byte, 3)
	rand.Read(b)
	return &writer{p: p, conn: p.conn, next: next, token: hex.EncodeToString(b), dirs: map[string]bool{}}
}

// cols is table's column list in schema order, for SELECT.
func (w *writer) cols(table string) string { return strings.Join(w.p.cols[table], ", ") }

// source is the relation of table's stored rows in partition part.
func (w *writer) source(table, part string) string {
	return w.p.source(table, w.next.files(table, part))
}

func (w *writer) exec(ctx context.Context, what, q string, args ...any) error {
	if _, err := w.conn.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (w *writer) count(ctx context.Context, q string) (int64, error) {
	var n int64
	if err := w.conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// conversations writes the partitions of the staged conversations that
// change, and their child tables; it returns what that did.
func (w *writer) conversations(ctx context.Context) (Counts, error) {
	var c Counts
	if err := w.exec(ctx, "stage conversations", fmt.Sprintf(sqlIncoming, partExpr(w.p.opts.Partition))); err != nil {
		return c, err
	}
	parts, err := w.parts(ctx)
	if err != nil {
		return c, err
	}
	var stored []dataFile
	for _, part := range parts {
		stored = append(stored, w.next.files("conversations", part)...)
	}
	if err := w.exec(ctx, "compare conversations", fmt.Sprintf(sqlDecided, w.p.source("conversations", stored))); err != nil {
		return c, err
	}
	if err := w.exec(ctx, "stage conversations", sqlNewConversations); err != nil {
		return c, err
	}
	for _, t := range [][2]string{{"conversation_answers", "pq_stage_answers"}, {"conversation_bookings", "pq_stage_bookings"}} {
		if err := w.exec(ctx, "stage "+t[0], fmt.Sprintf(sqlNewChildren, t[0], t[1])); err != nil {
			return c, err
		}
		n, err := w.count(ctx, "SELECT count(*) FROM new_"+t[0])
		if err != nil {
			return c, err
		}
		c.ChildRows += n
	}
	rows, err := w.conn.QueryContext(ctx, sqlDecidedParts)
	if err != nil {
		return c, fmt.Errorf("count conversations: %w", err)
	}
	type change struct {
		part             string
		ins, upd, unchgd int64
	}
	var changes []change
	for rows.Next() {
		var ch change
		if err := rows.Scan(&ch.part, &ch.ins, &ch.upd, &ch.unchgd); err != nil {
			rows.Close()
			return c, err
		}
		changes = append(changes, ch)
	}
	if err := rows.Close(); err != nil {
		return c, err
	}
	for _, ch := range changes {
		c.Inserted, c.Updated, c.Unchanged = c.Inserted+ch.ins, c.Updated+ch.upd, c.Unchanged+ch.unchgd
		if ch.ins+ch.upd == 0 {
			continue
		}
		if err := w.partition(ctx, ch.part, ch.upd > 0); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (w *writer) parts(ctx context.Context) ([]string, error) {
	rows, err := w.conn.QueryContext(ctx, "SELECT DISTINCT _part FROM incoming")
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	return parts, rows.Err()
}

// partition writes partition part of conversations and its child tables.
// Without updates the new rows go to one more file (append); with updates,
// or once a table's partition holds mergeAt files, the partition is
// rewritten into one file: the stored rows of the conversations not written,
// then the new rows.
func (w *writer) partition(ctx context.Context, part string, updates bool) error {
	lit := quote(part)
	for _, t := range []struct{ table, key string }{
		{"conversations", "id"}, {"conversation_answers", "conversation_id"}, {"conversation_bookings", "conversation_id"},
	} {
		add := fmt.Sprintf("SELECT %s FROM new_%s WHERE _part = %s", w.cols(t.table), t.table, lit)
		rewrite := updates || len(w.next.files(t.table, part)) >= mergeAt
		if rewrite {
			keep := fmt.Sprintf("SELECT %s FROM %s WHERE %s NOT IN (SELECT id FROM new_conversations)",
				w.cols(t.table), w.source(t.table, part), t.key)
			add = keep + "\nUNION ALL\n" + add
		}
		if err := w.emit(ctx, t.table, part, add, rewrite); err != nil {
			return err
		}
	}
	return nil
}

// dimension upserts the staged rows of a dimension table: appended as one
// more file when every id is new, else the table rewritten.
func (w *writer) dimension(ctx context.Context, table string) error {
	src := w.source(table, "")
	if err := w.exec(ctx, "merge "+table, fmt.Sprintf(sqlNewDimension, table, src)); err != nil {
		return err
	}
	known, err := w.count(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT id FROM %s) WHERE id IN (SELECT id FROM new_%s)", src, table))
	if err != nil {
		return err
	}
	q := fmt.Sprintf("SELECT %s FROM new_%s", w.cols(table), table)
	rewrite := known > 0 || len(w.next.files(table, "")) >= mergeAt
	if rewrite {
		q = fmt.Sprintf("SELECT %s FROM %s WHERE id NOT IN (SELECT id FROM new_%s)\nUNION ALL\n", w.cols(table), src, table) + q
	}
	return w.emit(ctx, table, "", q, rewrite)
}

// rejects appends the staged rejects as one more file, merging the files
// once there are mergeAt.
func (w *writer) rejects(ctx context.Context) error {
	const table = "_convsync_rejects"
	if err := w.exec(ctx, "stage rejects", sqlNewRejects); err != nil {
		return err
	}
	q := fmt.Sprintf("SELECT %s FROM new_%s", w.cols(table), table)
	rewrite := len(w.next.files(table, "")) >= mergeAt
	if rewrite {
		q = fmt.Sprintf("SELECT %s FROM %s\nUNION ALL\n", w.cols(table), w.source(table, "")) + q
	}
	return w.emit(ctx, table, "", q, rewrite)
}

// runs upserts run's ledger row; the ledger is always rewritten whole.
func (w *writer) runs(ctx context.Context, run Run) error {
	const table = "_convsync_runs"
	if err := w.exec(ctx, "stage run", sqlNewRun); err != nil {
		return err
	}
	if err := w.exec(ctx, "record run", sqlfiles.RecordRun, runArgs(run)...); err != nil {
		return err
	}
	cols := w.cols(table)
	q := fmt.Sprintf(`SELECT %[1]s FROM %[2]s WHERE run_id NOT IN (SELECT run_id FROM temp.main._convsync_runs)
UNION ALL
SELECT %[1]s FROM temp.main._convsync_runs`, cols, w.source(table, ""))
	return w.emit(ctx, table, "", q, true)
}

// emit writes the rows of query q as a new file of table's partition part,
// under its staged name, fsynced. With replace, the partition's current
// files leave next. A query without rows writes no file.
func (w *writer) emit(ctx context.Context, table, part, q string, replace bool) error {
	w.n++
	name := fmt.Sprintf("%s%08d-%03d-%s.parquet", filePrefix, w.next.Seq, w.n, w.token)
	rel := path.Join(table, name)
	if partitioned(table) && w.p.opts.Partition != "none" {
		rel = path.Join(table, partKey(w.p.opts.Partition)+"="+part, name)
	}
	rel = stagedName(rel)
	abs := filepath.Join(w.p.dir, filepath.FromSlash(rel))
	if err := w.mkdir(filepath.Dir(abs)); err != nil {
		return err
	}
	w.staged = append(w.staged, abs)
	res, err := w.conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION %s, ROW_GROUP_SIZE %d)",
		q, quote(abs), w.p.opts.Compression, w.p.opts.RowGroupSize))
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if replace {
		w.drop(table, part)
	}
	if n == 0 {
		return os.Remove(abs)
	}
	if err := syncFile(abs); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	w.next.Tables[table] = append(w.next.Tables[table], dataFile{Path: rel, Partition: part, Rows: n, Bytes: fi.Size()})
	w.newRel = append(w.newRel, rel)
	w.dirs[filepath.Dir(abs)] = true
	w.stats.filesWritten++
	w.stats.bytesWritten += fi.Size()
	return nil
}

// drop removes the current files of table's partition part from next.
func (w *writer) drop(table, part string) {
	var keep []dataFile
	for _, f := range w.next.Tables[table] {
		switch {
		case f.Partition != part:
			keep = append(keep, f)
		default:
			w.removed = append(w.removed, f.Path)
		}
	}
	w.next.Tables[table] = keep
}

// mkdir creates folder dir and the missing folders above it; each one
// created is fsynced into its parent before any file in it is published.
func (w *writer) mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := w.mkdir(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	w.dirs[filepath.Dir(dir)] = true
	return nil
}
