-- The benchmark's ceiling: DuckDB parses the conversations itself (the
-- NDJSON file named by variable ceiling_ndjson, one conversation per line as
-- the API sent it) and fills the three conversation tables of the schema,
-- with the same columns and types the sink writes. Expandable fields are an
-- id string or an object; "" means null; "last_interacted_time " (with the
-- API's trailing space) stands in for a missing last_interacted_time.
-- Lineage is one constant run. The caller wraps it in a transaction and
-- drops ceiling_src after it (and after sql/bench_ceiling_dimensions.sql).
CREATE OR REPLACE TEMP TABLE ceiling_src AS
SELECT
    json AS raw,
    from_json(json, '{"id":"VARCHAR","creation_time":"VARCHAR","last_updated_time":"VARCHAR",
        "last_interacted_time":"VARCHAR","last_interacted_time ":"VARCHAR","initiated_by":"VARCHAR","status":"VARCHAR",
        "contact":"JSON","owner":"JSON","bot":"JSON","website":"JSON","audience":"JSON",
        "answers":[{"id":"VARCHAR","question":"VARCHAR","internal_label":"VARCHAR","value":"VARCHAR"}],
        "bookings":["VARCHAR"]}') AS c
FROM read_ndjson_objects(getvariable('ceiling_ndjson'));

CREATE OR REPLACE TEMP MACRO ceiling_ref(j) AS
    nullif(CASE WHEN json_type(j) = 'OBJECT' THEN j ->> 'id' ELSE j ->> '$' END, '');

INSERT INTO conversations
SELECT
    c.id,
    try_cast(c.creation_time AS TIMESTAMPTZ),
    try_cast(c.last_updated_time AS TIMESTAMPTZ),
    try_cast(coalesce(nullif(c.last_interacted_time, ''), nullif(c."last_interacted_time ", '')) AS TIMESTAMPTZ),
    nullif(c.initiated_by, ''),
    nullif(c.status, ''),
    ceiling_ref(c.contact),
    ceiling_ref(c.owner),
    ceiling_ref(c.bot),
    ceiling_ref(c.website),
    ceiling_ref(c.audience),
    coalesce(len(c.answers), 0),
    coalesce(len(c.bookings), 0),
    raw,
    now(),
    'ceiling'
FROM ceiling_src;

INSERT INTO conversation_answers
SELECT id, position, nullif(a.id, ''), nullif(a.question, ''), nullif(a.internal_label, ''), a.value, now(), 'ceiling'
FROM (
    SELECT c.id, generate_subscripts(c.answers, 1) AS position, unnest(c.answers) AS a
    FROM ceiling_src
);

INSERT INTO conversation_bookings
SELECT c.id, generate_subscripts(c.bookings, 1), unnest(c.bookings), now(), 'ceiling'
FROM ceiling_src;
