-- Works out which staged conversations to write. A staged row is written
-- only if its id is new or its last_updated_time is strictly newer than the
-- stored one; an equal or older version leaves the stored row unchanged. If
-- the batch holds an id twice, the newest last_updated_time wins (the later
-- row on a tie). The rows to write stay in TEMP table touched (existed =
-- replaces a stored row) for ReplaceConversations and the child-table
-- scripts. Returns one row: inserted, updated, unchanged.
CREATE OR REPLACE TEMP TABLE touched AS
WITH incoming AS (
    SELECT * FROM stage_conversations
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY last_updated_time DESC, rowid DESC) = 1
)
SELECT i.*, s.id IS NOT NULL AS existed
FROM incoming i
LEFT JOIN conversations s ON s.id = i.id
WHERE s.id IS NULL OR i.last_updated_time > s.last_updated_time;

SELECT
    count(*) FILTER (WHERE NOT existed) AS inserted,
    count(*) FILTER (WHERE existed) AS updated,
    (SELECT count(DISTINCT id) FROM stage_conversations) - count(*) AS unchanged
FROM touched;
