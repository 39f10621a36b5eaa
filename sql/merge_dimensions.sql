-- Upserts the staged rows of dimension table %[1]s (contacts, users, bots,
-- websites or audiences) by id. A full row replaces the stored row. A
-- deleted row (the API's redacted form, id only) sets deleted = true on the
-- stored row and keeps its attributes, or is inserted as an id-only deleted
-- row if the id is new. If the batch holds an id twice, the later row wins.
-- The delete scans the whole table: the loader runs this only when the batch
-- holds a stored id (sql/dimension_stored.sql), else sql/insert_dimension.sql.
CREATE OR REPLACE TEMP TABLE merge_dim AS
WITH s AS (
    SELECT * FROM stage_%[1]s
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
)
SELECT * FROM s WHERE NOT deleted
UNION ALL BY NAME
SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
FROM s JOIN %[1]s d ON d.id = s.id
WHERE s.deleted
UNION ALL BY NAME
SELECT s.* FROM s ANTI JOIN %[1]s d ON d.id = s.id
WHERE s.deleted;
DELETE FROM %[1]s WHERE id IN (SELECT id FROM merge_dim);
INSERT INTO %[1]s BY NAME
SELECT m.*, r.synced_at, r.run_id FROM merge_dim m, stage_run r;
DROP TABLE merge_dim;
