-- The end of the last run that moved the watermark (the last-success metric).
SELECT max(ended_at)
FROM _convsync_runs
WHERE status = 'succeeded' AND mode <> 'backfill';
