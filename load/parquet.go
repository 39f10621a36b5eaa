package load

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/duckdb/duckdb-go/v2"

	sqlfiles "github.com/convsync/convsync/sql"
	"github.com/convsync/convsync/transform"
)

// ParquetOptions tunes the Parquet warehouse. The zero value is ready to use.
type ParquetOptions struct {
	// Partition is how conversations and their child tables are split into
	// folders by the conversation's creation time (UTC): "month" (default,
	// creation_month=YYYY-MM), "day" (creation_day=YYYY-MM-DD) or "none".
	// An existing dataset keeps the partitioning it was created with; asking
	// for another is an error.
	Partition string
	// Compression of the data files: "zstd" (default), "snappy", "gzip",
	// "lz4", "brotli" or "uncompressed".
	Compression string
	// RowGroupSize is the number of rows per row group; 0 means 122880
	// (DuckDB's default).
	RowGroupSize int
	// Owner is written into the lock file to tell a refused second writer
	// who holds the dataset, e.g. "convsync sync".
	Owner string
	// MemoryLimit is the writer's DuckDB memory_limit; "" means
	// DefaultMemoryLimit. Past it a partition rewrite spills into
	// DIR/_convsync/tmp.
	MemoryLimit string
}

// mergeAt is the number of files a partition may hold: a commit that only
// adds rows to a partition writes them as one more file, and one that leaves
// a partition with more merges some of its files into one (compact). A
// commit that updates rows of a partition rewrites it whole, into one file.
const mergeAt = 8

// Parquet is a warehouse kept as a Hive-partitioned Parquet dataset in a
// folder: DIR/<table>/[creation_month=YYYY-MM/]part-*.parquet, with
// DIR/_convsync/manifest.json listing the current files and the cursor state
// (see manifest), and DIR/_convsync/lock held while it is open for writing
// (OpenParquetReader takes none). The
// conversation tables are partitioned by the conversation's creation time,
// contacts by the contact's (see (*Parquet).partitioned). Commits are
// copy-on-write: a batch reads and rewrites only the partitions it touches.
// It is safe for concurrent use; commits are serialized.
type Parquet struct {
	dir  string // absolute
	opts ParquetOptions
	lock *Lock
	db   *sql.DB   // in-memory DuckDB: views for readers, the commit's scratch catalog
	conn *sql.Conn // the commit connection, whose default catalog is work
	cols map[string][]string
	// writerProps are the Parquet properties of the files written from Go
	// (parquet_direct.go).
	writerProps *parquet.WriterProperties

	readOnly bool // opened by OpenParquetReader: no lock, no commits

	mu     sync.Mutex
	m      *manifest // the published manifest, every file under its final name
	broken error     // set when a publish stopped past its commit point
	last   publishStats
	dims   *dimCache // the dimension rows published, not staged again
	// fresh holds the ids published to tables without files at open: a
	// batch of new ids only skips reading the stored files.
	fresh  *freshKeys
	merges int // reads of a table's stored rows to merge a batch's with them
	now    func() time.Time
	// hook, when set by a test, is called at each step of a publish ("data",
	// "manifest-temp", "manifest", "moved"); an error stops the publish
	// there as a crash would, leaving the files as they are.
	hook func(step string) error
}

// publishStats is what the last publish wrote, for the benchmark.
type publishStats struct {
	filesWritten, filesRemoved int
	bytesWritten               int64
}

var _ interface {
	State(ctx context.Context) (State, error)
	Commit(ctx context.Context, b *transform.Batch, st State, run Run) (Counts, error)
	Record(ctx context.Context, run Run) error
} = (*Parquet)(nil)

// work is the scratch catalog of a commit: empty tables of sql/schema.sql
// that type the staging tables and stand in for a table without files.
const work = "_convsync_work"

// parquetTables are the dataset's tables; see (*Parquet).partitioned.
var parquetTables = []string{
	"conversations", "conversation_answers", "conversation_bookings",
	"contacts", "users", "bots", "websites", "audiences",
	"_convsync_rejects", "_convsync_runs",
}

