package load

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/transform"
)

// TestWriteParquet_StopsWhenCancelled: a file written from Go stops at its
// next row group once the commit's context is done, as the appender stops
// at its next chunk.
func TestWriteParquet_StopsWhenCancelled(t *testing.T) {
	rows := []transform.Booking{{ConversationID: "CVR-1", Position: 1, BookingID: "BKNG-1"}}
	cols := withLineage(bookingFields, time.Now(), "R1")
	path := filepath.Join(t.TempDir(), "f.parquet")
	size := func(*transform.Booking) int { return 80 }
	if err := writeParquet(context.Background(), path, cols, rows, []int{0}, size, 10, newWriterProps("zstd"), &columnBuf{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := writeParquet(ctx, path, cols, rows, []int{0}, size, 10, newWriterProps("zstd"), &columnBuf{}); !errors.Is(err, context.Canceled) {
		t.Errorf("write with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestCheckColumns: the column lists in Go agree with sql/schema.sql (as
// every Parquet open checks), and a list that does not is reported by table.
func TestCheckColumns(t *testing.T) {
	p, err := OpenParquet(context.Background(), t.TempDir(), ParquetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := checkColumns(p.cols); err != nil {
		t.Fatal(err)
	}
	cols := maps.Clone(p.cols)
	cols["contacts"] = slices.Insert(slices.Clone(cols["contacts"]), 3, "nickname")
	if err := checkColumns(cols); err == nil || !strings.Contains(err.Error(), "contacts") {
		t.Errorf("a schema with a column more in contacts: %v", err)
	}
}

// TestDirect_FailedWriteLeavesNoFile: a file written from Go that fails
// half way is not listed, and the commit's abandon removes it, with the
// files written beside it.
func TestDirect_FailedWriteLeavesNoFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p, err := OpenParquet(ctx, dir, ParquetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := p.newWriter()
	partial := func(_ context.Context, path string, _ *columnBuf) error {
		if err := os.WriteFile(path, []byte("PAR1"), 0o644); err != nil {
			return err
		}
		return errors.New("disk full")
	}
	whole := func(_ context.Context, path string, _ *columnBuf) error {
		return os.WriteFile(path, []byte("PAR1"), 0o644)
	}
	files := []directFile{
		{table: "conversations", part: "2025-01", rows: 1, write: whole},
		{table: "conversation_answers", part: "2025-01", rows: 1, write: partial},
	}
	if err := w.direct(ctx, files); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("direct: %v, want the write's error", err)
	}
	if n := len(w.next.Tables["conversation_answers"]); n != 0 {
		t.Errorf("the failed file is listed (%d files)", n)
	}
	if err := w.abandon(); err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(path, "_convsync") {
			left = append(left, path)
		}
		return err
	})
	if len(left) > 0 {
		t.Errorf("files left after abandon: %v", left)
	}
}

// TestMergeSet: the smallest files are merged, as many as hold no fewer
// rows than the next smallest, and at least two.
func TestMergeSet(t *testing.T) {
	rows := func(files []dataFile) []int64 {
		var out []int64
		for _, f := range files {
			out = append(out, f.Rows)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct{ files, merged []int64 }{
		{[]int64{5, 5, 5, 5, 5, 5, 5, 5, 5}, []int64{5, 5, 5, 5, 5, 5, 5, 5, 5}},
		{[]int64{45, 5, 5, 5, 5, 5, 5, 5, 5}, []int64{5, 5, 5, 5, 5, 5, 5, 5}},
		{[]int64{45, 40, 35, 5, 5, 5, 5, 5, 5}, []int64{5, 5, 5, 5, 5, 5}},
		{[]int64{100, 50, 30, 2, 1}, []int64{1, 2}},
		{[]int64{40, 35, 30, 25, 20, 15, 10, 5, 5}, []int64{5, 5, 10, 15, 20, 25, 30, 35, 40}},
	} {
		var files []dataFile
		for i, n := range tc.files {
			files = append(files, dataFile{Path: fmt.Sprint(i), Rows: n})
		}
		equalRows := rows(mergeSet(files))
		if !slices.Equal(equalRows, tc.merged) {
			t.Errorf("mergeSet(%v) merges %v, want %v", tc.files, equalRows, tc.merged)
		}
	}
}
