-- Who is behind each address, version 8 (sqlite): the live bindings the portal, guests, RADIUS and
-- registered devices make (restored at start), an append-only record of every binding's start and
-- end, and the network passwords pupils sign in to the captive portal with (argon2id hashes only).
CREATE TABLE address_bindings (
    address    TEXT    PRIMARY KEY,
    user_name  TEXT,
    group_name TEXT,
    device     TEXT,
    source     TEXT    NOT NULL,
    since_ms   INTEGER NOT NULL,
    expires_ms INTEGER
);

CREATE TABLE binding_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms    INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    user_name  TEXT,
    group_name TEXT,
    device     TEXT,
    source     TEXT    NOT NULL,
    since_ms   INTEGER NOT NULL,
    expires_ms INTEGER,
    actor      TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX binding_log_time ON binding_log (time_ms);
CREATE INDEX binding_log_address ON binding_log (address, id);
CREATE TRIGGER binding_log_no_update BEFORE UPDATE ON binding_log
BEGIN
    SELECT RAISE(ABORT, 'binding_log is append-only');
END;
CREATE TRIGGER binding_log_no_delete BEFORE DELETE ON binding_log
BEGIN
    SELECT RAISE(ABORT, 'binding_log is append-only');
END;

CREATE TABLE network_passwords (
    person_id       INTEGER PRIMARY KEY REFERENCES people (id),
    username        TEXT    NOT NULL UNIQUE,
    password_hash   TEXT    NOT NULL,
    set_ms          INTEGER NOT NULL,
    set_by          TEXT    NOT NULL
);
