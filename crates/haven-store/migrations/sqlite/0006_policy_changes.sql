-- Console policy changes, version 6 (SQLite): an overlay on the configuration's policy (category
-- rules per group, time windows, per-site entries with expiry and scope) and the change log.
-- Times are integer milliseconds since the Unix epoch, UTC. Entries are never deleted: a removed
-- site entry keeps its row with when and by whom.
CREATE TABLE policy_sites (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    site        TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    users       TEXT    NOT NULL DEFAULT '',
    scope       TEXT    NOT NULL DEFAULT '',
    names_pupil BOOLEAN NOT NULL DEFAULT 0,
    expires_ms  INTEGER,
    created_ms  INTEGER NOT NULL,
    removed_ms  INTEGER,
    removed_by  TEXT
);
CREATE INDEX policy_sites_live ON policy_sites (removed_ms, expires_ms);

CREATE TABLE policy_rules (
    group_id   TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    base       TEXT    NOT NULL,
    windows    TEXT    NOT NULL DEFAULT '',
    nominated  TEXT    NOT NULL DEFAULT '',
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, category)
);

CREATE TABLE policy_windows (
    id         TEXT    PRIMARY KEY,
    title      TEXT    NOT NULL,
    spans      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Append-only: the DfE "documenting decisions on what is blocked or allowed and why".
CREATE TABLE policy_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms     INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    before_text TEXT    NOT NULL DEFAULT '',
    after_text  TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL,
    names_pupil BOOLEAN NOT NULL DEFAULT 0,
    public_text TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX policy_changes_time ON policy_changes (time_ms, id);
CREATE TRIGGER policy_changes_no_update BEFORE UPDATE ON policy_changes
BEGIN
    SELECT RAISE(ABORT, 'policy_changes is append-only');
END;
CREATE TRIGGER policy_changes_no_delete BEFORE DELETE ON policy_changes
BEGIN
    SELECT RAISE(ABORT, 'policy_changes is append-only');
END;
