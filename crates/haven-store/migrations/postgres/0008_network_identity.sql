-- Who is behind each address, version 8 (PostgreSQL): the live bindings the portal, guests, RADIUS
-- and registered devices make (restored at start), an append-only record of every binding's start
-- and end, and the network passwords pupils sign in to the captive portal with (argon2id only).
CREATE TABLE address_bindings (
    address    TEXT   PRIMARY KEY,
    user_name  TEXT,
    group_name TEXT,
    device     TEXT,
    source     TEXT   NOT NULL,
    since_ms   BIGINT NOT NULL,
    expires_ms BIGINT
);

CREATE TABLE binding_log (
    id         BIGSERIAL PRIMARY KEY,
    time_ms    BIGINT NOT NULL,
    event      TEXT   NOT NULL,
    address    TEXT   NOT NULL,
    user_name  TEXT,
    group_name TEXT,
    device     TEXT,
    source     TEXT   NOT NULL,
    since_ms   BIGINT NOT NULL,
    expires_ms BIGINT,
    actor      TEXT   NOT NULL DEFAULT '',
    detail     TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX binding_log_time ON binding_log (time_ms);
CREATE INDEX binding_log_address ON binding_log (address, id);
CREATE FUNCTION binding_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'binding_log is append-only';
END;
$$;
CREATE TRIGGER binding_log_no_change BEFORE UPDATE OR DELETE ON binding_log
    FOR EACH ROW EXECUTE FUNCTION binding_log_append_only();
CREATE TRIGGER binding_log_no_truncate BEFORE TRUNCATE ON binding_log
    FOR EACH STATEMENT EXECUTE FUNCTION binding_log_append_only();

CREATE TABLE network_passwords (
    person_id     BIGINT PRIMARY KEY REFERENCES people (id),
    username      TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    set_ms        BIGINT NOT NULL,
    set_by        TEXT   NOT NULL
);
