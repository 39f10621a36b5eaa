-- Inserts the conversations the loader appends (TEMP table appended, the
-- columns of conversations up to raw, raw as VARCHAR) with stage_run's
-- lineage. The cast keeps the JSON text as the API sent it and checks it;
-- the appender would encode a Go string as a JSON string.
INSERT INTO conversations BY NAME
SELECT a.* REPLACE (a.raw::JSON AS raw), r.synced_at, r.run_id
FROM appended a, stage_run r;
