-- The sync cursor as JSON text; no row before the first commit.
SELECT state::VARCHAR FROM _convsync_state WHERE id = 1;
