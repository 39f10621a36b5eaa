package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/convsync/convsync/transform"
)

// sqlStageChildren creates the Parquet sink's TEMP staging tables of child
// rows; stage (duckdb_stage.go) stages everything else.
const sqlStageChildren = `CREATE OR REPLACE TEMP TABLE pq_stage_answers AS
    SELECT * EXCLUDE (synced_at, run_id) FROM conversation_answers LIMIT 0;
CREATE OR REPLACE TEMP TABLE pq_stage_bookings AS
    SELECT * EXCLUDE (synced_at, run_id) FROM conversation_bookings LIMIT 0`

// stageParquet stages batch b on conn: what the DuckDB sink stages, plus
// the child rows, which a Parquet commit must copy into files.
func stageParquet(ctx context.Context, conn *sql.Conn, b *transform.Batch, runID string, now time.Time) error {
	if err := stage(ctx, conn, b, runID, now); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, sqlStageChildren); err != nil {
		return fmt.Errorf("create child staging tables: %w", err)
	}
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T", dc)
		}
		if err := appendAll(ctx, c, "pq_stage_answers", 6, b.Answers, answerValues); err != nil {
			return err
		}
		return appendAll(ctx, c, "pq_stage_bookings", 3, b.Bookings, bookingValues)
	})
	if err != nil {
		return fmt.Errorf("stage child rows: %w", err)
	}
	return nil
}

// appendAll appends rows to the TEMP table of n columns; fill sets a row's
// values in column order.
func appendAll[T any](ctx context.Context, c driver.Conn, table string, n int, rows []T, fill func(T, []driver.Value)) (err error) {
	if len(rows) == 0 {
		return nil
	}
	a, err := duckdb.NewAppender(c, "temp", "main", table)
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	defer func() {
		if cerr := a.CloseWithCancel(ctx); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", table, cerr)
		}
	}()
	v := make([]driver.Value, n)
	for i, r := range rows {
		if i%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		clear(v)
		fill(r, v)
		if err := a.AppendRow(v...); err != nil {
			return fmt.Errorf("%s row %d: %w", table, i, err)
		}
	}
	return nil
}
