-- Creates the Parquet sink's staging tables of child rows, in the scratch
-- catalog so that another connection than the commit's can fill them;
-- sql/stage.sql stages everything else, in the commit connection's TEMP
-- catalog.
-- template: %%[1]s is the scratch catalog's name (load's work constant).
-- It is formatted with fmt.Sprintf, comments included: a percent sign in
-- this file is written %%.
CREATE OR REPLACE TABLE %[1]s.main.pq_stage_answers AS
    SELECT * EXCLUDE (synced_at, run_id) FROM %[1]s.main.conversation_answers LIMIT 0;
CREATE OR REPLACE TABLE %[1]s.main.pq_stage_bookings AS
    SELECT * EXCLUDE (synced_at, run_id) FROM %[1]s.main.conversation_bookings LIMIT 0
