-- Per partition of the batch (from TEMP table decided): inserted, updated,
-- unchanged.
SELECT _part,
       count(*) FILTER (WHERE write AND NOT existed),
       count(*) FILTER (WHERE write AND existed),
       count(*) FILTER (WHERE NOT write)
FROM decided GROUP BY _part ORDER BY _part
