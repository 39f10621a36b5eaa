// Package sqlfiles holds the warehouse's SQL, embedded from the *.sql files
// beside it, so no SQL is written in Go. The directory is named sql; the
// package is sqlfiles so that importers can use it beside database/sql
// without an alias clash.
//
// Every script may hold several statements; the DuckDB driver runs them in
// order and returns the result of the last. Scripts take no parameters
// unless their doc comment says so, and then only the last statement does.
package sqlfiles

import _ "embed" // for go:embed

// Schema creates every warehouse table; it is idempotent and run at every open.
//
//go:embed schema.sql
var Schema string

// Stage creates (or empties) the session's TEMP staging tables stage_* that
// a commit appends its batch to.
//
//go:embed stage.sql
var Stage string

// MergeConversations works out which staged conversations (id and
// last_updated_time of one version per id) a commit writes: it leaves their
// ids in TEMP table touched (existed = replaces a stored row; a row replaces
// the stored one only when strictly newer) and returns one row: inserted,
// updated, unchanged.
//
//go:embed merge_conversations.sql
var MergeConversations string

// DeleteReplaced deletes the stored conversations that touched replaces,
// with all their answers and bookings. It scans the three tables, so the
// loader runs it only when touched replaces something.
//
//go:embed delete_replaced.sql
var DeleteReplaced string

// AppendConversations is the query of the DuckDB sink's appender of
// conversation rows (TEMP table appended, raw as VARCHAR): it inserts them
// with stage_run's lineage.
//
//go:embed append_conversations.sql
var AppendConversations string

// TouchedIDs returns the ids of the conversations in touched, whose child
// sets the loader then appends.
//
//go:embed touched_ids.sql
var TouchedIDs string

// MergeDimension upserts the staged rows of one dimension table by id; a
// deleted (redacted) row marks the stored row deleted and keeps its
// attributes. Template: %[1]s is the table (contacts, users, bots, websites
// or audiences), its staging table stage_%[1]s.
//
//go:embed merge_dimensions.sql
var MergeDimension string

// UnchangedDimension drops from a dimension table's staging table the rows
// that would not change the stored ones, before they are merged, and keeps
// those stored rows in stored_<table>. Template: %[1]s is the table, %[2]s
// its stored rows, %[3]s a column of them to leave out of the comparison
// ("EXCLUDE (name)" or "").
//
//go:embed unchanged_dimension.sql
var UnchangedDimension string

// ReplaceDimension deletes the stored rows of the staged ids of a dimension
// table; with InsertDimension after it, what MergeDimension does when no
// staged row is deleted. Template as MergeDimension.
//
//go:embed replace_dimension.sql
var ReplaceDimension string

// InsertDimension inserts the staged rows of a dimension table. Template as
// MergeDimension.
//
//go:embed insert_dimension.sql
var InsertDimension string

// AppendRejects copies stage_rejects into _convsync_rejects.
//
//go:embed append_rejects.sql
var AppendRejects string

// Unstage drops the staging tables.
//
//go:embed unstage.sql
var Unstage string

// SaveState replaces the one row of _convsync_state. Parameters: $1 state
// JSON, $2 time of the commit.
//
//go:embed save_state.sql
var SaveState string

// LoadState returns the stored state JSON (as text), no row if none.
//
//go:embed load_state.sql
var LoadState string

// RecordRun upserts a row of _convsync_runs by run_id. Parameters, in the
// order of the table's columns: $1 run_id … $17 error.
//
//go:embed record_run.sql
var RecordRun string

// AbandonRuns marks 'abandoned' the ledger rows still 'running' but run
// $1's, with error $2 where they have none.
//
//go:embed abandon_runs.sql
var AbandonRuns string

// BenchCeiling is the benchmark's ceiling: it loads the conversations of the
// NDJSON file named by variable ceiling_ndjson (SET VARIABLE) into
// conversations, conversation_answers and conversation_bookings with
// DuckDB's own JSON reader, into TEMP table ceiling_src first; the caller
// holds the transaction and drops ceiling_src.
//
//go:embed bench_ceiling.sql
var BenchCeiling string

// BenchCeilingDimensions fills the five dimension tables from ceiling_src
// after BenchCeiling, in its transaction: the ceiling that fills every
// table a sync fills.
//
//go:embed bench_ceiling_dimensions.sql
var BenchCeilingDimensions string

// ParquetSession tunes the Parquet sink's in-memory DuckDB for writing
// files: rows need not keep their batch order, so COPY writes in parallel.
//
//go:embed parquet_session.sql
var ParquetSession string

