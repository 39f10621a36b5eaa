-- The batch's rejects to write, with stage_run's lineage (the rules of
-- sql/append_rejects.sql: a record already kept is not kept again).
-- template: %%s is the stored rejects, a relation over the table's files
-- made by package load. It is formatted with fmt.Sprintf, comments
-- included: a percent sign in this file is written %%.
CREATE OR REPLACE TEMP TABLE new__convsync_rejects AS
SELECT DISTINCT ON (s.raw, s.reason) s.*, r.run_id, r.synced_at AS rejected_at
FROM stage_rejects s, stage_run r
WHERE NOT EXISTS (SELECT 1 FROM %s k WHERE k.raw = s.raw AND k.reason = s.reason)
