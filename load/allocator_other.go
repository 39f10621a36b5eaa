//go:build !(linux && (amd64 || arm64)) || duckdb_use_lib || duckdb_use_static_lib

package load

// ReturnFreedMemory does nothing here: DuckDB allocates through jemalloc
// only in its static Linux builds; elsewhere it uses the system allocator.
func ReturnFreedMemory() error { return nil }
