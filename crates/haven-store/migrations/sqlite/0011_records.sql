-- Safeguarding records (issue 7). The record itself is `record_entries`: append-only and
-- hash-chained (haven_records::chain documents the hashed bytes). `records` is the current
-- state of each record, rebuilt from its entries, so the inbox is one indexed read.

CREATE TABLE record_entries (
    seq         INTEGER PRIMARY KEY,
    record_id   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    record_type TEXT    NOT NULL,
    sensitivity TEXT    NOT NULL,
    author_id   INTEGER,
    author      TEXT    NOT NULL,
    occurred_ms INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX record_entries_record ON record_entries (record_id, occurred_ms);
CREATE TRIGGER record_entries_no_update BEFORE UPDATE ON record_entries
BEGIN
    SELECT RAISE(ABORT, 'record_entries is append-only: add an amendment instead');
END;
CREATE TRIGGER record_entries_no_delete BEFORE DELETE ON record_entries
BEGIN
    SELECT RAISE(ABORT, 'record_entries is append-only: nothing is deleted');
END;

CREATE TABLE records (
    record_id       TEXT    PRIMARY KEY,
    record_type     TEXT    NOT NULL,
    sensitivity     TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    pupil_id        INTEGER,
    pupil_name      TEXT    NOT NULL DEFAULT '',
    reporter_id     INTEGER,
    reporter        TEXT    NOT NULL,
    subject_account INTEGER,
    source          TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    risk            TEXT,
    owner_id        INTEGER,
    owner           TEXT,
    occurred_ms     INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    acknowledged_ms INTEGER,
    acknowledged_by TEXT
);
CREATE INDEX records_inbox ON records (created_ms);
CREATE INDEX records_reporter ON records (reporter_id, created_ms);

-- Pupils linked to a record, each with a role. Append-only: a change of role is a new row
-- written with an amendment entry.
CREATE TABLE record_pupils (
    record_id TEXT    NOT NULL,
    pupil_id  INTEGER NOT NULL,
    role      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (pupil_id, record_id, seq)
);
CREATE TRIGGER record_pupils_no_update BEFORE UPDATE ON record_pupils
BEGIN
    SELECT RAISE(ABORT, 'record_pupils is append-only');
END;
CREATE TRIGGER record_pupils_no_delete BEFORE DELETE ON record_pupils
BEGIN
    SELECT RAISE(ABORT, 'record_pupils is append-only');
END;

-- People named on a restricted record.
CREATE TABLE record_named (
    record_id  TEXT    NOT NULL,
    account_id INTEGER NOT NULL,
    PRIMARY KEY (record_id, account_id)
);

-- Who has opened a record (unread is "no row for me").
CREATE TABLE record_reads (
    record_id  TEXT    NOT NULL,
    account_id INTEGER NOT NULL,
    read_ms    INTEGER NOT NULL,
    PRIMARY KEY (record_id, account_id)
);

-- Activity events linked to a record (the link runs both ways).
CREATE TABLE record_event_links (
    record_id TEXT    NOT NULL,
    event_id  INTEGER NOT NULL,
    PRIMARY KEY (record_id, event_id)
);
CREATE INDEX record_event_links_event ON record_event_links (event_id);

-- Attachments by content hash; checked by `haven records verify`.
CREATE TABLE record_attachments (
    sha256      TEXT    PRIMARY KEY,
    file_name   TEXT    NOT NULL,
    media_type  TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    content     BLOB    NOT NULL,
    uploaded_by TEXT    NOT NULL,
    uploaded_ms INTEGER NOT NULL
);
CREATE TRIGGER record_attachments_no_update BEFORE UPDATE ON record_attachments
BEGIN
    SELECT RAISE(ABORT, 'record_attachments is append-only');
END;
CREATE TRIGGER record_attachments_no_delete BEFORE DELETE ON record_attachments
BEGIN
    SELECT RAISE(ABORT, 'record_attachments is append-only');
END;

-- Every view, search, export and print of a record: who, when, which record and child.
CREATE TABLE record_access (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms      INTEGER NOT NULL,
    account_id INTEGER,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    record_id  TEXT,
    pupil_id   INTEGER,
    detail     TEXT    NOT NULL DEFAULT '',
    client     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX record_access_pupil ON record_access (pupil_id, at_ms);
CREATE INDEX record_access_record ON record_access (record_id, at_ms);
CREATE TRIGGER record_access_no_update BEFORE UPDATE ON record_access
BEGIN
    SELECT RAISE(ABORT, 'record_access is append-only');
END;
CREATE TRIGGER record_access_no_delete BEFORE DELETE ON record_access
BEGIN
    SELECT RAISE(ABORT, 'record_access is append-only');
END;