// OpenParquet opens the dataset in folder dir, creating it if needed. It
// takes the dataset's lock (a *LockedError if another writer holds it), then
// recovers from any interrupted commit so the folder equals its manifest. A
// folder with published data files but no manifest is refused, unchanged
// (see dataWithoutManifest).
func OpenParquet(ctx context.Context, dir string, opts ParquetOptions) (*Parquet, error) {
	p, err := openParquet(ctx, dir, opts)
	if err != nil {
		return nil, withMemoryHint(fmt.Errorf("open parquet warehouse %s: %w", dir, err), cmp.Or(opts.MemoryLimit, DefaultMemoryLimit))
	}
	return p, nil
}

// memoryLimit is the writer's DuckDB memory_limit.
func (p *Parquet) memoryLimit() string { return cmp.Or(p.opts.MemoryLimit, DefaultMemoryLimit) }

func openParquet(ctx context.Context, dir string, opts ParquetOptions) (_ *Parquet, err error) {
	if err := validateParquet(&opts); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, "_convsync"), 0o755); err != nil {
		return nil, err
	}
	lock, err := AcquireLock(filepath.Join(abs, "_convsync", "lock"), opts.Owner)
	if err != nil {
		return nil, err
	}
	p := &Parquet{dir: abs, opts: opts, lock: lock, now: time.Now, dims: newDimCache()}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.Close())
		}
	}()
	if p.m, err = recoverDataset(abs, parquetTables); err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	var empty []string
	for _, t := range keyedTables {
		if len(p.m.Tables[t]) == 0 {
			empty = append(empty, t)
		}
	}
	p.fresh = newFreshKeys(empty)
	if err := p.adoptPartition(); err != nil {
		return nil, err
	}
	return p, p.openDB(ctx)
}

// openDB creates the in-memory DuckDB: the scratch catalog, the commit
// connection and the views over p.m.
func (p *Parquet) openDB(ctx context.Context) (err error) {
	dsn := ""
	if !p.readOnly {
		// A writer's memory is bounded as the DuckDB sink's is: rewriting
		// partitions spills past it, into the dataset's control folder. And
		// it keeps no copy of the files it reads: it reads each once, to
		// rewrite or merge it, and DuckDB's cache of them filled memory up
		// to the limit (a 1M first sync with low_memory peaked at 507-512
		// MiB with it, 274-282 MiB without, at the same speed).
		dsn = "?" + url.Values{"memory_limit": {p.memoryLimit()},
			"temp_directory":             {filepath.Join(p.dir, "_convsync", "tmp")},
			"enable_external_file_cache": {"false"}}.Encode()
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return err
	}
	p.db = sql.OpenDB(connector)
	if p.conn, err = p.db.Conn(ctx); err != nil {
		return err
	}
	setup := "LOAD json; " + sqlfiles.ParquetSession + "; ATTACH ':memory:' AS " + work + "; USE " + work + ";\n" + sqlfiles.Schema
	if _, err := p.conn.ExecContext(ctx, setup); err != nil {
		return fmt.Errorf("create scratch schema: %w", err)
	}
	if p.cols, err = columns(ctx, p.conn, quote(work)); err != nil {
		return err
	}
	if err := checkColumns(p.cols); err != nil {
		return err
	}
	p.writerProps = newWriterProps(p.opts.Compression)
	return p.refreshViews(ctx)
}

