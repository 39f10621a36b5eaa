-- Inserts the staged rows of dimension table %[1]s with stage_run's
-- lineage: after sql/replace_dimension.sql, or on its own when none of the
-- staged ids can be stored (load.freshKeys: a table the loader found empty,
-- holding none of them since).
INSERT INTO %[1]s BY NAME
SELECT s.*, r.synced_at, r.run_id FROM stage_%[1]s s, stage_run r;
