-- Drops the staging tables of a commit so their memory is freed.
DROP TABLE IF EXISTS touched;
DROP TABLE IF EXISTS stage_run;
DROP TABLE IF EXISTS stage_conversations;
DROP TABLE IF EXISTS stage_contacts;
DROP TABLE IF EXISTS stage_users;
DROP TABLE IF EXISTS stage_bots;
DROP TABLE IF EXISTS stage_websites;
DROP TABLE IF EXISTS stage_audiences;
DROP TABLE IF EXISTS stage_rejects;
DROP TABLE IF EXISTS stored_contacts;
DROP TABLE IF EXISTS stored_users;
DROP TABLE IF EXISTS stored_bots;
DROP TABLE IF EXISTS stored_websites;
DROP TABLE IF EXISTS stored_audiences;
