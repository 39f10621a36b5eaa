-- The run ledger, oldest first (convsync demo).
SELECT run_id, mode, status, inserted, updated, unchanged, child_rows, api_calls, rate_limited
FROM _convsync_runs
ORDER BY started_at;
