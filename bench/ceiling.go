package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/convsync/convsync/load"
	sqlfiles "github.com/convsync/convsync/sql"
)

const ceilingName = "ceiling: DuckDB read_ndjson"

// ceilingMemory is the ceiling's DuckDB memory_limit: enough not to spill.
const ceilingMemory = "8GB"

// ceiling loads the captured conversations with DuckDB's own read_ndjson
// into a new warehouse of the same schema and settings as the sink's
// (conversations, conversation_answers, conversation_bookings; no
// dimensions, no merge, no state): the speed a loader cannot beat. It runs
// with ceilingMemory, not the sink's limit: with 256MB DuckDB spills the
// parsed JSON to disk and the "ceiling" is 2-3x slower than DuckDB can go.
func (b *bencher) ceiling(ctx context.Context) error {
	return b.phase(ceilingName, func(p *Phase) error {
		d, err := load.OpenDuckDB(ctx, filepath.Join(b.dir, "ceiling.duckdb"), load.DuckDBOptions{MemoryLimit: ceilingMemory})
		if err != nil {
			return err
		}
		err = loadCeiling(ctx, d, filepath.Join(b.dir, "conversations.ndjson"), p)
		return errors.Join(err, d.Close())
	})
}

func loadCeiling(ctx context.Context, d *load.DuckDB, ndjson string, p *Phase) error {
	conn, err := d.DB().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET VARIABLE ceiling_ndjson = ?", ndjson); err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	if _, err := conn.ExecContext(ctx, sqlfiles.BenchCeiling); err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	err = conn.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM conversations),
		(SELECT count(*) FROM conversations) + (SELECT count(*) FROM conversation_answers) + (SELECT count(*) FROM conversation_bookings)`).
		Scan(&p.Conversations, &p.Rows)
	if err != nil {
		return fmt.Errorf("ceiling: count rows: %w", err)
	}
	p.Full = true
	return nil
}
