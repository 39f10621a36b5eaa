-- Staging tables for one commit, in the session's TEMP catalog. They hold the
-- batch as transform produced it, without the lineage columns (synced_at,
-- run_id), which come from the single row of stage_run. Child rows are not
-- staged: the loader appends those of touched conversations straight to
-- their tables. The JSON text columns are staged as VARCHAR even in a
-- warehouse created before they were VARCHAR (typed JSON): the driver would
-- encode a Go string appended to a JSON column as a JSON string.
CREATE OR REPLACE TEMP TABLE stage_run (run_id VARCHAR, synced_at TIMESTAMPTZ);
CREATE OR REPLACE TEMP TABLE stage_conversations AS
    SELECT * EXCLUDE (synced_at, run_id) REPLACE (raw::VARCHAR AS raw) FROM conversations LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_contacts AS
    SELECT * EXCLUDE (synced_at, run_id) REPLACE (custom_fields::VARCHAR AS custom_fields)
    FROM contacts LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_users AS
    SELECT * EXCLUDE (synced_at, run_id) REPLACE (teams::VARCHAR AS teams) FROM users LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_bots AS
    SELECT * EXCLUDE (synced_at, run_id) FROM bots LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_websites AS
    SELECT * EXCLUDE (synced_at, run_id) FROM websites LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_audiences AS
    SELECT * EXCLUDE (synced_at, run_id) FROM audiences LIMIT 0;
CREATE OR REPLACE TEMP TABLE stage_rejects AS
    SELECT conversation_id, reason, raw FROM _convsync_rejects LIMIT 0;
