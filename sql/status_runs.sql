-- The last ten runs of the ledger, newest first (convsync status).
SELECT run_id, mode, status, started_at, ended_at, inserted, updated, unchanged,
    child_rows, rejected, api_calls, retries, rate_limited, error
FROM _convsync_runs
ORDER BY started_at DESC
LIMIT 10;
