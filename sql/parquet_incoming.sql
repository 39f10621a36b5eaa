-- A Parquet commit's batch of conversations, the newest version of each id
-- (its row in stage_conversations, _row), with its partition value: narrow,
-- so the window sorts ids and times, not raw JSON. It runs on the commit
-- connection, after the staging tables are filled as for the DuckDB sink.
-- template: %%s is the partition expression of creation_time, made by
-- package load. It is formatted with fmt.Sprintf, comments included: a
-- percent sign in this file is written %%.
CREATE OR REPLACE TEMP TABLE incoming AS
SELECT rowid AS _row, id, last_updated_time, %s AS _part FROM stage_conversations
QUALIFY row_number() OVER (PARTITION BY id ORDER BY last_updated_time DESC, rowid DESC) = 1
