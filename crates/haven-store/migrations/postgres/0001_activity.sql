-- Activity log, version 1 (PostgreSQL). Times are integer milliseconds since the Unix epoch, UTC.
-- An identity column never reuses an id, so an id quoted in a safeguarding record stays true.
-- The filtered text columns compare bytewise (COLLATE "C"): lookups are exact anyway, and a
-- locale's collation would make every index insert and search slower.
CREATE TABLE events (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_ms     BIGINT  NOT NULL,
    channel     TEXT    NOT NULL,
    client      TEXT    NOT NULL,
    device      TEXT    COLLATE "C",
    user_name   TEXT    COLLATE "C",
    grp         TEXT    COLLATE "C" NOT NULL,
    name        TEXT    NOT NULL,
    qtype       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    category    TEXT    COLLATE "C",
    rule        TEXT    NOT NULL,
    list_source TEXT,
    list_entry  TEXT,
    flags       INTEGER NOT NULL DEFAULT 0,
    upstream    TEXT,
    latency_us  BIGINT  NOT NULL DEFAULT 0
);

-- Every query filters on a time range and returns newest first, so each index ends (time_ms, id).
CREATE INDEX events_time ON events (time_ms);
CREATE INDEX events_user_time ON events (user_name, time_ms);
CREATE INDEX events_device_time ON events (device, time_ms);
CREATE INDEX events_group_time ON events (grp, time_ms);
CREATE INDEX events_category_time ON events (category, time_ms) WHERE category IS NOT NULL;
-- Small partial indexes for the DSL's usual questions: what was blocked, what was flagged.
CREATE INDEX events_block_time ON events (time_ms) WHERE action = 'block';
CREATE INDEX events_flagged_time ON events (time_ms) WHERE flags <> 0;

-- One row per retention run, updated in the same transaction as each batch it deletes, so the
-- log always accounts for every deleted row, even after a crash mid-run.
CREATE TABLE retention_log (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_ms        BIGINT  NOT NULL,
    finished_ms       BIGINT,
    cutoff_ms         BIGINT  NOT NULL,
    keep_days         BIGINT,
    rows_deleted      BIGINT  NOT NULL DEFAULT 0,
    batches           BIGINT  NOT NULL DEFAULT 0,
    oldest_deleted_ms BIGINT,
    newest_deleted_ms BIGINT,
    outcome           TEXT    NOT NULL
);
