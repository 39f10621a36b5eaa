-- Writes the rows of a query into Hive partition folders, one or more files
-- each, under staged names (extension .parquet.tmp), and returns each file's
-- path and row count. The partition column is not written into the files:
-- readers take it from the path.
-- template: %%[1]s is the query, %%[2]s the quoted top folder, %%[3]s the
-- query's partition column, %%[4]s the quoted file name pattern, %%[5]s the
-- compression codec (one of the options' allowed names), %%[6]d the
-- row-group size; all made by package load. It is formatted with
-- fmt.Sprintf, comments included: a percent sign in this file is written %%.
COPY (%[1]s) TO %[2]s (FORMAT parquet, PARTITION_BY (%[3]s), FILENAME_PATTERN %[4]s,
FILE_EXTENSION 'parquet.tmp', OVERWRITE_OR_IGNORE, RETURN_STATS, COMPRESSION %[5]s, ROW_GROUP_SIZE %[6]d)
