-- Moving school (issue 7). `record_received_entries` keeps the sending school's entries
-- exactly as they arrived in a verified package (their hashes still recompute from their
-- content); each transferred-in record also gets a `received` entry in this school's own chain
-- naming the package and those hashes. `record_transfers` logs every package sent, received
-- and every receipt confirmed. Both are append-only.

CREATE TABLE record_received_entries (
    record_id      TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    record_type    TEXT    NOT NULL,
    sensitivity    TEXT    NOT NULL,
    author_id      INTEGER,
    author         TEXT    NOT NULL,
    occurred_ms    INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    package_sha256 TEXT    NOT NULL,
    sender_school  TEXT    NOT NULL,
    PRIMARY KEY (record_id, seq)
);
CREATE TRIGGER record_received_entries_no_update BEFORE UPDATE ON record_received_entries
BEGIN
    SELECT RAISE(ABORT, 'record_received_entries is append-only');
END;
CREATE TRIGGER record_received_entries_no_delete BEFORE DELETE ON record_received_entries
BEGIN
    SELECT RAISE(ABORT, 'record_received_entries is append-only');
END;

CREATE TABLE record_transfers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms          INTEGER NOT NULL,
    direction      TEXT    NOT NULL,
    package_sha256 TEXT    NOT NULL,
    pupil_id       INTEGER,
    school         TEXT    NOT NULL,
    public_key     TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    records        INTEGER NOT NULL,
    entries        INTEGER NOT NULL,
    attachments    INTEGER NOT NULL
);
CREATE INDEX record_transfers_package ON record_transfers (package_sha256, direction);
CREATE TRIGGER record_transfers_no_update BEFORE UPDATE ON record_transfers
BEGIN
    SELECT RAISE(ABORT, 'record_transfers is append-only');
END;
CREATE TRIGGER record_transfers_no_delete BEFORE DELETE ON record_transfers
BEGIN
    SELECT RAISE(ABORT, 'record_transfers is append-only');
END;
