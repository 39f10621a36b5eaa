-- Inserts the conversations in touched, stamped with the lineage of
-- stage_run.
INSERT INTO conversations BY NAME
SELECT t.* EXCLUDE (existed), r.synced_at, r.run_id
FROM touched t, stage_run r;
