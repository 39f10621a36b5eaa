-- Upserts one run-ledger row by run_id. Parameters in column order:
-- $1 run_id, $2 mode, $3 started_at, $4 ended_at, $5 status, $6 window_lo,
-- $7 window_hi, $8 pages, $9 api_calls, $10 retries, $11 rate_limited,
-- $12 inserted, $13 updated, $14 unchanged, $15 child_rows, $16 rejected,
-- $17 error.
MERGE INTO _convsync_runs AS t
USING (
    SELECT
        $1::VARCHAR AS run_id, $2::VARCHAR AS mode, $3::TIMESTAMPTZ AS started_at,
        $4::TIMESTAMPTZ AS ended_at, $5::VARCHAR AS status,
        $6::TIMESTAMPTZ AS window_lo, $7::TIMESTAMPTZ AS window_hi,
        $8::BIGINT AS pages, $9::BIGINT AS api_calls, $10::BIGINT AS retries,
        $11::BIGINT AS rate_limited, $12::BIGINT AS inserted, $13::BIGINT AS updated,
        $14::BIGINT AS unchanged, $15::BIGINT AS child_rows, $16::BIGINT AS rejected,
        $17::VARCHAR AS error
) AS s
ON t.run_id = s.run_id
WHEN MATCHED THEN UPDATE SET
    mode = s.mode, started_at = s.started_at, ended_at = s.ended_at, status = s.status,
    window_lo = s.window_lo, window_hi = s.window_hi, pages = s.pages,
    api_calls = s.api_calls, retries = s.retries, rate_limited = s.rate_limited,
    inserted = s.inserted, updated = s.updated, unchanged = s.unchanged,
    child_rows = s.child_rows, rejected = s.rejected, error = s.error
WHEN NOT MATCHED THEN INSERT BY NAME;
