-- Marks the ledger rows of runs that ended without recording an outcome
-- (the process was killed, the machine lost): every row still 'running'
-- but run $1's own is one, since only the holder of the warehouse lock
-- writes the ledger. $2 is the error recorded for them.
UPDATE _convsync_runs
SET status = 'abandoned', error = coalesce(error, $2)
WHERE status = 'running' AND run_id <> $1;
