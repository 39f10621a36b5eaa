package load

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"golang.org/x/sync/errgroup"

	"github.com/convsync/convsync/transform"
)

// A batch whose rows are all new to a table (freshKeys) is written straight
// from Go into the table's files, one new file per partition, with Arrow
// Go's Parquet writer: staging such rows in DuckDB with the appender only to
// copy them into files took more time than writing the files (see README
// "Parquet performance"). Rows that merge with stored ones take DuckDB's
// path (parquet_tables.go).
// The files are those DuckDB writes: the same columns, types and
// partition folders (TestParquet_DirectFilesMatchDuckDB).

// partRows are the indexes of the rows of one partition.
type partRows struct {
	part string
	idx  []int
}

// groupRows groups the rows at indexes idx (nil: all n) by partition, in
// order of partition value; a row whose part is not known is left out.
func groupRows(n int, idx []int, part func(i int) (string, bool)) []partRows {
	at := map[string]int{}
	var groups []partRows
	last := -1 // the group of the row before: rows come in runs of a partition
	add := func(i int) {
		p, ok := part(i)
		if !ok {
			return
		}
		if last < 0 || groups[last].part != p {
			g, ok := at[p]
			if !ok {
				g = len(groups)
				at[p] = g
				groups = append(groups, partRows{part: p})
			}
			last = g
		}
		groups[last].idx = append(groups[last].idx, i)
	}
	if idx == nil {
		for i := range n {
			add(i)
		}
	} else {
		for _, i := range idx {
			add(i)
		}
	}
	slices.SortFunc(groups, func(a, b partRows) int { return strings.Compare(a.part, b.part) })
	return groups
}

// partitions names partitions by creation time, as partExpr does in SQL,
// formatting each day or month once.
type partitions struct {
	by    string // the dataset's partitioning
	names map[int]string
}

func newPartitions(by string) *partitions { return &partitions{by: by, names: map[int]string{}} }

// of is the partition of a conversation or contact created at t: hiveNull
// for NULL, "" when the dataset is not partitioned.
func (p *partitions) of(t *time.Time) string {
	switch {
	case p.by == "none":
		return ""
	case t == nil:
		return hiveNull
	}
	y, m, d := t.UTC().Date()
	if p.by != "day" {
		d = 0
	}
	k := (y*100+int(m))*100 + d
	name, ok := p.names[k]
	if !ok {
		name = t.UTC().Format("2006-01")
		if p.by == "day" {
			name = t.UTC().Format("2006-01-02")
		}
		p.names[k] = name
	}
	return name
}

// directFile is one file to write from Go: its table and partition, and the
// function writing it to a path.
type directFile struct {
	table, part string
	rows        int64
	bytes       int // estimated
	write       func(ctx context.Context, path string, buf *columnBuf) error
}

// fileOf makes the directFile of rows idx of table.
func fileOf[R any](w *writer, table string, cols []column[R], rows []R, g partRows, size func(*R) int) directFile {
	bytes := 0
	for _, i := range g.idx {
		bytes += size(&rows[i])
	}
	return directFile{table: table, part: g.part, rows: int64(len(g.idx)), bytes: bytes, write: func(ctx context.Context, path string, buf *columnBuf) error {
		return writeParquet(ctx, path, cols, rows, g.idx, size, w.p.opts.RowGroupSize, w.p.writerProps, buf)
	}}
}

