//go:build linux && (amd64 || arm64) && !duckdb_use_lib && !duckdb_use_static_lib

package load

import (
	"context"
	"path/filepath"
	"testing"
)

// TestReturnFreedMemory checks DuckDB's allocator returns freed memory at
// once afterwards: in the arenas DuckDB already allocated from, and in those
// created later.
func TestReturnFreedMemory(t *testing.T) {
	ctx := context.Background()
	d, err := OpenDuckDB(ctx, filepath.Join(t.TempDir(), "w.duckdb"), DuckDBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// DuckDB's build keeps freed memory for a second; the other tests of
	// the package get that back.
	before, err := allocatorDecay("dirty", 0)
	if err != nil || before == 0 {
		t.Fatalf("arena 0 dirty_decay_ms before = %d, %v; want DuckDB's default (non-zero)", before, err)
	}
	t.Cleanup(func() {
		if err := setAllocatorDecay(before); err != nil {
			t.Error(err)
		}
	})
	if err := ReturnFreedMemory(); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"dirty", "muzzy"} {
		for _, arena := range []int{-1, 0} {
			if ms, err := allocatorDecay(kind, arena); err != nil || ms != 0 {
				t.Errorf("%s_decay_ms of arena %d = %d, %v; want 0", kind, arena, ms, err)
			}
		}
	}
}
