package load

import (
	"context"
	"fmt"
	"slices"

	sqlfiles "github.com/convsync/convsync/sql"
)

// conversations writes the partitions of the staged conversations that
// change, and their child tables; it returns what that did.
//
// Only the partitions holding the batch's conversations are read, and only
// those where a conversation is inserted or updated are written. A
// partition with an update is rewritten: its stored rows of the
// conversations not written, then the new rows, merged into new files. A
// partition with inserts only gets one more file (see compact). Each table
// is written with one partitioned COPY, whatever the number of partitions.
func (w *writer) conversations(ctx context.Context) (Counts, error) {
	var c Counts
	if err := w.exec(ctx, "stage conversations", fmt.Sprintf(sqlfiles.ParquetIncoming, partExpr(w.p.opts.Partition))); err != nil {
		return c, err
	}
	parts, err := w.strings(ctx, "SELECT DISTINCT _part FROM incoming")
	if err != nil {
		return c, fmt.Errorf("list partitions: %w", err)
	}
	var stored []dataFile // none to read if no staged id can be stored
	if !w.unseen["conversations"] {
		w.p.merges++
		for _, part := range parts {
			stored = append(stored, w.next.files("conversations", part)...)
		}
	}
	if err := w.exec(ctx, "compare conversations", fmt.Sprintf(sqlfiles.ParquetDecided, w.p.source("conversations", stored))); err != nil {
		return c, err
	}
	changes, err := w.changes(ctx)
	if err != nil {
		return c, err
	}
	var written bool
	var updated []string
	for _, ch := range changes {
		c.Inserted, c.Updated, c.Unchanged = c.Inserted+ch.ins, c.Updated+ch.upd, c.Unchanged+ch.unchgd
		written = written || ch.ins+ch.upd > 0
		if ch.upd > 0 {
			updated = append(updated, ch.part)
		}
	}
	if !written {
		return c, nil
	}
	for _, t := range []struct{ table, key, fresh string }{
		{"conversations", "id", sqlfiles.ParquetNewConversations},
		{"conversation_answers", "conversation_id", fmt.Sprintf(sqlfiles.ParquetNewChildren, work+".main.pq_stage_answers")},
		{"conversation_bookings", "conversation_id", fmt.Sprintf(sqlfiles.ParquetNewChildren, work+".main.pq_stage_bookings")},
	} {
		n, err := w.upsert(ctx, t.table, t.fresh, t.key, sqlfiles.ParquetWrittenIDs, updated)
		if err != nil {
			return c, err
		}
		if t.table == "conversations" {
			continue
		}
		// The rows written are the new ones, unless stored ones were kept.
		if len(updated) > 0 {
			if n, err = w.count(ctx, "SELECT count(*) FROM "+t.fresh); err != nil {
				return c, err
			}
		}
		c.ChildRows += n
	}
	return c, nil
}

// change is what a batch does to one partition's conversations.
type change struct {
	part             string
	ins, upd, unchgd int64
}

