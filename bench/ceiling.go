package bench

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convsync/convsync/load"
	sqlfiles "github.com/convsync/convsync/sql"
)

const (
	ceilingName      = "ceiling: DuckDB read_ndjson"
	allCeilingName   = "ceiling: read_ndjson, every table"
	batchCeilingName = "ceiling: read_ndjson, commit a batch"
)

// ceilingMemory is the ceiling's DuckDB memory_limit: enough not to spill.
const ceilingMemory = "8GB"

// ceiling loads the captured conversations with DuckDB's own read_ndjson
// into a new warehouse of the same schema and settings as the sink's
// (conversations, conversation_answers, conversation_bookings; no
// dimensions, no merge, no state), in one transaction: the speed a loader
// cannot beat, as issue 5 measures it. It runs with ceilingMemory, not the
// sink's limit: with 256MB DuckDB spills the parsed JSON to disk and the
// "ceiling" is 2-3x slower than DuckDB can go.
func (b *bencher) ceiling(ctx context.Context) error {
	return b.oneTransaction(ctx, ceilingName, "ceiling.duckdb", false)
}

// allCeiling loads them the same way into every table a sync fills: the
// three, and the five dimension tables from the expanded objects. Its
// tables hold what the syncs' do (TestRun compares them), so it is DuckDB's
// own speed at the syncs' whole job.
func (b *bencher) allCeiling(ctx context.Context) error {
	return b.oneTransaction(ctx, allCeilingName, "ceiling-all.duckdb", true)
}

func (b *bencher) oneTransaction(ctx context.Context, name, file string, dimensions bool) error {
	return b.phase(name, func(p *Phase) error {
		d, err := load.OpenDuckDB(ctx, filepath.Join(b.dir, file), load.DuckDBOptions{MemoryLimit: ceilingMemory})
		if err != nil {
			return err
		}
		err = loadCeiling(ctx, d, []string{filepath.Join(b.dir, "conversations.ndjson")}, dimensions, p)
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
		err = loadCeiling(ctx, d, files, false, p)
		return errors.Join(err, d.Close())
	})
}

// loadCeiling loads each NDJSON file of files in a transaction of its own
// (sql/bench_ceiling.sql, then sql/bench_ceiling_dimensions.sql if
// dimensions) and counts what the tables hold.
func loadCeiling(ctx context.Context, d *load.DuckDB, files []string, dimensions bool, p *Phase) error {
	conn, err := d.DB().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	scripts := []string{sqlfiles.BenchCeiling}
	if dimensions {
		scripts = append(scripts, sqlfiles.BenchCeilingDimensions)
	}
	for _, f := range files {
		if err := loadFile(ctx, conn, f, scripts); err != nil {
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

// loadFile runs scripts on the NDJSON file f in one transaction.
func loadFile(ctx context.Context, conn *sql.Conn, f string, scripts []string) (err error) {
	if _, err := conn.ExecContext(ctx, "SET VARIABLE ceiling_ndjson = ?", f); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			err = errors.Join(err, rerr)
		}
	}()
	for _, script := range scripts {
		if _, err := conn.ExecContext(ctx, script); err != nil {
			return err
		}
	}
	_, err = conn.ExecContext(ctx, "DROP TABLE ceiling_src; COMMIT")
	return err
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