// ParquetStageChildren creates the Parquet sink's staging tables of child
// rows, pq_stage_answers and pq_stage_bookings, in the scratch catalog.
// Template: %[1]s is the scratch catalog's name.
//
//go:embed parquet_stage_children.sql
var ParquetStageChildren string

// ParquetIncoming leaves in TEMP table incoming the newest staged version of
// each conversation id, with its row and partition value. Template: %s is
// the partition expression of creation_time.
//
//go:embed parquet_incoming.sql
var ParquetIncoming string

// ParquetDecided leaves in TEMP table decided each incoming conversation,
// whether a stored version exists and whether it is written (new or strictly
// newer). Template: %s is the stored rows.
//
//go:embed parquet_decided.sql
var ParquetDecided string

// ParquetDecidedParts returns, per partition of decided: inserted, updated,
// unchanged.
//
//go:embed parquet_decided_parts.sql
var ParquetDecidedParts string

// ParquetWrittenIDs is a subquery of the ids of the conversations written.
//
//go:embed parquet_written_ids.sql
var ParquetWrittenIDs string

// ParquetNewConversations is a parenthesized relation of the conversations
// to write, with their partition value and lineage.
//
//go:embed parquet_new_conversations.sql
var ParquetNewConversations string

// ParquetNewChildren is a parenthesized relation of the child rows of the
// conversations written, with their partition value and lineage. Template:
// %[1]s is the child staging table.
//
//go:embed parquet_new_children.sql
var ParquetNewChildren string

// ParquetNewDimension leaves in TEMP table new_<table> the rows to write for
// a dimension. Template: %[1]s is the table, %[2]s the stored rows, %[3]s the
// partition expression of creation_time.
//
//go:embed parquet_new_dimension.sql
var ParquetNewDimension string

// ParquetLocate returns the partitions holding a stored version of a staged
// dimension id. Template: %[1]s is the table, %[2]s its stored rows (over
// its files, or stored_<table>), %[3]s their partition column (or NULL),
// %[4]s the quoted folder value of a NULL partition value.
//
//go:embed parquet_locate.sql
var ParquetLocate string

// ParquetNewRejects leaves in TEMP table new__convsync_rejects the staged
// rejects not already stored, with their lineage (a template: %s is the
// stored rejects).
//
//go:embed parquet_new_rejects.sql
var ParquetNewRejects string

// ParquetNewRun creates an empty TEMP _convsync_runs for RecordRun to upsert
// into. Template: %[1]s is the scratch catalog's name.
//
//go:embed parquet_new_run.sql
var ParquetNewRun string

// ParquetDropScratch drops a Parquet commit's scratch tables. Template:
// %[1]s is the scratch catalog's name.
//
//go:embed parquet_drop_scratch.sql
var ParquetDropScratch string

// ParquetCopy writes a query's rows to one Parquet file. Template: %[1]s is
// the query, %[2]s the quoted path, %[3]s the compression, %[4]d the
// row-group size.
//
//go:embed parquet_copy.sql
var ParquetCopy string

// ParquetCopyPartitioned writes a query's rows into Hive partition folders
// under staged names and returns each file's path and row count. Template:
// %[1]s is the query, %[2]s the quoted folder, %[3]s the partition column,
// %[4]s the quoted file name pattern, %[5]s the compression, %[6]d the
// row-group size.
//
//go:embed parquet_copy_partitioned.sql
var ParquetCopyPartitioned string

// StatusRuns is the last ten runs of the ledger, newest first, for `convsync status`.
//
//go:embed status_runs.sql
var StatusRuns string

// RunStatus is the ledger status of run $1 (no row if it has none), for
// `convsync status`.
//
//go:embed run_status.sql
var RunStatus string

// StatusCounts is the row count of every table, for `convsync status`.
//
//go:embed status_counts.sql
var StatusCounts string

// LastSuccess is the end of the last run that moved the watermark (one row, NULL if none), for the last-success metric.
//
//go:embed last_success.sql
var LastSuccess string

// DemoStatus is conversations by status, for `convsync demo`.
//
//go:embed demo_status.sql
var DemoStatus string

// DemoAnswers is the most answered questions, for `convsync demo`.
//
//go:embed demo_answers.sql
var DemoAnswers string

// DemoRuns is the run ledger, oldest first, for `convsync demo`.
//
//go:embed demo_runs.sql
var DemoRuns string