func validateParquet(o *ParquetOptions) error {
	var errs []error
	if o.Partition != "" && !slices.Contains([]string{"month", "day", "none"}, o.Partition) {
		errs = append(errs, fmt.Errorf("partition must be month, day or none, got %q", o.Partition))
	}
	if o.Compression == "" {
		o.Compression = "zstd"
	}
	if !slices.Contains([]string{"zstd", "snappy", "gzip", "lz4", "brotli", "uncompressed"}, o.Compression) {
		errs = append(errs, fmt.Errorf("compression must be zstd, snappy, gzip, lz4, brotli or uncompressed, got %q", o.Compression))
	}
	if o.RowGroupSize < 0 {
		errs = append(errs, fmt.Errorf("row group size must be >= 0, got %d", o.RowGroupSize))
	}
	if o.RowGroupSize == 0 {
		o.RowGroupSize = 122880
	}
	if o.Owner == "" {
		o.Owner = "convsync"
	}
	return errors.Join(errs...)
}

// adoptPartition settles the partitioning: the dataset's if it has files,
// else the option's.
func (p *Parquet) adoptPartition() error {
	want := p.opts.Partition
	has := p.m.Partition
	empty := true
	for _, fs := range p.m.Tables {
		empty = empty && len(fs) == 0
	}
	switch {
	case has != "" && !empty && want != "" && want != has:
		return fmt.Errorf("dataset is partitioned by %s, not %s", has, want)
	case has != "" && !empty:
		p.opts.Partition = has
	case want == "":
		p.opts.Partition = "month"
	}
	p.m.Partition = p.opts.Partition
	return nil
}

// columns lists every table's columns in schema order.
func columns(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, catalog string) (map[string][]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_catalog = `+catalog+` AND table_schema = 'main' ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	defer rows.Close()
	cols := map[string][]string{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		cols[t] = append(cols[t], c)
	}
	return cols, rows.Err()
}

// DB is an in-memory DuckDB holding one view per table over the dataset's
// current files (refreshed by every commit) and _convsync_state, for read
// queries (the sql and status commands, tests). A query running while a
// commit publishes may fail on a file the commit removed; run it again.
func (p *Parquet) DB() *sql.DB { return p.db }

// State returns the state saved by the last successful Commit, or the zero
// State if there has been none.
func (p *Parquet) State(ctx context.Context) (State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.State, nil
}

// Close releases the lock (a reader's has none) and the in-memory DuckDB;
// data committed before is durable.
func (p *Parquet) Close() error {
	var errs []error
	if p.conn != nil {
		errs = append(errs, p.conn.Close())
		p.conn = nil
	}
	if p.db != nil {
		errs = append(errs, p.db.Close())
	}
	errs = append(errs, p.lock.Release())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close parquet warehouse %s: %w", p.dir, err)
	}
	return nil
}

// refreshViews points the views of DB at the current manifest.
func (p *Parquet) refreshViews(ctx context.Context) error {
	var b strings.Builder
	for _, t := range parquetTables {
		fmt.Fprintf(&b, "CREATE OR REPLACE VIEW main.%s AS SELECT * FROM %s;\n", t, p.source(t, p.m.Tables[t]))
	}
	st, err := MarshalState(p.m.State)
	if err != nil {
		return err
	}
	fmt.Fprintf(&b, "CREATE OR REPLACE VIEW main._convsync_state AS SELECT 1 AS id, %s::JSON AS state, %s::TIMESTAMPTZ AS updated_at;\n",
		quote(string(st)), quote(p.m.CommittedAt.UTC().Format(time.RFC3339Nano)))
	if beforeViews != nil {
		beforeViews()
	}
	if _, err := p.db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("refresh views: %w", err)
	}
	return nil
}

// beforeViews, when a test sets it, is called by refreshViews once the
// files are resolved and before the views open them: where a publish's
// renames can overtake a reader.
var beforeViews func()

// source is a relation of table's rows in files: read_parquet over them, or
// the empty scratch table when there are none.
func (p *Parquet) source(table string, files []dataFile) string {
	if len(files) == 0 {
		return work + ".main." + table
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = quote(resolve(p.dir, f.Path))
	}
	return "read_parquet([" + strings.Join(paths, ", ") + "], hive_partitioning = false)"
}

// quote is s as an SQL string literal. It is the one place text reaches SQL
// other than through parameters: file paths and partition values this
// package made, which COPY and read_parquet take only as literals.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
