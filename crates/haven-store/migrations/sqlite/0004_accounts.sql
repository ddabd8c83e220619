-- Console accounts, sessions, API tokens, the recovery code and the sign-in audit log, version 4
-- (SQLite). Times are integer milliseconds since the Unix epoch, UTC. Secrets are stored only as
-- hashes (argon2id for passwords and the recovery code, SHA-256 for session and API tokens); the
-- TOTP secret is stored as the authenticator holds it, since verifying a code needs it.
CREATE TABLE accounts (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    username             TEXT    NOT NULL UNIQUE,
    display_name         TEXT    NOT NULL,
    email                TEXT,
    roles                TEXT    NOT NULL,
    password_hash        TEXT    NOT NULL,
    password_changed_ms  INTEGER NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    totp_secret          TEXT,
    totp_pending         TEXT,
    totp_last_step       INTEGER,
    failed_sign_ins      INTEGER NOT NULL DEFAULT 0,
    locked_until_ms      INTEGER,
    disabled             BOOLEAN NOT NULL DEFAULT 0,
    created_ms           INTEGER NOT NULL,
    last_sign_in_ms      INTEGER
);

CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stage        TEXT    NOT NULL,
    csrf_token   TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    client       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    last_used_ms INTEGER,
    revoked_ms   INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash  TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    used_ms    INTEGER
);

-- Append-only: every sign-in, failure, lockout and account change. The triggers refuse UPDATE
-- and DELETE, so not even Haven itself can rewrite what happened.
CREATE TABLE auth_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms    INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    username   TEXT    NOT NULL DEFAULT '',
    account_id INTEGER,
    actor      TEXT    NOT NULL DEFAULT '',
    client     TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX auth_audit_time ON auth_audit (time_ms);
CREATE INDEX auth_audit_username ON auth_audit (username, id);
CREATE TRIGGER auth_audit_no_update BEFORE UPDATE ON auth_audit
BEGIN
    SELECT RAISE(ABORT, 'auth_audit is append-only');
END;
CREATE TRIGGER auth_audit_no_delete BEFORE DELETE ON auth_audit
BEGIN
    SELECT RAISE(ABORT, 'auth_audit is append-only');
END;
