-- Console accounts, sessions, API tokens, the recovery code and the sign-in audit log, version 4
-- (PostgreSQL). Times are integer milliseconds since the Unix epoch, UTC. Secrets are stored only
-- as hashes (argon2id for passwords and the recovery code, SHA-256 for session and API tokens);
-- the TOTP secret is stored as the authenticator holds it, since verifying a code needs it.
CREATE TABLE accounts (
    id                   BIGSERIAL PRIMARY KEY,
    username             TEXT    NOT NULL UNIQUE,
    display_name         TEXT    NOT NULL,
    email                TEXT,
    roles                TEXT    NOT NULL,
    password_hash        TEXT    NOT NULL,
    password_changed_ms  BIGINT  NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    totp_secret          TEXT,
    totp_pending         TEXT,
    totp_last_step       BIGINT,
    failed_sign_ins      BIGINT  NOT NULL DEFAULT 0,
    locked_until_ms      BIGINT,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms           BIGINT  NOT NULL,
    last_sign_in_ms      BIGINT
);

CREATE TABLE sessions (
    token_hash   TEXT   PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stage        TEXT   NOT NULL,
    csrf_token   TEXT   NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    client       TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    token_hash   TEXT   NOT NULL UNIQUE,
    hint         TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT,
    last_used_ms BIGINT,
    revoked_ms   BIGINT
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

CREATE TABLE recovery_codes (
    id         BIGSERIAL PRIMARY KEY,
    code_hash  TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    used_ms    BIGINT
);

-- Append-only: every sign-in, failure, lockout and account change. The trigger refuses UPDATE,
-- DELETE and TRUNCATE, so not even Haven itself can rewrite what happened.
CREATE TABLE auth_audit (
    id         BIGSERIAL PRIMARY KEY,
    time_ms    BIGINT NOT NULL,
    event      TEXT   NOT NULL,
    username   TEXT   NOT NULL DEFAULT '',
    account_id BIGINT,
    actor      TEXT   NOT NULL DEFAULT '',
    client     TEXT   NOT NULL DEFAULT '',
    detail     TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX auth_audit_time ON auth_audit (time_ms);
CREATE INDEX auth_audit_username ON auth_audit (username, id);
CREATE FUNCTION auth_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'auth_audit is append-only';
END;
$$;
CREATE TRIGGER auth_audit_no_change BEFORE UPDATE OR DELETE ON auth_audit
    FOR EACH ROW EXECUTE FUNCTION auth_audit_append_only();
CREATE TRIGGER auth_audit_no_truncate BEFORE TRUNCATE ON auth_audit
    FOR EACH STATEMENT EXECUTE FUNCTION auth_audit_append_only();
