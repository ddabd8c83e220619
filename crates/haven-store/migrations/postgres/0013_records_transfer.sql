-- Moving school (issue 7). `record_received_entries` keeps the sending school's entries
-- exactly as they arrived in a verified package (their hashes still recompute from their
-- content); each transferred-in record also gets a `received` entry in this school's own chain
-- naming the package and those hashes. `record_transfers` logs every package sent, received
-- and every receipt confirmed. Both are append-only.

CREATE TABLE record_received_entries (
    record_id      TEXT    NOT NULL,
    seq            BIGINT  NOT NULL,
    kind           TEXT    NOT NULL,
    record_type    TEXT    NOT NULL,
    sensitivity    TEXT    NOT NULL,
    author_id      BIGINT,
    author         TEXT    NOT NULL,
    occurred_ms    BIGINT  NOT NULL,
    created_ms     BIGINT  NOT NULL,
    body           TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    package_sha256 TEXT    NOT NULL,
    sender_school  TEXT    NOT NULL,
    PRIMARY KEY (record_id, seq)
);

CREATE TABLE record_transfers (
    id             BIGSERIAL PRIMARY KEY,
    at_ms          BIGINT  NOT NULL,
    direction      TEXT    NOT NULL,
    package_sha256 TEXT    NOT NULL,
    pupil_id       BIGINT,
    school         TEXT    NOT NULL,
    public_key     TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    records        BIGINT  NOT NULL,
    entries        BIGINT  NOT NULL,
    attachments    BIGINT  NOT NULL
);
CREATE INDEX record_transfers_package ON record_transfers (package_sha256, direction);

CREATE FUNCTION record_transfer_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: nothing is changed or deleted', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER record_received_entries_no_change BEFORE UPDATE OR DELETE ON record_received_entries
    FOR EACH ROW EXECUTE FUNCTION record_transfer_append_only();
CREATE TRIGGER record_received_entries_no_truncate BEFORE TRUNCATE ON record_received_entries
    FOR EACH STATEMENT EXECUTE FUNCTION record_transfer_append_only();
CREATE TRIGGER record_transfers_no_change BEFORE UPDATE OR DELETE ON record_transfers
    FOR EACH ROW EXECUTE FUNCTION record_transfer_append_only();
CREATE TRIGGER record_transfers_no_truncate BEFORE TRUNCATE ON record_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION record_transfer_append_only();
