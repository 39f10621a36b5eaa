-- Writes the rows of a query to one Parquet file, in row groups of at most
-- 16MB (see sql/parquet_copy_partitioned.sql).
-- template: %%[1]s is the query, %%[2]s the quoted file path, %%[3]s the
-- compression codec (one of the options' allowed names), %%[4]d the
-- row-group size; all made by package load. It is formatted with
-- fmt.Sprintf, comments included: a percent sign in this file is written %%.
COPY (%[1]s) TO %[2]s (FORMAT parquet, COMPRESSION %[3]s, ROW_GROUP_SIZE %[4]d, ROW_GROUP_SIZE_BYTES '16MB')
