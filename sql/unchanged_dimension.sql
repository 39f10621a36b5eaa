-- Keeps in TEMP table stored_%[1]s the stored rows of the ids staged for
-- dimension table %[1]s (without the lineage; with a Parquet table's
-- partition column, so the loader finds their partitions in it), and drops
-- from stage_%[1]s the rows that would not change them: a full row equal to
-- the stored one in every column but the lineage (synced_at, run_id), or a
-- deleted row whose stored row is already marked deleted. Rewriting such a row would
-- only move the lineage, and costs: in DuckDB every replaced row leaves a
-- hole in the table's row groups, and once a run's holes add up to a row
-- group the checkpoint rewrites the row groups around them; in Parquet a
-- replaced row rewrites its partition. A scheduled run starts without the
-- loader's cache of committed rows (load/dimcache.go), and most contacts of
-- a delta are unchanged. Returns one row: the rows left staged, and how many
-- of them replace a stored row.
-- template: %[1]s is the table, %[2]s its stored rows (the table, or a
-- relation over Parquet files holding every staged id), %[3]s a column of
-- %[2]s that is not the table's to leave out of the comparison ("EXCLUDE
-- (name)", or nothing); made by package load.
CREATE OR REPLACE TEMP TABLE stored_%[1]s AS
SELECT * EXCLUDE (synced_at, run_id) FROM %[2]s
WHERE id IN (SELECT id FROM stage_%[1]s);

DELETE FROM stage_%[1]s WHERE id IN (
    SELECT id FROM (SELECT * FROM stage_%[1]s INTERSECT SELECT * %[3]s FROM stored_%[1]s)
    UNION ALL
    SELECT id FROM stored_%[1]s
    WHERE deleted AND id IN (SELECT id FROM stage_%[1]s WHERE deleted)
);

SELECT
    (SELECT count(*) FROM stage_%[1]s) AS staged,
    (SELECT count(*) FROM stored_%[1]s WHERE id IN (SELECT id FROM stage_%[1]s)) AS replacing;
