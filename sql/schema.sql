-- convsync warehouse schema (DuckDB). Applied at every open; every statement
-- is idempotent. The Parquet warehouse writes the same tables, columns and
-- types. Keys are documented here and enforced by the loader (transactional
-- delete-insert after de-duplication), not by index: primary-key indexes
-- triple the file size and dominate load time, and uniqueness is proven by
-- the test suite. JSON documents (raw, custom_fields, teams) are stored as
-- VARCHAR holding the JSON text: the decoder has already parsed them, and
-- the cast into DuckDB's JSON type parses every one again (about a seventh
-- of a full load's time). DuckDB's JSON functions and operators take the
-- text as it is; cast with ::JSON where the JSON type itself is wanted.

-- One row per conversation. Key: id.
CREATE TABLE IF NOT EXISTS conversations (
    id                   VARCHAR NOT NULL,
    creation_time        TIMESTAMPTZ NOT NULL,
    last_updated_time    TIMESTAMPTZ NOT NULL,
    last_interacted_time TIMESTAMPTZ,
    initiated_by         VARCHAR,
    status               VARCHAR,
    contact_id           VARCHAR,
    owner_id             VARCHAR,
    bot_id               VARCHAR,
    website_id           VARCHAR,
    audience_id          VARCHAR,
    answer_count         INTEGER NOT NULL,
    booking_count        INTEGER NOT NULL,
    -- The conversation's JSON as the API sent it; zstd takes it to a fifth of
    -- DuckDB's default compression (load.StorageVersion).
    raw                  VARCHAR NOT NULL USING COMPRESSION zstd,
    synced_at            TIMESTAMPTZ NOT NULL,
    run_id               VARCHAR NOT NULL
);

-- One row per answer, long format. Key: (conversation_id, position).
CREATE TABLE IF NOT EXISTS conversation_answers (
    conversation_id VARCHAR NOT NULL,
    position        INTEGER NOT NULL,
    answer_id       VARCHAR,
    question        VARCHAR,
    internal_label  VARCHAR,
    value           VARCHAR,
    synced_at       TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR NOT NULL
);

-- One row per booking id of a conversation. Key: (conversation_id, position).
CREATE TABLE IF NOT EXISTS conversation_bookings (
    conversation_id VARCHAR NOT NULL,
    position        INTEGER NOT NULL,
    booking_id      VARCHAR NOT NULL,
    synced_at       TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR NOT NULL
);

-- Dimensions, filled from expanded objects. Key: id. A row seen only in the
-- API's redacted deleted form has deleted = true and keeps any attributes
-- loaded before.
CREATE TABLE IF NOT EXISTS contacts (
    id                   VARCHAR NOT NULL,
    deleted              BOOLEAN NOT NULL,
    creation_time        TIMESTAMPTZ,
    last_updated_time    TIMESTAMPTZ,
    last_interacted_time TIMESTAMPTZ,
    owner_id             VARCHAR,
    status               VARCHAR,
    first_name           VARCHAR,
    last_name            VARCHAR,
    email                VARCHAR,
    phone                VARCHAR,
    mobile_phone         VARCHAR,
    salutation           VARCHAR,
    job_title            VARCHAR,
    company              VARCHAR,
    company_size         VARCHAR,
    employees            BIGINT,
    street_address       VARCHAR,
    city                 VARCHAR,
    state                VARCHAR,
    post_code            VARCHAR,
    country              VARCHAR,
    timezone             VARCHAR,
    has_consent          BOOLEAN,
    terms_of_service     BOOLEAN,
    bot_id               VARCHAR,
    form                 VARCHAR,
    custom_fields        VARCHAR, -- JSON text
    synced_at            TIMESTAMPTZ NOT NULL,
    run_id               VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id         VARCHAR NOT NULL,
    deleted    BOOLEAN NOT NULL,
    first_name VARCHAR,
    last_name  VARCHAR,
    email      VARCHAR,
    status     VARCHAR,
    role_name  VARCHAR,
    timezone   VARCHAR,
    teams      VARCHAR, -- JSON text
    synced_at  TIMESTAMPTZ NOT NULL,
    run_id     VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS bots (
    id        VARCHAR NOT NULL,
    deleted   BOOLEAN NOT NULL,
    name      VARCHAR,
    synced_at TIMESTAMPTZ NOT NULL,
    run_id    VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS websites (
    id        VARCHAR NOT NULL,
    deleted   BOOLEAN NOT NULL,
    name      VARCHAR,
    url       VARCHAR,
    synced_at TIMESTAMPTZ NOT NULL,
    run_id    VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS audiences (
    id        VARCHAR NOT NULL,
    deleted   BOOLEAN NOT NULL,
    name      VARCHAR,
    synced_at TIMESTAMPTZ NOT NULL,
    run_id    VARCHAR NOT NULL
);

-- Items the API returned that could not be loaded, with the reason.
CREATE TABLE IF NOT EXISTS _convsync_rejects (
    run_id          VARCHAR NOT NULL,
    rejected_at     TIMESTAMPTZ NOT NULL,
    conversation_id VARCHAR,
    reason          VARCHAR NOT NULL,
    raw             VARCHAR NOT NULL
);

-- The run ledger: one row per run, updated with every commit.
CREATE TABLE IF NOT EXISTS _convsync_runs (
    run_id        VARCHAR NOT NULL,
    mode          VARCHAR NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ,
    status        VARCHAR NOT NULL,
    window_lo     TIMESTAMPTZ,
    window_hi     TIMESTAMPTZ,
    pages         BIGINT NOT NULL,
    api_calls     BIGINT NOT NULL,
    retries       BIGINT NOT NULL,
    rate_limited  BIGINT NOT NULL,
    inserted      BIGINT NOT NULL,
    updated       BIGINT NOT NULL,
    unchanged     BIGINT NOT NULL,
    child_rows    BIGINT NOT NULL,
    rejected      BIGINT NOT NULL,
    error         VARCHAR
);

-- The sync cursor (load.State as JSON), one row.
CREATE TABLE IF NOT EXISTS _convsync_state (
    id         INTEGER NOT NULL,
    state      JSON NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