func (w *writer) changes(ctx context.Context) ([]change, error) {
	rows, err := w.conn.QueryContext(ctx, sqlfiles.ParquetDecidedParts)
	if err != nil {
		return nil, fmt.Errorf("count conversations: %w", err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var ch change
		if err := rows.Scan(&ch.part, &ch.ins, &ch.upd, &ch.unchgd); err != nil {
			return nil, fmt.Errorf("count conversations: %w", err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}

// dimension upserts the staged rows of a dimension table, except those
// equal to the stored ones (sql/unchanged_dimension.sql), which would only
// rewrite their partitions.
//
// Contacts are partitioned like conversations, by their own creation time
// (NULL, for a contact seen only in its redacted form, in the Hive default
// partition), so that a delta rewrites only the partitions of the contacts
// it touches: mostly the recent ones, as its conversations. Bucketing by a
// hash of the id would not do: a delta touching k contacts touches nearly
// every one of B buckets once k is a few times B, so a 1 % delta on 1M
// contacts would rewrite them all. Creation time, unlike a hash, is not
// known for every staged id (a redacted row has none) and a stored row's
// could differ from a staged one's, so the partitions holding stored
// versions are found by a scan of the id column of the table's files
// (sql/parquet_locate.sql): a read that grows with the table, but of one
// column, far cheaper than rewriting it. The other dimensions are small
// (owners, bots, websites, audiences) and rewritten whole when a batch
// updates one of their rows.
func (w *writer) dimension(ctx context.Context, table string) error {
	var located []string
	if len(w.next.Tables[table]) > 0 && !w.unseen[table] {
		w.p.merges++
		var err error
		if located, err = w.locate(ctx, table, w.stored(table, w.partsOf(table))); err != nil {
			return err
		}
	}
	if len(located) > 0 {
		exclude := ""
		if w.p.partitioned(table) {
			exclude = "EXCLUDE (" + partKey(w.p.opts.Partition) + ")"
		}
		var staged, replacing int64
		q := fmt.Sprintf(sqlfiles.UnchangedDimension, table, w.stored(table, located), exclude)
		if err := w.conn.QueryRowContext(ctx, q).Scan(&staged, &replacing); err != nil {
			return fmt.Errorf("compare %s with the stored rows: %w", table, err)
		}
		if staged == 0 {
			return nil // every staged row is stored as it is
		}
		// Only the partitions of the rows still staged are rewritten.
		var err error
		if located, err = w.locate(ctx, table, "stored_"+table); err != nil {
			return err
		}
	}
	expr := "''"
	if table == "contacts" {
		expr = partExpr(w.p.opts.Partition)
	}
	if err := w.exec(ctx, "merge "+table, fmt.Sprintf(sqlfiles.ParquetNewDimension, table, w.stored(table, located), expr)); err != nil {
		return err
	}
	_, err := w.upsert(ctx, table, "new_"+table, "id", "SELECT id FROM new_"+table, located)
	return err
}

// locate returns the partitions of table in which stored, its stored rows
// (with their partition column), holds a staged id ("" for an
// unpartitioned table that holds one).
func (w *writer) locate(ctx context.Context, table, stored string) ([]string, error) {
	key := "NULL"
	if w.p.partitioned(table) {
		key = partKey(w.p.opts.Partition)
	}
	located, err := w.strings(ctx, fmt.Sprintf(sqlfiles.ParquetLocate, table, stored, key, quote(hiveNull)))
	if err != nil {
		return nil, fmt.Errorf("locate %s: %w", table, err)
	}
	if !w.p.partitioned(table) && len(located) > 0 {
		located = []string{""}
	}
	return located, nil
}

// partsOf lists the partitions of table's files.
func (w *writer) partsOf(table string) []string {
	var parts []string
	for _, f := range w.next.Tables[table] {
		if !slices.Contains(parts, f.Partition) {
			parts = append(parts, f.Partition)
		}
	}
	return parts
}

// rejects appends the staged rejects not already stored as one more file.
func (w *writer) rejects(ctx context.Context) error {
	const table = "_convsync_rejects"
	if err := w.exec(ctx, "stage rejects", fmt.Sprintf(sqlfiles.ParquetNewRejects, w.stored(table, []string{""}))); err != nil {
		return err
	}
	_, err := w.emit(ctx, table, fmt.Sprintf("SELECT %s FROM new_%s", w.cols(table), table), false)
	return err
}

// runs upserts run's ledger row; the ledger is always rewritten whole.
func (w *writer) runs(ctx context.Context, run Run) error {
	const table = "_convsync_runs"
	if err := w.exec(ctx, "stage run", fmt.Sprintf(sqlfiles.ParquetNewRun, work)); err != nil {
		return err
	}
	if err := w.exec(ctx, "record run", sqlfiles.RecordRun, runArgs(run)...); err != nil {
		return err
	}
	cols := w.cols(table)
	// A stored row still running but this run's is abandoned, as
	// sql/abandon_runs.sql has it.
	q := fmt.Sprintf(`SELECT %[1]s FROM (
    SELECT * REPLACE (
        CASE WHEN status = 'running' THEN 'abandoned' ELSE status END AS status,
        CASE WHEN status = 'running' THEN coalesce(error, %[3]s) ELSE error END AS error)
    FROM %[2]s)
WHERE run_id NOT IN (SELECT run_id FROM temp.main._convsync_runs)
UNION ALL
SELECT %[1]s FROM temp.main._convsync_runs`, cols, w.stored(table, []string{""}), quote(AbandonedError))
	_, err := w.emit(ctx, table, q, true)
	return err
}
