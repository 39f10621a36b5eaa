-- Upserts the staged dimension rows by id, one block per table. A full row
-- replaces the stored row. A deleted row (the API's redacted form, id only)
-- sets deleted = true on the stored row and keeps its attributes, or is
-- inserted as an id-only deleted row if the id is new. If the batch holds an
-- id twice, the later row wins.

CREATE OR REPLACE TEMP TABLE merge_dim AS
WITH s AS (
    SELECT * FROM stage_contacts
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
)
SELECT * FROM s WHERE NOT deleted
UNION ALL BY NAME
SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
FROM s JOIN contacts d ON d.id = s.id
WHERE s.deleted
UNION ALL BY NAME
SELECT s.* FROM s ANTI JOIN contacts d ON d.id = s.id
WHERE s.deleted;
DELETE FROM contacts WHERE id IN (SELECT id FROM merge_dim);
INSERT INTO contacts BY NAME
SELECT m.*, r.synced_at, r.run_id FROM merge_dim m, stage_run r;

CREATE OR REPLACE TEMP TABLE merge_dim AS
WITH s AS (
    SELECT * FROM stage_users
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
)
SELECT * FROM s WHERE NOT deleted
UNION ALL BY NAME
SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
FROM s JOIN users d ON d.id = s.id
WHERE s.deleted
UNION ALL BY NAME
SELECT s.* FROM s ANTI JOIN users d ON d.id = s.id
WHERE s.deleted;
DELETE FROM users WHERE id IN (SELECT id FROM merge_dim);
INSERT INTO users BY NAME
SELECT m.*, r.synced_at, r.run_id FROM merge_dim m, stage_run r;

CREATE OR REPLACE TEMP TABLE merge_dim AS
WITH s AS (
    SELECT * FROM stage_bots
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
)
SELECT * FROM s WHERE NOT deleted
UNION ALL BY NAME
SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
FROM s JOIN bots d ON d.id = s.id
WHERE s.deleted
UNION ALL BY NAME
SELECT s.* FROM s ANTI JOIN bots d ON d.id = s.id
WHERE s.deleted;
DELETE FROM bots WHERE id IN (SELECT id FROM merge_dim);
INSERT INTO bots BY NAME
SELECT m.*, r.synced_at, r.run_id FROM merge_dim m, stage_run r;

CREATE OR REPLACE TEMP TABLE merge_dim AS
WITH s AS (
    SELECT * FROM stage_websites
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
)
SELECT * FROM s WHERE NOT deleted
UNION ALL BY NAME
SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
FROM s JOIN websites d ON d.id = s.id
WHERE s.deleted
UNION ALL BY NAME
SELECT s.* FROM s ANTI JOIN websites d ON d.id = s.id
WHERE s.deleted;
DELETE FROM websites WHERE id IN (SELECT id FROM merge_dim);
INSERT INTO websites BY NAME
SELECT m.*, r.synced_at, r.run_id FROM merge_dim m, stage_run r;

CREATE OR REPLACE TEMP TABLE merge_dim AS
WITH s AS (
    SELECT * FROM stage_audiences
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
)
SELECT * FROM s WHERE NOT deleted
UNION ALL BY NAME
SELECT d.* EXCLUDE (synced_at, run_id) REPLACE (true AS deleted)
FROM s JOIN audiences d ON d.id = s.id
WHERE s.deleted
UNION ALL BY NAME
SELECT s.* FROM s ANTI JOIN audiences d ON d.id = s.id
WHERE s.deleted;
DELETE FROM audiences WHERE id IN (SELECT id FROM merge_dim);
INSERT INTO audiences BY NAME
SELECT m.*, r.synced_at, r.run_id FROM merge_dim m, stage_run r;

DROP TABLE merge_dim;
