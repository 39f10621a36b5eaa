-- The benchmark's ceiling filling every table a sync fills: after
-- sql/bench_ceiling.sql, in its transaction, the five dimension tables from
-- the expanded objects of ceiling_src, one row per id as the sink keeps it
-- in one batch: the id's last full object (in file order), else the
-- redacted deleted form's id with deleted = true. An id-only reference adds
-- no row. The tables are empty: a first load appends, as the sink does.
-- The last of an id's full objects in the order r, or NULL if it was
-- expanded only in the redacted deleted form.
CREATE OR REPLACE TEMP MACRO ceiling_last_full(j, r) AS
    arg_max(j, r) FILTER (WHERE NOT coalesce((j ->> 'deleted')::BOOLEAN, false));

INSERT INTO contacts BY NAME
SELECT
    id, o IS NULL AS deleted,
    try_cast(nullif(o.creation_time, '') AS TIMESTAMPTZ) AS creation_time,
    try_cast(nullif(o.last_updated_time, '') AS TIMESTAMPTZ) AS last_updated_time,
    try_cast(nullif(o.last_interacted_time, '') AS TIMESTAMPTZ) AS last_interacted_time,
    nullif(o.owner, '') AS owner_id, nullif(o.status, '') AS status,
    nullif(o.first_name, '') AS first_name, nullif(o.last_name, '') AS last_name,
    nullif(o.email, '') AS email, nullif(o.phone, '') AS phone, nullif(o.mobile_phone, '') AS mobile_phone,
    nullif(o.salutation, '') AS salutation, nullif(o.job_title, '') AS job_title,
    nullif(o.company, '') AS company, nullif(o.company_size, '') AS company_size, o.employees AS employees,
    nullif(o.street_address, '') AS street_address, nullif(o.city, '') AS city, nullif(o.state, '') AS state,
    nullif(o.post_code, '') AS post_code, nullif(o.country, '') AS country, nullif(o.timezone, '') AS timezone,
    o.has_consent AS has_consent, o.terms_of_sevice AS terms_of_service,
    nullif(o.bot, '') AS bot_id, nullif(o.form, '') AS form, o.custom_fields::VARCHAR AS custom_fields,
    now() AS synced_at, 'ceiling' AS run_id
FROM (
    SELECT id, from_json(j, '{"creation_time":"VARCHAR","last_updated_time":"VARCHAR","last_interacted_time":"VARCHAR",
        "owner":"VARCHAR","status":"VARCHAR","first_name":"VARCHAR","last_name":"VARCHAR","email":"VARCHAR",
        "phone":"VARCHAR","mobile_phone":"VARCHAR","salutation":"VARCHAR","job_title":"VARCHAR","company":"VARCHAR",
        "company_size":"VARCHAR","employees":"BIGINT","street_address":"VARCHAR","city":"VARCHAR","state":"VARCHAR",
        "post_code":"VARCHAR","country":"VARCHAR","timezone":"VARCHAR","has_consent":"BOOLEAN",
        "terms_of_sevice":"BOOLEAN","bot":"VARCHAR","form":"VARCHAR","custom_fields":"JSON"}') AS o
    FROM (SELECT c.contact ->> 'id' AS id, ceiling_last_full(c.contact, rowid) AS j
          FROM ceiling_src WHERE json_type(c.contact) = 'OBJECT' GROUP BY ALL)
);

INSERT INTO users BY NAME
SELECT id, j IS NULL AS deleted, nullif(j ->> 'first_name', '') AS first_name, nullif(j ->> 'last_name', '') AS last_name,
    nullif(j ->> 'email', '') AS email, nullif(j ->> 'status', '') AS status, nullif(j ->> 'role_name', '') AS role_name,
    nullif(j ->> 'timezone', '') AS timezone, (j -> 'teams')::VARCHAR AS teams, now() AS synced_at, 'ceiling' AS run_id
FROM (SELECT c.owner ->> 'id' AS id, ceiling_last_full(c.owner, rowid) AS j
      FROM ceiling_src WHERE json_type(c.owner) = 'OBJECT' GROUP BY ALL);

INSERT INTO bots BY NAME
SELECT id, j IS NULL AS deleted, nullif(j ->> 'name', '') AS name, now() AS synced_at, 'ceiling' AS run_id
FROM (SELECT c.bot ->> 'id' AS id, ceiling_last_full(c.bot, rowid) AS j
      FROM ceiling_src WHERE json_type(c.bot) = 'OBJECT' GROUP BY ALL);

INSERT INTO websites BY NAME
SELECT id, j IS NULL AS deleted, nullif(j ->> 'name', '') AS name, nullif(j ->> 'url', '') AS url, now() AS synced_at, 'ceiling' AS run_id
FROM (SELECT c.website ->> 'id' AS id, ceiling_last_full(c.website, rowid) AS j
      FROM ceiling_src WHERE json_type(c.website) = 'OBJECT' GROUP BY ALL);

INSERT INTO audiences BY NAME
SELECT id, j IS NULL AS deleted, nullif(j ->> 'name', '') AS name, now() AS synced_at, 'ceiling' AS run_id
FROM (SELECT c.audience ->> 'id' AS id, ceiling_last_full(c.audience, rowid) AS j
      FROM ceiling_src WHERE json_type(c.audience) = 'OBJECT' GROUP BY ALL);
