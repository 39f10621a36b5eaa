-- A TEMP table shadowing the scratch catalog's _convsync_runs, for
-- sql/record_run.sql to upsert the run into.
-- template: %%[1]s is the scratch catalog's name (load's work constant).
-- It is formatted with fmt.Sprintf, comments included: a percent sign in
-- this file is written %%.
CREATE OR REPLACE TEMP TABLE _convsync_runs AS
SELECT * FROM %[1]s.main._convsync_runs LIMIT 0
