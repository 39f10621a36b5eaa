-- Writes the rows of a query into Hive partition folders, one or more files
-- each, under staged names (extension .parquet.tmp), and returns each file's
-- path and row count. The partition column is not written into the files:
-- readers take it from the path. Row groups hold at most 16MB (with
-- preserve_insertion_order off, as sql/parquet_session.sql sets): with a
-- month of conversations in one row group (the 122,880-row default),
-- reading the partition back allocated its whole raw JSON column at once
-- (64-128 MiB for 30-45k conversations), and a rewrite of two such
-- partitions ran out of the writer's memory_limit.
-- template: %%[1]s is the query, %%[2]s the quoted top folder, %%[3]s the
-- query's partition column, %%[4]s the quoted file name pattern, %%[5]s the
-- compression codec (one of the options' allowed names), %%[6]d the
-- row-group size; all made by package load. It is formatted with
-- fmt.Sprintf, comments included: a percent sign in this file is written %%.
COPY (%[1]s) TO %[2]s (FORMAT parquet, PARTITION_BY (%[3]s), FILENAME_PATTERN %[4]s,
FILE_EXTENSION 'parquet.tmp', OVERWRITE_OR_IGNORE, RETURN_STATS, COMPRESSION %[5]s, ROW_GROUP_SIZE %[6]d, ROW_GROUP_SIZE_BYTES '16MB')
