-- Inserts the conversations the loader appends (TEMP table appended, the
-- columns of conversations up to raw) with stage_run's lineage. raw is the
-- JSON text as the API sent it (appended as VARCHAR: the appender would
-- encode a Go string for a JSON column as a JSON string).
INSERT INTO conversations BY NAME
SELECT a.*, r.synced_at, r.run_id
FROM appended a, stage_run r;
