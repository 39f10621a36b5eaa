-- The conversations to write, as a relation for the COPY that writes them
-- (not materialized), with their partition value and stage_run's lineage.
-- A parenthesized relation: the loader splices it after FROM, so it ends
-- without a semicolon.
(SELECT c.*, d._part, r.synced_at, r.run_id
FROM stage_conversations c JOIN decided d ON d._row = c.rowid AND d.write, stage_run r)
