-- Whether any staged row of dimension table %[1]s has an id already stored
-- there: only then does the batch need the merge (sql/merge_dimensions.sql).
SELECT EXISTS (SELECT 1 FROM stage_%[1]s WHERE id IN (SELECT id FROM %[1]s));
