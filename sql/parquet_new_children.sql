-- The whole child set of each conversation written, as a relation for the
-- COPY that writes it (not materialized: the child rows are the largest part
-- of a batch), with the partition value and stage_run's lineage. A batch
-- holds a child key once (transform.Batch), so no de-duplication. A
-- parenthesized relation: the loader splices it after FROM, so it ends
-- without a semicolon.
-- template: %%[1]s is the child staging table (a qualified name made by
-- package load). It is formatted with fmt.Sprintf, comments included: a
-- percent sign in this file is written %%.
(SELECT c.*, d._part, r.synced_at, r.run_id
FROM %[1]s c JOIN decided d ON d.id = c.conversation_id AND d.write, stage_run r)
