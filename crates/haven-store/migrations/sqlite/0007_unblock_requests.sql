-- Unblock requests and the record of activity searches, version 7 (SQLite).
CREATE TABLE unblock_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms   INTEGER NOT NULL,
    requester    TEXT    NOT NULL,
    from_pupil   BOOLEAN NOT NULL DEFAULT 0,
    site         TEXT    NOT NULL,
    url          TEXT    NOT NULL DEFAULT '',
    category     TEXT    NOT NULL DEFAULT '',
    rule         TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL,
    group_id     TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    users        TEXT    NOT NULL DEFAULT '',
    names_pupil  BOOLEAN NOT NULL DEFAULT 0,
    expires_secs INTEGER,
    route_to     TEXT    NOT NULL DEFAULT '',
    link_hash    TEXT    NOT NULL UNIQUE,
    status       TEXT    NOT NULL DEFAULT 'pending',
    decided_ms   INTEGER,
    decided_by   TEXT,
    note         TEXT    NOT NULL DEFAULT '',
    site_id      INTEGER
);
CREATE INDEX unblock_requests_status ON unblock_requests (status, id);

-- Append-only: who searched a named person's activity, when, and why.
CREATE TABLE activity_searches (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    person  TEXT    NOT NULL,
    filters TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    client  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX activity_searches_time ON activity_searches (time_ms, id);
CREATE TRIGGER activity_searches_no_update BEFORE UPDATE ON activity_searches
BEGIN
    SELECT RAISE(ABORT, 'activity_searches is append-only');
END;
CREATE TRIGGER activity_searches_no_delete BEFORE DELETE ON activity_searches
BEGIN
    SELECT RAISE(ABORT, 'activity_searches is append-only');
END;
