-- Activity log, version 1 (SQLite). Times are integer milliseconds since the Unix epoch, UTC.
-- AUTOINCREMENT so an id quoted in a safeguarding record never comes to mean another event.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms     INTEGER NOT NULL,
    channel     TEXT    NOT NULL,
    client      TEXT    NOT NULL,
    device      TEXT,
    user_name   TEXT,
    grp         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    qtype       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    category    TEXT,
    rule        TEXT    NOT NULL,
    list_source TEXT,
    list_entry  TEXT,
    flags       INTEGER NOT NULL DEFAULT 0,
    upstream    TEXT,
    latency_us  INTEGER NOT NULL DEFAULT 0
);

-- Every query filters on a time range and returns newest first, so each index ends in time_ms
-- (and, as every SQLite index does, the rowid: ties come out newest first for free).
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
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_ms        INTEGER NOT NULL,
    finished_ms       INTEGER,
    cutoff_ms         INTEGER NOT NULL,
    keep_days         INTEGER,
    rows_deleted      INTEGER NOT NULL DEFAULT 0,
    batches           INTEGER NOT NULL DEFAULT 0,
    oldest_deleted_ms INTEGER,
    newest_deleted_ms INTEGER,
    outcome           TEXT    NOT NULL
);
