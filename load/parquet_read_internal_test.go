package load

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestParquetReader_OpensDuringTheRenamesOfAPublish: a reader that read a
// manifest listing staged names (a publish between its commit point and its
// renames), whose files were renamed into place before its views opened
// them, opens the version under the final names. It failed with "refresh
// views: IO Error: No files found that match the pattern
// …/_convsync_runs/.part-….parquet.tmp", about once in 60 opens of `convsync
// sql` while `convsync run` synced every second.
func TestParquetReader_OpensDuringTheRenamesOfAPublish(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := OpenParquet(ctx, dir, ParquetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	run := Run{ID: "R1", Mode: "incremental", Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Status: "running"}
	if err := w.Record(ctx, run); err != nil {
		t.Fatal(err)
	}
	// A publish stopped past its commit point: the manifest lists the
	// ledger under its staged name, which exists.
	w.hook = func(step string) error {
		if step == "manifest" {
			return errors.New("stopped before the renames")
		}
		return nil
	}
	run.Status = "succeeded"
	if err := w.Record(ctx, run); err == nil {
		t.Fatal("Record past the stop succeeded")
	}
	m, err := readManifest(dir)
	if err != nil || !m.staged() {
		t.Fatalf("manifest %+v, %v: want one listing staged names", m, err)
	}
	// The renames overtake the reader: after it resolved the staged names,
	// before its views open them.
	beforeViews = func() {
		beforeViews = nil
		if _, err := moveStaged(dir, m); err != nil {
			t.Error(err)
		}
	}
	defer func() { beforeViews = nil }()
	r, err := OpenParquetReader(ctx, dir)
	if err != nil {
		t.Fatalf("a reader opened during the renames of a publish: %v", err)
	}
	defer r.Close()
	var status string
	if err := r.DB().QueryRow("SELECT status FROM _convsync_runs").Scan(&status); err != nil || status != "succeeded" {
		t.Errorf("ledger: %q, %v; want the published version's row, succeeded", status, err)
	}
}
