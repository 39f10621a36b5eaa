package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	sqlfiles "github.com/convsync/convsync/sql"
	"github.com/convsync/convsync/transform"
)

// stageParquet stages batch b: what the DuckDB sink stages, on conn, and at
// the same time, on side, the child rows, which a Parquet commit must copy
// into files. The appender is single-threaded and the child rows are half
// of a batch's values, so the two halves take a core each.
func stageParquet(ctx context.Context, conn, side *sql.Conn, b *transform.Batch, runID string, now time.Time) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return stage(gctx, conn, b, runID, now) })
	g.Go(func() error { return stageChildren(gctx, side, b) })
	return g.Wait()
}

func stageChildren(ctx context.Context, conn *sql.Conn, b *transform.Batch) error {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(sqlfiles.ParquetStageChildren, work)); err != nil {
		return fmt.Errorf("create child staging tables: %w", err)
	}
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T", dc)
		}
		if err := appendAll(ctx, c, "pq_stage_answers", b.Answers, answerFields); err != nil {
			return err
		}
		return appendAll(ctx, c, "pq_stage_bookings", b.Bookings, bookingFields)
	})
	if err != nil {
		return fmt.Errorf("stage child rows: %w", err)
	}
	return nil
}

// appendAll appends every row to the table of columns cols in the scratch
// catalog.
func appendAll[T any](ctx context.Context, c driver.Conn, table string, rows []T, cols []column[T]) error {
	_, err := appendSome(ctx, c, work, table, len(cols), rows, func(r *T, v []driver.Value) bool { appenderValues(cols, r, v); return true })
	return err
}
