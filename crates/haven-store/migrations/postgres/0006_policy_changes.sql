-- Console policy changes, version 6 (PostgreSQL): an overlay on the configuration's policy
-- (category rules per group, time windows, per-site entries with expiry and scope) and the change
-- log. Times are integer milliseconds since the Unix epoch, UTC. Entries are never deleted: a
-- removed site entry keeps its row with when and by whom.
CREATE TABLE policy_sites (
    id          BIGSERIAL PRIMARY KEY,
    group_id    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    site        TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    users       TEXT    NOT NULL DEFAULT '',
    scope       TEXT    NOT NULL DEFAULT '',
    names_pupil BOOLEAN NOT NULL DEFAULT FALSE,
    expires_ms  BIGINT,
    created_ms  BIGINT  NOT NULL,
    removed_ms  BIGINT,
    removed_by  TEXT
);
CREATE INDEX policy_sites_live ON policy_sites (removed_ms, expires_ms);

CREATE TABLE policy_rules (
    group_id   TEXT   NOT NULL,
    category   TEXT   NOT NULL,
    base       TEXT   NOT NULL,
    windows    TEXT   NOT NULL DEFAULT '',
    nominated  TEXT   NOT NULL DEFAULT '',
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (group_id, category)
);

CREATE TABLE policy_windows (
    id         TEXT   PRIMARY KEY,
    title      TEXT   NOT NULL,
    spans      TEXT   NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- Append-only: the DfE "documenting decisions on what is blocked or allowed and why".
CREATE TABLE policy_changes (
    id          BIGSERIAL PRIMARY KEY,
    time_ms     BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    before_text TEXT    NOT NULL DEFAULT '',
    after_text  TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL,
    names_pupil BOOLEAN NOT NULL DEFAULT FALSE,
    public_text TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX policy_changes_time ON policy_changes (time_ms, id);
CREATE FUNCTION policy_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'policy_changes is append-only';
END;
$$;
CREATE TRIGGER policy_changes_no_change BEFORE UPDATE OR DELETE ON policy_changes
    FOR EACH ROW EXECUTE FUNCTION policy_changes_append_only();
CREATE TRIGGER policy_changes_no_truncate BEFORE TRUNCATE ON policy_changes
    FOR EACH STATEMENT EXECUTE FUNCTION policy_changes_append_only();
