-- Upserts the staged rows of dimension table %[1]s (contacts, users, bots,
-- websites or audiences) by id. A full row replaces the stored row. A
-- deleted row (the API's redacted form, id only) sets deleted = true on the
-- stored row and keeps its attributes, or is inserted as an id-only deleted
-- row if the id is new. Staging holds one row per id, the batch's last;
-- stored_%[1]s the stored rows of the ids staged before the unchanged ones
-- were dropped (sql/unchanged_dimension.sql). The delete and the update each
-- read the id column of the whole table, no other; a batch without deleted
-- rows needs only sql/replace_dimension.sql.
DELETE FROM %[1]s WHERE id IN (SELECT id FROM stage_%[1]s WHERE NOT deleted);

UPDATE %[1]s SET deleted = true, synced_at = r.synced_at, run_id = r.run_id
FROM stage_run r
WHERE %[1]s.id IN (SELECT id FROM stage_%[1]s WHERE deleted);

INSERT INTO %[1]s BY NAME
SELECT s.*, r.synced_at, r.run_id
FROM stage_%[1]s s, stage_run r
WHERE NOT s.deleted OR s.id NOT IN (SELECT id FROM stored_%[1]s);
