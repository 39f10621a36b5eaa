-- The status of run $1 in the ledger (convsync status): no row if it has none.
SELECT status FROM _convsync_runs WHERE run_id = $1;
