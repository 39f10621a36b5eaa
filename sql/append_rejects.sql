-- Keeps the batch's rejects, stamped with the run and the commit time.
INSERT INTO _convsync_rejects BY NAME
SELECT s.*, r.run_id, r.synced_at AS rejected_at
FROM stage_rejects s, stage_run r;
