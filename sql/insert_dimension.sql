-- Inserts the staged rows of dimension table %[1]s when none of their ids is
-- stored (the rules of sql/merge_dimensions.sql then reduce to this): the
-- later row of an id wins, a deleted row becomes an id-only deleted row.
INSERT INTO %[1]s BY NAME
SELECT s.*, r.synced_at, r.run_id
FROM (
    SELECT * FROM stage_%[1]s
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid DESC) = 1
) s, stage_run r;
