-- Deletes the stored rows of dimension table %[1]s that the staged ones
-- replace, when no staged row is deleted (the rules of
-- sql/merge_dimensions.sql then reduce to this and
-- sql/insert_dimension.sql, which the loader runs next). Staging holds one
-- row per id, the batch's last; stored_%[1]s the stored rows of the ids
-- staged before the unchanged ones were dropped
-- (sql/unchanged_dimension.sql), so only the staged ids among them are
-- deleted. The delete reads the id column of the whole table, and nothing
-- when no staged id is stored.
DELETE FROM %[1]s WHERE id IN (
    SELECT id FROM stage_%[1]s WHERE id IN (SELECT id FROM stored_%[1]s)
);
