-- Tunes the Parquet sink's in-memory DuckDB for writing files: rows need not
-- keep their batch order (readers sort, and partitions are written whole),
-- which lets COPY write in parallel without reordering. A COPY with
-- PARTITION_BY hands its rows to the partitions' files every 4,096 rows a
-- thread instead of DuckDB's 524,288, which held every row of a delta's
-- rewritten partitions in memory (spilling past memory_limit) before writing
-- any: a 2,000-conversation delta on 1M conversations took 3.33-3.36 s
-- instead of 4.42-4.44 s and peaked at 343-365 MiB instead of 449-487 MiB.
-- Row groups are sized by the files' writer as before.
SET preserve_insertion_order = false;
SET GLOBAL partitioned_write_flush_threshold = 4096
