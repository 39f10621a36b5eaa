//go:build linux && (amd64 || arm64) && !duckdb_use_lib && !duckdb_use_static_lib

package load

/*
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

// The mallctl of the jemalloc linked into DuckDB's static library on Linux
// (its symbols carry DuckDB's prefix).
int duckdb_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

// convsync_set_decay sets a jemalloc decay time (in ms) for arenas created
// from now on and for each arena that exists; it returns the first error
// other than an arena that does not exist (EFAULT).
static int convsync_set_decay(const char *kind, ssize_t ms) {
	char name[64];
	snprintf(name, sizeof name, "arenas.%s_decay_ms", kind);
	int err = duckdb_je_mallctl(name, NULL, NULL, &ms, sizeof ms);
	if (err != 0) {
		return err;
	}
	unsigned n = 0;
	size_t len = sizeof n;
	err = duckdb_je_mallctl("arenas.narenas", &n, &len, NULL, 0);
	if (err != 0) {
		return err;
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof name, "arena.%u.%s_decay_ms", i, kind);
		err = duckdb_je_mallctl(name, NULL, NULL, &ms, sizeof ms);
		if (err != 0 && err != EFAULT) {
			return err;
		}
	}
	return 0;
}

// convsync_get_decay reads a decay time: of arena i, or of new arenas if i < 0.
static int convsync_get_decay(const char *kind, int i, ssize_t *ms) {
	char name[64];
	if (i < 0) {
		snprintf(name, sizeof name, "arenas.%s_decay_ms", kind);
	} else {
		snprintf(name, sizeof name, "arena.%d.%s_decay_ms", i, kind);
	}
	size_t len = sizeof *ms;
	return duckdb_je_mallctl(name, ms, &len, NULL, 0);
}
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"
)

// ReturnFreedMemory makes DuckDB's allocator return the memory DuckDB frees
// to the system at once, in every arena, instead of keeping it for DuckDB's
// decay time (1 s) to reuse. It is what DUCKDB_JE_MALLOC_CONF=
// dirty_decay_ms:0,muzzy_decay_ms:0 does at process start, done at run
// time: in a 1M first sync with the other low-memory settings it took the
// peak RSS from 274-302 MiB to 222-249 MiB, for up to a quarter more time
// (see README "Production settings"). It holds for the rest of the process.
func ReturnFreedMemory() error { return setAllocatorDecay(0) }

// setAllocatorDecay sets the dirty and muzzy decay times of every arena of
// DuckDB's allocator, and of those created from now on, to ms.
func setAllocatorDecay(ms int64) error {
	for _, kind := range []string{"dirty", "muzzy"} {
		ck := C.CString(kind)
		errno := C.convsync_set_decay(ck, C.ssize_t(ms))
		C.free(unsafe.Pointer(ck))
		if errno != 0 {
			return fmt.Errorf("set DuckDB allocator's %s_decay_ms: %w", kind, syscall.Errno(errno))
		}
	}
	return nil
}

// allocatorDecay reads the decay time of kind ("dirty" or "muzzy") of arena
// i, or of arenas created from now on if i < 0 (for tests).
func allocatorDecay(kind string, i int) (int64, error) {
	ck := C.CString(kind)
	defer C.free(unsafe.Pointer(ck))
	var ms C.ssize_t
	if errno := C.convsync_get_decay(ck, C.int(i), &ms); errno != 0 {
		return 0, syscall.Errno(errno)
	}
	return int64(ms), nil
}
