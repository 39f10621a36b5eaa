-- Each incoming conversation against the stored version in its partition:
-- written if new or strictly newer.
-- template: %%s is the stored rows, a relation over the Parquet files of
-- the batch's partitions made by package load. It is formatted with
-- fmt.Sprintf, comments included: a percent sign in this file is written %%.
CREATE OR REPLACE TEMP TABLE decided AS
SELECT i._row, i.id, i._part, s.id IS NOT NULL AS existed,
       (s.id IS NULL OR i.last_updated_time > s.last_updated_time) AS write
FROM incoming i LEFT JOIN (SELECT id, last_updated_time FROM %s) s ON s.id = i.id
