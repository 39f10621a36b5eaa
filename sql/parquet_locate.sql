-- The partitions holding a stored version of a staged dimension id: a scan
-- of the id column only.
-- template: %%[1]s is the table, %%[2]s its stored rows (a relation over
-- its files, or TEMP table stored_%%[1]s; made by package load), with their
-- Hive partition column %%[3]s (or NULL),
-- %%[4]s the quoted folder value of a NULL partition value
-- ('__HIVE_DEFAULT_PARTITION__'). It is formatted with fmt.Sprintf, comments
-- included: a percent sign in this file is written %%.
SELECT DISTINCT coalesce(%[3]s, %[4]s) FROM %[2]s
WHERE id IN (SELECT id FROM stage_%[1]s)
