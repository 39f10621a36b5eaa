package load

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	sqlfiles "github.com/convsync/convsync/sql"
)

// hiveNull is the folder value of a NULL partition value (a contact without
// a creation time): what DuckDB writes, and what DuckDB, Hive, Spark, Trino
// and Athena read back as NULL.
const hiveNull = "__HIVE_DEFAULT_PARTITION__"

// partExpr is the SQL partition value of a creation_time, in UTC whatever
// the session's time zone; NULL when creation_time is.
func partExpr(partition string) string {
	switch partition {
	case "day":
		return "strftime(make_timestamp(epoch_us(creation_time)), '%Y-%m-%d')"
	case "none":
		return "''"
	}
	return "strftime(make_timestamp(epoch_us(creation_time)), '%Y-%m')"
}

// partKey is the Hive partition column, named by its folders.
func partKey(partition string) string {
	if partition == "day" {
		return "creation_day"
	}
	return "creation_month"
}

// partitioned reports whether table is split into partition folders: the
// conversation tables by the conversation's creation time, contacts by the
// contact's own (see (*writer).dimension), unless the dataset is
// partitioned "none". The other tables are small and kept whole.
func (p *Parquet) partitioned(table string) bool {
	switch table {
	case "conversations", "conversation_answers", "conversation_bookings", "contacts":
		return p.opts.Partition != "none"
	}
	return false
}

// writer builds one commit: it writes new files under staged names and
// lists them, and drops the files they replace, in next.
type writer struct {
	p       *Parquet
	conn    *sql.Conn
	next    *manifest
	token   string
	n       int
	staged  []string        // absolute staged paths written, removed if the commit fails
	copied  []string        // folders a partitioned COPY wrote into, swept if the commit fails
	removed []string        // relative paths next no longer lists
	dirs    map[string]bool // folders holding new files or folders, to fsync
	stats   publishStats
	unseen  map[string]bool // tables none of whose staged ids can be stored (freshKeys)
}

func (p *Parquet) newWriter() *writer {
	next := p.m.clone()
	next.Seq++
	b := make([]byte, 3)
	rand.Read(b)
	return &writer{p: p, conn: p.conn, next: next, token: hex.EncodeToString(b), dirs: map[string]bool{}}
}

// cols is table's column list in schema order, for SELECT.
func (w *writer) cols(table string) string { return strings.Join(w.p.cols[table], ", ") }

