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

// MergeConversations works out which staged conversations a commit writes:
// it leaves them in TEMP table touched (existed = replaces a stored row;
// a row replaces the stored one only when strictly newer) and returns one
// row: inserted, updated, unchanged.
//
//go:embed merge_conversations.sql
var MergeConversations string

// DeleteReplaced deletes the stored conversations that touched replaces,
// with all their answers and bookings. It scans the three tables, so the
// loader runs it only when touched replaces something.
//
//go:embed delete_replaced.sql
var DeleteReplaced string

// InsertTouched inserts the conversations in touched with stage_run's
// lineage.
//
//go:embed insert_touched.sql
var InsertTouched string

// TouchedIDs returns the ids of the conversations in touched, whose child
// sets the loader then appends.
//
//go:embed touched_ids.sql
var TouchedIDs string

// MergeDimensions upserts the staged contacts, users, bots, websites and
// audiences by id; a deleted (redacted) row marks the stored row deleted and
// keeps its attributes.
//
//go:embed merge_dimensions.sql
var MergeDimensions string

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

// BenchCeiling is the benchmark's ceiling: it loads the conversations of the
// NDJSON file named by variable ceiling_ndjson (SET VARIABLE) into
// conversations, conversation_answers and conversation_bookings with
// DuckDB's own JSON reader, in one transaction.
//
//go:embed bench_ceiling.sql
var BenchCeiling string
