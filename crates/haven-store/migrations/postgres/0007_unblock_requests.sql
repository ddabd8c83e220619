-- Unblock requests and the record of activity searches, version 7 (PostgreSQL).
CREATE TABLE unblock_requests (
    id           BIGSERIAL PRIMARY KEY,
    created_ms   BIGINT  NOT NULL,
    requester    TEXT    NOT NULL,
    from_pupil   BOOLEAN NOT NULL DEFAULT FALSE,
    site         TEXT    NOT NULL,
    url          TEXT    NOT NULL DEFAULT '',
    category     TEXT    NOT NULL DEFAULT '',
    rule         TEXT    NOT NULL DEFAULT '',
    reason       TEXT    NOT NULL,
    group_id     TEXT    NOT NULL,
    scope        TEXT    NOT NULL,
    users        TEXT    NOT NULL DEFAULT '',
    names_pupil  BOOLEAN NOT NULL DEFAULT FALSE,
    expires_secs BIGINT,
    route_to     TEXT    NOT NULL DEFAULT '',
    link_hash    TEXT    NOT NULL UNIQUE,
    status       TEXT    NOT NULL DEFAULT 'pending',
    decided_ms   BIGINT,
    decided_by   TEXT,
    note         TEXT    NOT NULL DEFAULT '',
    site_id      BIGINT
);
CREATE INDEX unblock_requests_status ON unblock_requests (status, id);

-- Append-only: who searched a named person's activity, when, and why.
CREATE TABLE activity_searches (
    id      BIGSERIAL PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    person  TEXT   NOT NULL,
    filters TEXT   NOT NULL,
    reason  TEXT   NOT NULL,
    client  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX activity_searches_time ON activity_searches (time_ms, id);
CREATE FUNCTION activity_searches_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activity_searches is append-only';
END;
$$;
CREATE TRIGGER activity_searches_no_change BEFORE UPDATE OR DELETE ON activity_searches
    FOR EACH ROW EXECUTE FUNCTION activity_searches_append_only();
CREATE TRIGGER activity_searches_no_truncate BEFORE TRUNCATE ON activity_searches
    FOR EACH STATEMENT EXECUTE FUNCTION activity_searches_append_only();
