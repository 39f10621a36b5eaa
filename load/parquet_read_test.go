package load_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convsync/convsync/load"
)

func openReader(t *testing.T, dir string) *load.Parquet {
	t.Helper()
	r, err := load.OpenParquetReader(ctx, dir)
	if err != nil {
		t.Fatalf("OpenParquetReader: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestParquetReader_OpensWhileAWriterHoldsTheLock(t *testing.T) {
	dir := t.TempDir()
	w := openParquet(t, dir, load.ParquetOptions{Owner: "convsync sync"})
	defer w.Close()
	st := load.State{Watermark: at(2, 0)}
	pcommit(t, w, threeMonths(at(2, 0)), st, "R1")

	r := openReader(t, dir)
	equal(t, "the reader's tables", viaDB(t, r.DB()), viaDB(t, w.DB()))
	if got, err := r.State(ctx); err != nil || !got.Watermark.Equal(st.Watermark) {
		t.Errorf("State: %+v, %v; want watermark %s", got, err, st.Watermark)
	}
	if _, err := load.OpenParquet(ctx, dir, load.ParquetOptions{}); err == nil {
		t.Fatal("a second writer opened: the reader must leave the writer's lock alone")
	}

	t.Run("QueryOnAFileALaterPublishRemovedNamesIt", func(t *testing.T) {
		old := dataFiles(t, dir, "conversations")
		pcommit(t, w, threeMonths(at(3, 0)), load.State{Watermark: at(3, 0)}, "R2")
		if got, _ := r.State(ctx); !got.Watermark.Equal(st.Watermark) {
			t.Errorf("State after a later publish: %s, want the version read at open (%s)", got.Watermark, st.Watermark)
		}
		_, err := r.DB().Query("SELECT count(*) FROM conversations")
		if err == nil || !strings.Contains(err.Error(), old[0]) {
			t.Errorf("query on replaced files: %v, want an error naming %s", err, old[0])
		}
		equal(t, "a new reader's tables", viaDB(t, openReader(t, dir).DB()), viaDB(t, w.DB()))
	})
}

func TestParquetReader_CommitAndRecordRefused(t *testing.T) {
	dir := t.TempDir()
	w := openParquet(t, dir, load.ParquetOptions{})
	pcommit(t, w, threeMonths(at(2, 0)), load.State{}, "R1")
	w.Close()
	before := allFiles(t, dir)
	manifest, _ := os.ReadFile(filepath.Join(dir, "_convsync", "manifest.json"))

	r := openReader(t, dir)
	_, err := r.Commit(ctx, threeMonths(at(3, 0)), load.State{Watermark: at(3, 0)}, runOf("R2"))
	if !errors.Is(err, load.ErrReadOnly) || !strings.Contains(err.Error(), "open read-only") {
		t.Errorf("Commit: %v, want ErrReadOnly", err)
	}
	if err := r.Record(ctx, runOf("R2")); !errors.Is(err, load.ErrReadOnly) {
		t.Errorf("Record: %v, want ErrReadOnly", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "_convsync", "manifest.json"))
	if !slices.Equal(allFiles(t, dir), before) || string(after) != string(manifest) {
		t.Errorf("the dataset changed:\nbefore %v\nafter  %v", before, allFiles(t, dir))
	}
}

// TestParquetReader_ReadsAnUnfinishedPublishWithoutRecovering: a publish
// stopped past its commit point leaves staged names in the manifest; a
// reader sees the new version and leaves the folder for the next writer
// to finish.
func TestParquetReader_ReadsAnUnfinishedPublishWithoutRecovering(t *testing.T) {
	dir := t.TempDir()
	w := openParquet(t, dir, load.ParquetOptions{})
	pcommit(t, w, threeMonths(at(2, 0)), load.State{}, "R1")
	w.SetHook(func(step string) error {
		if step == "manifest" {
			return errors.New("crash")
		}
		return nil
	})
	next := threeMonths(at(3, 0))
	if _, err := w.Commit(ctx, next, load.State{Watermark: at(3, 0)}, runOf("R2")); err == nil {
		t.Fatal("Commit past a crash point succeeded")
	}
	w.Close()
	stopped := allFiles(t, dir)
	if !strings.Contains(strings.Join(stopped, " "), ".tmp") {
		t.Fatal("the stopped publish left no staged file: the test proves nothing")
	}

	got := viaDB(t, openReader(t, dir).DB())
	if !slices.Equal(allFiles(t, dir), stopped) {
		t.Errorf("the reader changed the folder:\nbefore %v\nafter  %v", stopped, allFiles(t, dir))
	}
	w = openParquet(t, dir, load.ParquetOptions{})
	defer w.Close()
	equal(t, "the reader's tables against the recovered dataset", got, viaDB(t, w.DB()))
}

func TestParquetReader_NoDataset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	_, err := load.OpenParquetReader(ctx, dir)
	if err == nil || !strings.Contains(err.Error(), "(run convsync sync first)") {
		t.Errorf("OpenParquetReader of a missing dataset: %v, want one saying to run convsync sync first", err)
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the reader created %s", dir)
	}
}

// TestParquetReader_OpensWhileAWriterPublishes: a reader opened while a
// writer publishes over and over opens every time: a publish between its
// reading the manifest and opening the files (the run ledger's, rewritten
// by every write) makes it open the new version, not fail.
func TestParquetReader_OpensWhileAWriterPublishes(t *testing.T) {
	dir := t.TempDir()
	w := openParquet(t, dir, load.ParquetOptions{})
	defer w.Close()
	pcommit(t, w, threeMonths(at(2, 0)), load.State{}, "R0")
	stop := make(chan struct{})
	published := make(chan error, 1)
	go func() {
		var err error
		for i := 0; err == nil; i++ {
			select {
			case <-stop:
				published <- nil
				return
			default:
			}
			err = w.Record(ctx, load.Run{ID: "R1", Mode: "incremental", Start: at(2, 0), Status: "running", Pages: int64(i)})
			time.Sleep(50 * time.Millisecond) // a commit's pace at its fastest
		}
		published <- err
	}()
	failed := 0
	start := time.Now()
	for range 100 {
		r, err := load.OpenParquetReader(ctx, dir)
		if err != nil {
			failed++
			continue
		}
		r.Close()
	}
	close(stop)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	t.Logf("100 opens in %v", time.Since(start))
	if failed > 0 {
		t.Errorf("%d of 100 opens failed while the writer published", failed)
	}
}
