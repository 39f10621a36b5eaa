-- The rows to write for a dimension: staged rows, a deleted one keeping the
-- stored attributes (the rules of sql/merge_dimensions.sql), with stage_run's
-- lineage and the partition value.
-- template: %%[1]s is the table, %%[2]s the stored rows of the staged ids
-- (or more), a relation over Parquet files, %%[3]s the partition expression
-- of creation_time; all made by package load. It is formatted with
-- fmt.Sprintf, comments included: a percent sign in this file is written %%.
CREATE OR REPLACE TEMP TABLE new_%[1]s AS
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
) m, stage_run r
