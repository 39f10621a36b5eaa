-- Drops a Parquet commit's scratch tables (the loader runs sql/unstage.sql
-- with it), so their memory is freed.
-- template: %%[1]s is the scratch catalog's name (load's work constant).
-- It is formatted with fmt.Sprintf, comments included: a percent sign in
-- this file is written %%.
DROP TABLE IF EXISTS incoming; DROP TABLE IF EXISTS decided;
DROP TABLE IF EXISTS new_contacts;
DROP TABLE IF EXISTS new_users; DROP TABLE IF EXISTS new_bots; DROP TABLE IF EXISTS new_websites;
DROP TABLE IF EXISTS new_audiences; DROP TABLE IF EXISTS new__convsync_rejects;
DROP TABLE IF EXISTS temp.main._convsync_runs;
DROP TABLE IF EXISTS %[1]s.main.pq_stage_answers; DROP TABLE IF EXISTS %[1]s.main.pq_stage_bookings
