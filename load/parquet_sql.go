package load

// The SQL of a Parquet commit. It runs on the commit connection, whose
// default catalog is the scratch catalog work, after stageParquet has filled
// the TEMP staging tables as for the DuckDB sink (and the child rows); the
// dimension, reject and ledger rules are those of sql/merge_dimensions.sql,
// sql/append_rejects.sql and sql/record_run.sql. %s placeholders take only
// identifiers, partition expressions and quoted paths made by this package.
//
// TODO(sql/): move these to sql/parquet_*.sql (package sqlfiles) once the
// sql folder is free; they are constants here only because another change
// owns that folder now.
const (
	// sqlParquetSession tunes the in-memory DuckDB for writing files: rows
	// need not keep their batch order (readers sort, and partitions are
	// written whole), which lets COPY write in parallel without reordering.
	sqlParquetSession = `SET preserve_insertion_order = false`

	// The batch's conversations, the newest version of each id (its row in
	// stage_conversations, _row), with its partition value: narrow, so the
	// window sorts ids and times, not raw JSON. %s: the partition expression
	// of creation_time.
	sqlIncoming = `CREATE OR REPLACE TEMP TABLE incoming AS
SELECT rowid AS _row, id, last_updated_time, %s AS _part FROM stage_conversations
QUALIFY row_number() OVER (PARTITION BY id ORDER BY last_updated_time DESC, rowid DESC) = 1`

	// Each incoming conversation against the stored version in its
	// partition: written if new or strictly newer. %s: the stored rows.
	sqlDecided = `CREATE OR REPLACE TEMP TABLE decided AS
SELECT i._row, i.id, i._part, s.id IS NOT NULL AS existed,
       (s.id IS NULL OR i.last_updated_time > s.last_updated_time) AS write
FROM incoming i LEFT JOIN (SELECT id, last_updated_time FROM %s) s ON s.id = i.id`

	// Per partition of the batch: inserted, updated, unchanged.
	sqlDecidedParts = `SELECT _part,
       count(*) FILTER (WHERE write AND NOT existed),
       count(*) FILTER (WHERE write AND existed),
       count(*) FILTER (WHERE NOT write)
FROM decided GROUP BY _part ORDER BY _part`

	// The ids of the conversations written, whose stored rows and children
	// are replaced.
	sqlWrittenIDs = `SELECT id FROM decided WHERE write`

	// The conversations to write and the whole child set of each, as
	// relations for the COPY that writes them (not materialized: the child
	// rows are the largest part of a batch). A batch holds a child key once
	// (transform.Batch), so no de-duplication. %[1]s: the staging table.
	sqlNewConversations = `(SELECT c.*, d._part, r.synced_at, r.run_id
FROM stage_conversations c JOIN decided d ON d._row = c.rowid AND d.write, stage_run r)`
	sqlNewChildren = `(SELECT c.*, d._part, r.synced_at, r.run_id
FROM %[1]s c JOIN decided d ON d.id = c.conversation_id AND d.write, stage_run r)`

	// The rows to write for a dimension: staged rows, a deleted one keeping
	// the stored attributes. %[1]s: the table, %[2]s: the stored rows of the
	// staged ids (or more), %[3]s: the partition expression of
	// creation_time.
	sqlNewDimension = `CREATE OR REPLACE TEMP TABLE new_%[1]s AS
WITH s AS (
    SELECT * FROM stage_%[1]s
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
), d AS (
    SELECT * FROM %[2]s WHERE id IN (SELECT id FROM s)
)
SELECT m.*, r.synced_at, r.run_id, %[3]s AS _part FROM (
    SELECT * FROM s WHERE NOT deleted
    UNION ALL BY NAME
    SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
    FROM s JOIN d ON d.id = s.id WHERE s.deleted
    UNION ALL BY NAME
    SELECT s.* FROM s ANTI JOIN d ON d.id = s.id WHERE s.deleted
) m, stage_run r`

	// The partitions holding a stored version of a staged dimension id: a
	// scan of the id column only. %[1]s: the table, %[2]s: its files, read
	// with their Hive partition column %[3]s.
	sqlLocate = `SELECT DISTINCT coalesce(%[3]s, '` + hiveNull + `') FROM %[2]s
WHERE id IN (SELECT id FROM stage_%[1]s)`

	sqlNewRejects = `CREATE OR REPLACE TEMP TABLE new__convsync_rejects AS
SELECT s.*, r.run_id, r.synced_at AS rejected_at FROM stage_rejects s, stage_run r`

	// A TEMP table shadowing work's _convsync_runs, for sql/record_run.sql
	// to upsert the run into.
	sqlNewRun = `CREATE OR REPLACE TEMP TABLE _convsync_runs AS
SELECT * FROM ` + work + `.main._convsync_runs LIMIT 0`

	sqlDropScratch = `DROP TABLE IF EXISTS incoming; DROP TABLE IF EXISTS decided;
DROP TABLE IF EXISTS new_contacts;
DROP TABLE IF EXISTS new_users; DROP TABLE IF EXISTS new_bots; DROP TABLE IF EXISTS new_websites;
DROP TABLE IF EXISTS new_audiences; DROP TABLE IF EXISTS new__convsync_rejects;
DROP TABLE IF EXISTS temp.main._convsync_runs;
DROP TABLE IF EXISTS ` + work + `.main.pq_stage_answers; DROP TABLE IF EXISTS ` + work + `.main.pq_stage_bookings`

	// sqlCopy writes query %[1]s to file %[2]s.
	sqlCopy = `COPY (%[1]s) TO %[2]s (FORMAT parquet, COMPRESSION %[3]s, ROW_GROUP_SIZE %[4]d)`

	// sqlCopyPartitioned writes query %[1]s, whose column %[3]s is the
	// partition value, into Hive partition folders under folder %[2]s, one
	// or more files each named by pattern %[4]s + ".parquet.tmp" (a staged
	// name), and returns each file's path and row count. The partition
	// column is not written into the files: readers take it from the path.
	sqlCopyPartitioned = `COPY (%[1]s) TO %[2]s (FORMAT parquet, PARTITION_BY (%[3]s), FILENAME_PATTERN %[4]s,
FILE_EXTENSION 'parquet.tmp', OVERWRITE_OR_IGNORE, RETURN_STATS, COMPRESSION %[5]s, ROW_GROUP_SIZE %[6]d)`
)