func (w *writer) exec(ctx context.Context, what, q string, args ...any) error {
	if _, err := w.conn.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (w *writer) count(ctx context.Context, q string) (int64, error) {
	var n int64
	if err := w.conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// strings returns the first column of query q's rows.
func (w *writer) strings(ctx context.Context, q string) ([]string, error) {
	rows, err := w.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// stored is the relation of table's stored rows in partitions parts, with
// the partition column of a partitioned table.
func (w *writer) stored(table string, parts []string) string {
	var files []dataFile
	for _, part := range parts {
		files = append(files, w.next.files(table, part)...)
	}
	return w.storedIn(table, files)
}

// storedIn is the relation of table's rows in files, with the partition
// column of a partitioned table.
func (w *writer) storedIn(table string, files []dataFile) string {
	if !w.p.partitioned(table) {
		return w.p.source(table, files)
	}
	key := partKey(w.p.opts.Partition)
	if len(files) == 0 {
		return fmt.Sprintf("(SELECT *, NULL::VARCHAR AS %s FROM %s)", key, w.p.source(table, nil))
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = quote(resolve(w.p.dir, f.Path))
	}
	return fmt.Sprintf("read_parquet([%s], hive_partitioning = true, hive_types = {'%s': VARCHAR})", strings.Join(paths, ", "), key)
}

// upsert writes table's new rows: relation fresh, which has the table's
// columns and _part, the partition value. The partitions in rewrite are
// replaced whole: their stored rows are kept unless their key column is
// among the ids of query replaced, and written with the new rows into new
// files; the new rows of any other partition go to one more file of it. It
// returns the number of rows written, kept ones included.
func (w *writer) upsert(ctx context.Context, table, fresh, key, replaced string, rewrite []string) (int64, error) {
	cols := w.cols(table)
	if !w.p.partitioned(table) {
		q := fmt.Sprintf("SELECT %s FROM %s", cols, fresh)
		if len(rewrite) > 0 {
			q = fmt.Sprintf("SELECT %s FROM %s WHERE %s NOT IN (%s)\nUNION ALL\n", cols, w.stored(table, []string{""}), key, replaced) + q
		}
		return w.emit(ctx, table, q, len(rewrite) > 0)
	}
	pk := partKey(w.p.opts.Partition)
	parts, err := w.strings(ctx, fmt.Sprintf("SELECT DISTINCT coalesce(_part, %s) FROM %s", quote(hiveNull), fresh))
	if err != nil {
		return 0, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	for _, part := range rewrite {
		if !slices.Contains(parts, part) {
			parts = append(parts, part)
		}
	}
	slices.Sort(parts)
	// One COPY per group of partitions: DuckDB buffers rows for every
	// partition a COPY writes, and with day partitions a first sync's
	// commit of contacts wrote to 212 of them and ran out of memory. The
	// queries read the stored files of the partitions they rewrite, so
	// they are all made before those files leave next.
	var queries []string
	for group := range slices.Chunk(parts, maxPartitionsPerCopy) {
		in := make([]string, len(group))
		var stored []string
		for i, part := range group {
			in[i] = quote(part)
			if slices.Contains(rewrite, part) {
				stored = append(stored, part)
			}
		}
		q := fmt.Sprintf("SELECT %s, _part AS %s FROM %s WHERE coalesce(_part, %s) IN (%s)",
			cols, pk, fresh, quote(hiveNull), strings.Join(in, ", "))
		if len(stored) > 0 {
			q += fmt.Sprintf("\nUNION ALL\nSELECT %s, %s FROM %s WHERE %s NOT IN (%s)", cols, pk, w.stored(table, stored), key, replaced)
		}
		queries = append(queries, q)
	}
	for _, part := range rewrite {
		w.drop(table, part)
	}
	var n int64
	for _, q := range queries {
		written, err := w.emitPartitioned(ctx, table, q)
		if err != nil {
			return 0, err
		}
		n += written
	}
	return n, nil
}

// maxPartitionsPerCopy bounds the partitions one COPY writes (see upsert).
const maxPartitionsPerCopy = 32

// emitPartitioned writes the rows of query q, whose last column is the
// partition value, with one COPY into the partition folders of table: one
// file (or more, for a large partition) per partition, staged, fsynced and
// listed in next. It returns the number of rows written.
func (w *writer) emitPartitioned(ctx context.Context, table, q string) (int64, error) {
	w.n++
	top := filepath.Join(w.p.dir, table)
	if err := w.mkdir(top); err != nil {
		return 0, err
	}
	w.copied = append(w.copied, top)
	pattern := fmt.Sprintf("%s%08d-%03d-{i}-%s", stagedPrefix, w.next.Seq, w.n, w.token)
	rows, err := w.conn.QueryContext(ctx, fmt.Sprintf(sqlfiles.ParquetCopyPartitioned, q, quote(top), partKey(w.p.opts.Partition),
		quote(pattern), w.p.opts.Compression, w.p.opts.RowGroupSize))
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", table, err)
	}
	type written struct {
		abs  string
		rows int64
	}
	var files []written
	for rows.Next() {
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return 0, err
		}
		v := make([]any, len(cols))
		var f written
		v[0], v[1] = &f.abs, &f.rows
		for i := 2; i < len(v); i++ {
			v[i] = new(any)
		}
		if err := rows.Scan(v...); err != nil {
			rows.Close()
			return 0, fmt.Errorf("write %s: %w", table, err)
		}
		files = append(files, f)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("write %s: %w", table, err)
	}
	var n int64
	for _, f := range files {
		if err := w.add(table, f.abs, f.rows); err != nil {
			return 0, err
		}
		n += f.rows
	}
	// In path order, the manifest lists partitions by time.
	slices.SortFunc(w.next.Tables[table], func(a, b dataFile) int { return strings.Compare(a.Path, b.Path) })
	return n, nil
}

// add lists the staged file abs of table, with n rows, in next, after
// fsyncing it; its partition is its folder's value.
func (w *writer) add(table, abs string, n int64) error {
	w.staged = append(w.staged, abs)
	rel, err := filepath.Rel(w.p.dir, abs)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	if err := syncFile(abs); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	part := ""
	if w.p.partitioned(table) {
		_, part, _ = strings.Cut(path.Base(path.Dir(rel)), "=")
		// A new partition folder is fsynced into the table's folder.
		w.dirs[filepath.Dir(filepath.Dir(abs))] = true
	}
	w.next.Tables[table] = append(w.next.Tables[table], dataFile{Path: rel, Partition: part, Rows: n, Bytes: fi.Size()})
	w.dirs[filepath.Dir(abs)] = true
	w.stats.filesWritten++
	w.stats.bytesWritten += fi.Size()
	return nil
}

// emit writes the rows of query q as a new file of the unpartitioned table,
// under its staged name, fsynced. With replace, the table's current files
// leave next. A query without rows writes no file. It returns the number of
// rows written.
func (w *writer) emit(ctx context.Context, table, q string, replace bool) (int64, error) {
	w.n++
	name := fmt.Sprintf("%s%08d-%03d-%s.parquet", filePrefix, w.next.Seq, w.n, w.token)
	rel := stagedName(path.Join(table, name))
	abs := filepath.Join(w.p.dir, filepath.FromSlash(rel))
	if err := w.mkdir(filepath.Dir(abs)); err != nil {
		return 0, err
	}
	w.staged = append(w.staged, abs)
	res, err := w.conn.ExecContext(ctx, fmt.Sprintf(sqlfiles.ParquetCopy, q, quote(abs), w.p.opts.Compression, w.p.opts.RowGroupSize))
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", rel, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", rel, err)
	}
	if replace {
		w.drop(table, "")
	}
	if n == 0 {
		return 0, os.Remove(abs)
	}
	return n, w.add(table, abs, n)
}

// drop removes the current files of table's partition part from next.
func (w *writer) drop(table, part string) {
	w.dropIf(table, func(f dataFile) bool { return f.Partition == part })
}

// dropIf removes the files of table that gone reports from next.
func (w *writer) dropIf(table string, gone func(dataFile) bool) {
	w.next.Tables[table] = slices.DeleteFunc(w.next.Tables[table], func(f dataFile) bool {
		if gone(f) {
			w.removed = append(w.removed, f.Path)
			return true
		}
		return false
	})
}

// mkdir creates folder dir and the missing folders above it; each one
// created is fsynced into its parent before any file in it is published.
func (w *writer) mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := w.mkdir(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	w.dirs[filepath.Dir(dir)] = true
	return nil
}

// abandon removes every file the commit wrote, including those a failed
// partitioned COPY left that were never listed: staged names carrying the
// commit's token.
func (w *writer) abandon() error {
	var errs []error
	for _, f := range w.staged {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, top := range w.copied {
		err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if n := d.Name(); strings.HasPrefix(n, stagedPrefix) && strings.Contains(n, w.token) {
				return os.Remove(p)
			}
			return nil
		})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
