-- The ids of the conversations written, whose stored rows and children are
-- replaced. A subquery: the loader splices it into NOT IN (...), so it ends
-- without a semicolon.
SELECT id FROM decided WHERE write
