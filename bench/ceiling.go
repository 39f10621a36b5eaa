package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convsync/convsync/load"
	sqlfiles "github.com/convsync/convsync/sql"
)

const (
	ceilingName      = "ceiling: DuckDB read_ndjson"
	batchCeilingName = "ceiling: read_ndjson, commit a batch"
)

// ceilingMemory is the ceiling's DuckDB memory_limit: enough not to spill.
const ceilingMemory = "8GB"

// ceiling loads the captured conversations with DuckDB's own read_ndjson
// into a new warehouse of the same schema and settings as the sink's
// (conversations, conversation_answers, conversation_bookings; no
// dimensions, no merge, no state), in one transaction: the speed a loader
// cannot beat. It runs with ceilingMemory, not the sink's limit: with 256MB
// DuckDB spills the parsed JSON to disk and the "ceiling" is 2-3x slower
// than DuckDB can go.
func (b *bencher) ceiling(ctx context.Context) error {
	return b.phase(ceilingName, func(p *Phase) error {
		d, err := load.OpenDuckDB(ctx, filepath.Join(b.dir, "ceiling.duckdb"), load.DuckDBOptions{MemoryLimit: ceilingMemory})
		if err != nil {
			return err
		}
		err = loadCeiling(ctx, d, []string{filepath.Join(b.dir, "conversations.ndjson")}, p)
		return errors.Join(err, d.Close())
	})
}

// batchCeiling loads the same conversations the same way, with the same
// memory, but commits every batch of the syncs' size: DuckDB's own load
// with the durability a sync gives, so the report can tell what committing
// each batch costs DuckDB itself from what the loader costs.
func (b *bencher) batchCeiling(ctx context.Context) error {
	dir := filepath.Join(b.dir, "batches")
	files, err := splitLines(filepath.Join(b.dir, "conversations.ndjson"), dir, b.cfg.BatchSize)
	if err != nil {
		return fmt.Errorf("split ndjson: %w", err)
	}
	defer os.RemoveAll(dir)
	return b.phase(batchCeilingName, func(p *Phase) error {
		d, err := load.OpenDuckDB(ctx, filepath.Join(b.dir, "ceiling-batches.duckdb"), load.DuckDBOptions{MemoryLimit: ceilingMemory})
		if err != nil {
			return err
		}
		err = loadCeiling(ctx, d, files, p)
		return errors.Join(err, d.Close())
	})
}

// loadCeiling loads each NDJSON file of files in a transaction of its own
// (sql/bench_ceiling.sql) and counts what the tables hold.
func loadCeiling(ctx context.Context, d *load.DuckDB, files []string, p *Phase) error {
	conn, err := d.DB().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, f := range files {
		if _, err := conn.ExecContext(ctx, "SET VARIABLE ceiling_ndjson = ?", f); err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
		if _, err := conn.ExecContext(ctx, sqlfiles.BenchCeiling); err != nil {
			return fmt.Errorf("ceiling: %s: %w", f, err)
		}
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

// splitLines copies the lines of the file at path, n to a file, into new
// files in dir, and returns their paths in order.
func splitLines(path, dir string, n int) (files []string, err error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out *os.File
	var w *bufio.Writer
	closeOut := func() error {
		if out == nil {
			return nil
		}
		err := errors.Join(w.Flush(), out.Close())
		out = nil
		return err
	}
	defer func() { err = errors.Join(err, closeOut()) }()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for lines := 0; sc.Scan(); lines++ {
		if lines%n == 0 {
			if err := closeOut(); err != nil {
				return files, err
			}
			name := filepath.Join(dir, fmt.Sprintf("batch-%06d.ndjson", len(files)))
			if out, err = os.Create(name); err != nil {
				return files, err
			}
			w = bufio.NewWriterSize(out, 1<<20)
			files = append(files, name)
		}
		w.Write(sc.Bytes()) // a write error sticks: WriteByte returns it
		if err := w.WriteByte('\n'); err != nil {
			return files, err
		}
	}
	return files, sc.Err()
}
