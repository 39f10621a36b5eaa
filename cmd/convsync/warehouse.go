package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/convsync/convsync/load"
	"github.com/convsync/convsync/pipeline"
	sqlfiles "github.com/convsync/convsync/sql"
)

// warehouse is an open sink that can also be queried.
type warehouse interface {
	pipeline.Sink
	DB() *sql.DB
	Close() error
}

// reader is an open warehouse for the read-only commands.
type reader interface {
	State(ctx context.Context) (load.State, error)
	DB() *sql.DB
	Close() error
}

// openWarehouse is openWriter for an unnamed convsync command.
func openWarehouse(ctx context.Context, cfg Config) (warehouse, error) {
	return openWriter(ctx, cfg, "convsync")
}

// openWriter opens the configured warehouse for writing and holds its lock
// until Close: a Parquet dataset's DIR/_convsync/lock, a DuckDB file's
// PATH.lock. With low_memory it first applies the process's low-memory
// settings (applyLowMemory). A second writer gets a *load.LockedError naming owner, host,
// pid and since when.
func openWriter(ctx context.Context, cfg Config, owner string) (warehouse, error) {
	if err := applyLowMemory(cfg, os.Getenv); err != nil {
		return nil, fmt.Errorf("low_memory: %w", err)
	}
	path := cfg.Warehouse.Path
	if cfg.Warehouse.Format == "parquet" {
		return load.OpenParquet(ctx, path, load.ParquetOptions{
			Partition:   cfg.Warehouse.Parquet.Partition,
			Compression: cfg.Warehouse.Parquet.Compression,
			MemoryLimit: cfg.Warehouse.MemoryLimit,
			Owner:       owner,
		})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	lock, err := load.AcquireLock(path+".lock", owner)
	if err != nil {
		return nil, err
	}
	db, err := load.OpenDuckDB(ctx, path, load.DuckDBOptions{MemoryLimit: cfg.Warehouse.MemoryLimit})
	if err != nil {
		return nil, errors.Join(duckdbLocked(path, err), lock.Release())
	}
	return &lockedDuckDB{DuckDB: db, lock: lock}, nil
}

// writablePath says why a warehouse of format could not be created or
// written at path, checked without writing anything: an existing path must
// be a file (duckdb) or a folder (parquet), and the nearest existing
// ancestor of the folder its files go in (a DuckDB file's folder, which
// also gets its .lock and WAL; the dataset's folder) a folder convsync may
// write in.
func writablePath(format, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && format == "parquet" && !fi.IsDir():
		return fmt.Errorf("%s is not a folder (a parquet warehouse is one)", path)
	case err == nil && format != "parquet" && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a file (a duckdb warehouse is one)", path)
	}
	dir := path
	if format != "parquet" {
		dir = filepath.Dir(path)
	}
	for {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("cannot create %s: %s is not a folder", path, dir)
		case err == nil:
			if err := writableDir(dir, fi.Mode()); err != nil {
				return fmt.Errorf("cannot create %s: %w", path, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return err
		case filepath.Dir(dir) == dir:
			return err
		}
		dir = filepath.Dir(dir)
	}
}

// accessWrite is access(2)'s W_OK, which package syscall does not name.
const accessWrite = 0x2

// writableDir says why convsync could not create files in dir, if so.
// access(2) answers for the process's user, but root passes it anywhere, so
// a folder nobody may write (mode 0555, like /proc and /sys, where nothing
// can be created) is refused too.
func writableDir(dir string, mode fs.FileMode) error {
	if err := syscall.Access(dir, accessWrite); err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, err)
	}
	if mode.Perm()&0o222 == 0 {
		return fmt.Errorf("cannot write in %s: it is read-only (mode %#o)", dir, mode.Perm())
	}
	return nil
}

// lockedDuckDB is a DuckDB warehouse holding its lock file.
type lockedDuckDB struct {
	*load.DuckDB
	lock *load.Lock
}

// Close closes the warehouse, then releases the lock; it may be called twice.
func (d *lockedDuckDB) Close() error {
	err := d.DuckDB.Close()
	return errors.Join(err, d.lock.Release())
}

// configuredReader loads the configuration named by the --config flag (no
// API key needed) and opens its warehouse with openReader.
func configuredReader(ctx context.Context, e env, cfgFlag string) (reader, Config, error) {
	cfg, err := loadConfig(configPath(e, cfgFlag), e.getenv, forQuery)
	if err != nil {
		return nil, cfg, err
	}
	r, err := openReader(ctx, cfg)
	return r, cfg, err
}

// openReader opens the configured warehouse for the read-only commands (sql,
// status). A DuckDB file is opened read-only without convsync's lock: any
// number of readers may share it, but DuckDB refuses them while a sync
// writes (and a sync while they read): that is a *load.LockedError too. A
// Parquet dataset is opened with load.OpenParquetReader, also without the
// lock and also during a sync: the command sees the version published when
// it opened, and a query that fails on a file a later publish removed can be
// rerun.
func openReader(ctx context.Context, cfg Config) (reader, error) {
	if cfg.Warehouse.Format == "parquet" {
		return load.OpenParquetReader(ctx, cfg.Warehouse.Path)
	}
	path := cfg.Warehouse.Path
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w (run convsync sync first)", path, err)
	}
	connector, err := duckdb.NewConnector(path+"?access_mode=read_only", nil)
	if err != nil {
		return nil, duckdbLocked(path, fmt.Errorf("open warehouse %s: %w", path, err))
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(duckdbLocked(path, fmt.Errorf("open warehouse %s: %w", path, err)), db.Close())
	}
	return readOnlyDuckDB{db}, nil
}

// readOnlyDuckDB is a DuckDB warehouse opened read-only.
type readOnlyDuckDB struct{ db *sql.DB }

func (r readOnlyDuckDB) DB() *sql.DB  { return r.db }
func (r readOnlyDuckDB) Close() error { return r.db.Close() }

func (r readOnlyDuckDB) State(ctx context.Context) (load.State, error) {
	var raw string
	err := r.db.QueryRowContext(ctx, sqlfiles.LoadState).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return load.State{}, nil
	}
	if err != nil {
		return load.State{}, fmt.Errorf("read sync state: %w", err)
	}
	return load.UnmarshalState([]byte(raw))
}

// duckdbHolder finds the holder in DuckDB's lock conflict message.
var duckdbHolder = regexp.MustCompile(`Conflicting lock is held in (.*?\(PID \d+\))`)

// duckdbLocked turns DuckDB's refusal to open a file another process holds
// into a *load.LockedError naming that process; other errors pass as they are.
func duckdbLocked(path string, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "Could not set lock on file") {
		return err
	}
	owner := "another DuckDB client"
	if m := duckdbHolder.FindStringSubmatch(msg); m != nil {
		owner = m[1]
	}
	return &load.LockedError{Path: path, Owner: owner}
}

// lastSuccess reads the end of the last successful sync from the ledger;
// zero if there is none or the ledger cannot be read.
func lastSuccess(ctx context.Context, db *sql.DB) time.Time {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var t sql.NullTime
	if err := db.QueryRowContext(ctx, sqlfiles.LastSuccess).Scan(&t); err != nil {
		return time.Time{}
	}
	return t.Time
}
