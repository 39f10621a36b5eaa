-- Keeps the batch's rejects, stamped with the run and the commit time, but
-- a record already kept (the same raw JSON rejected for the same reason):
-- one a later run reads again (the lookback, a full refresh) stays once,
-- with the run that first rejected it. The ledger's `rejected` still counts
-- every bad record a run read.
INSERT INTO _convsync_rejects BY NAME
SELECT DISTINCT ON (s.raw, s.reason) s.*, r.run_id, r.synced_at AS rejected_at
FROM stage_rejects s, stage_run r
WHERE NOT EXISTS (SELECT 1 FROM _convsync_rejects k WHERE k.raw = s.raw AND k.reason = s.reason);
