-- Replaces the sync cursor. $1: load.State as JSON text; $2: commit time.
DELETE FROM _convsync_state;
INSERT INTO _convsync_state (id, state, updated_at) VALUES (1, $1, $2);
