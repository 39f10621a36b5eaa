-- The batch's rejects to write, with stage_run's lineage (the rules of
-- sql/append_rejects.sql).
CREATE OR REPLACE TEMP TABLE new__convsync_rejects AS
SELECT s.*, r.run_id, r.synced_at AS rejected_at FROM stage_rejects s, stage_run r
