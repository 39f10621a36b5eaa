-- Tunes the Parquet sink's in-memory DuckDB for writing files: rows need not
-- keep their batch order (readers sort, and partitions are written whole),
-- which lets COPY write in parallel without reordering.
SET preserve_insertion_order = false