// direct writes files, as many at a time as there are cores, under staged
// names, and lists them in next.
func (w *writer) direct(ctx context.Context, files []directFile) error {
	paths := make([]string, len(files))
	for i, f := range files {
		w.n++
		rel := path.Join(f.table, fmt.Sprintf("%s%08d-%03d-%s.parquet", filePrefix, w.next.Seq, w.n, w.token))
		if w.p.partitioned(f.table) {
			rel = path.Join(f.table, partKey(w.p.opts.Partition)+"="+f.part, path.Base(rel))
		}
		paths[i] = filepath.Join(w.p.dir, filepath.FromSlash(stagedName(rel)))
		if err := w.mkdir(filepath.Dir(paths[i])); err != nil {
			return err
		}
		// A file a failed commit leaves half written is swept by abandon.
		if top := filepath.Join(w.p.dir, f.table); !slices.Contains(w.copied, top) {
			w.copied = append(w.copied, top)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	bufs := make(chan *columnBuf, runtime.GOMAXPROCS(0))
	for range cap(bufs) {
		bufs <- &columnBuf{}
	}
	// The largest first, so that the cores finish together.
	order := make([]int, len(files))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(files[b].bytes, files[a].bytes) })
	for _, i := range order {
		f := files[i]
		g.Go(func() error {
			buf := <-bufs
			defer func() { bufs <- buf }()
			if err := f.write(gctx, paths[i], buf); err != nil {
				return fmt.Errorf("write %s: %w", f.table, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, f := range files {
		if err := w.add(f.table, paths[i], f.rows); err != nil {
			return err
		}
	}
	for _, f := range files {
		// In path order, the manifest lists partitions by time.
		slices.SortFunc(w.next.Tables[f.table], func(a, b dataFile) int { return strings.Compare(a.Path, b.Path) })
	}
	return nil
}

// maxRowGroupBytes bounds a row group's values, as ROW_GROUP_SIZE_BYTES
// does DuckDB's (see sql/parquet_copy_partitioned.sql).
const maxRowGroupBytes = 16 << 20

// writeParquet writes rows idx as a Parquet file at path with columns cols,
// in row groups of at most maxRows rows and about maxRowGroupBytes (a row's
// size estimated by size), and fsyncs nothing: w.add does. It stops at the
// next row group once ctx is done.
func writeParquet[R any](ctx context.Context, path string, cols []column[R], rows []R, idx []int, size func(*R) int, maxRows int, props *parquet.WriterProperties, buf *columnBuf) (err error) {
	fields := make(schema.FieldList, len(cols))
	for i, c := range cols {
		fields[i] = c.node()
	}
	root, err := schema.NewGroupNode("duckdb_schema", parquet.Repetitions.Required, fields, -1)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	out := bufio.NewWriterSize(f, 256<<10)
	pw, err := file.NewParquetWriterWithError(out, root, file.WithWriterProps(props))
	if err != nil {
		return err
	}
	for lo := 0; lo < len(idx); {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi, bytes := lo, 0
		for hi < len(idx) && hi-lo < maxRows && (hi == lo || bytes < maxRowGroupBytes) {
			bytes += size(&rows[idx[hi]])
			hi++
		}
		if err := writeRowGroup(pw, cols, rows, idx[lo:hi], buf); err != nil {
			return err
		}
		lo = hi
	}
	if err := pw.Close(); err != nil {
		return err
	}
	return out.Flush()
}

func writeRowGroup[R any](pw *file.Writer, cols []column[R], rows []R, idx []int, buf *columnBuf) error {
	rg, err := pw.AppendRowGroupChecked()
	if err != nil {
		return err
	}
	for _, c := range cols {
		cw, err := rg.NextColumn()
		if err != nil {
			return err
		}
		if err := c.write(cw, rows, idx, buf); err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
		if err := cw.Close(); err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return rg.Close()
}

// newWriterProps are the Parquet writer's properties for the options'
// compression: DuckDB's codecs (its lz4 is LZ4_RAW) at their default
// levels. Dictionary encoding is off: on the ids and JSON that make up most
// of the data it costs time for nothing, and zstd takes the repeats out of
// the few categorical columns anyway. The raw JSON gets no min/max
// statistics, which no reader prunes on.
func newWriterProps(compression string) *parquet.WriterProperties {
	codec := map[string]compress.Compression{
		"zstd": compress.Codecs.Zstd, "snappy": compress.Codecs.Snappy, "gzip": compress.Codecs.Gzip,
		"lz4": compress.Codecs.Lz4Raw, "brotli": compress.Codecs.Brotli, "uncompressed": compress.Codecs.Uncompressed,
	}[compression]
	return parquet.NewWriterProperties(
		parquet.WithCompression(codec),
		parquet.WithDataPageSize(256<<10),
		parquet.WithDictionaryDefault(false),
		parquet.WithStatsFor("raw", false),
		parquet.WithCreatedBy("convsync"),
	)
}

// writeNew writes from Go the conversations of b, with their child rows,
// if none of them is stored (w.unseen), and likewise b's contacts; it
// reports which it wrote. c gets the counts of the conversations written.
func (w *writer) writeNew(ctx context.Context, b *transform.Batch, now time.Time, runID string, c *Counts) (convs, contacts bool, err error) {
	var files []directFile
	if len(b.Conversations) > 0 && w.unseen["conversations"] {
		files, convs = append(files, w.directConversations(b, newestVersions(b.Conversations), now, runID, c)...), true
	}
	if len(b.Contacts) > 0 && w.unseen["contacts"] {
		files, contacts = append(files, w.directContacts(b, now, runID)...), true
	}
	return convs, contacts, w.direct(ctx, files)
}

// directConversations returns the files of the conversations of b at
// indexes newest (nil: all), all new, and of the child rows of b. It fills c
// as the merge path would.
func (w *writer) directConversations(b *transform.Batch, newest []int, now time.Time, runID string, c *Counts) (files []directFile) {
	parts := newPartitions(w.p.opts.Partition)
	convs := groupRows(len(b.Conversations), newest, func(i int) (string, bool) { return parts.of(&b.Conversations[i].CreationTime), true })
	partOf := make(map[string]string, len(b.Conversations))
	for _, g := range convs {
		for _, i := range g.idx {
			partOf[b.Conversations[i].ID] = g.part
		}
	}
	// A conversation's child rows come one after the other. Those of a
	// conversation not in the batch are left out, as the merge path's join
	// leaves them.
	var lastID, lastPart string
	var lastOK bool
	child := func(id string) (string, bool) {
		if id != lastID {
			lastID = id
			lastPart, lastOK = partOf[id]
		}
		return lastPart, lastOK
	}
	answers := groupRows(len(b.Answers), nil, func(i int) (string, bool) { return child(b.Answers[i].ConversationID) })
	bookings := groupRows(len(b.Bookings), nil, func(i int) (string, bool) { return child(b.Bookings[i].ConversationID) })
	cc, ac, bc := withLineage(conversationFields, now, runID), withLineage(answerFields, now, runID), withLineage(bookingFields, now, runID)
	for _, g := range convs {
		files = append(files, fileOf(w, "conversations", cc, b.Conversations, g, func(r *transform.Conversation) int { return len(r.Raw) + 200 }))
		c.Inserted += int64(len(g.idx))
	}
	for _, g := range answers {
		files = append(files, fileOf(w, "conversation_answers", ac, b.Answers, g, func(r *transform.Answer) int { return 100 + len(deref(r.Value)) }))
		c.ChildRows += int64(len(g.idx))
	}
	for _, g := range bookings {
		files = append(files, fileOf(w, "conversation_bookings", bc, b.Bookings, g, func(*transform.Booking) int { return 80 }))
		c.ChildRows += int64(len(g.idx))
	}
	return files
}

// directContacts returns the files of the contacts of b, all new.
func (w *writer) directContacts(b *transform.Batch, now time.Time, runID string) (files []directFile) {
	parts := newPartitions(w.p.opts.Partition)
	groups := groupRows(len(b.Contacts), nil, func(i int) (string, bool) { return parts.of(b.Contacts[i].CreationTime), true })
	cols := withLineage(contactFields, now, runID)
	for _, g := range groups {
		files = append(files, fileOf(w, "contacts", cols, b.Contacts, g, func(*transform.Contact) int { return 300 }))
	}
	return files
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
