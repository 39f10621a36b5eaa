-- Works out which staged conversations to write. The loader stages only the
-- id and last_updated_time of the newest version of each conversation in
-- its batch (the later row on a tie); it appends the full rows of those
-- this script selects. A staged row is written only if its id is new or its
-- last_updated_time is strictly newer than the stored one; an equal or
-- older version leaves the stored row unchanged. The ids to write stay in
-- TEMP table touched (existed = replaces a stored row, whose rowid is
-- stored) for the delete of replaced rows and the loader. Returns one row:
-- inserted, updated, unchanged.
CREATE OR REPLACE TEMP TABLE touched AS
SELECT i.id, s.id IS NOT NULL AS existed, s.rowid AS stored
FROM (SELECT id, last_updated_time FROM stage_conversations) i
LEFT JOIN conversations s ON s.id = i.id
WHERE s.id IS NULL OR i.last_updated_time > s.last_updated_time;

SELECT
    count(*) FILTER (WHERE NOT existed) AS inserted,
    count(*) FILTER (WHERE existed) AS updated,
    (SELECT count(*) FROM stage_conversations) - count(*) AS unchanged
FROM touched;
