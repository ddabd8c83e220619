-- Alerts, version 15 (sqlite). Times are integer milliseconds since the Unix epoch, UTC.
-- An alert is never deleted: it moves new -> acknowledged -> closed with an outcome, and every
-- step is appended to alert_log, which the database refuses to change or delete.
CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    raised_ms      INTEGER NOT NULL,
    last_ms        INTEGER NOT NULL,
    hits           INTEGER NOT NULL DEFAULT 1,
    rule           TEXT NOT NULL,
    title          TEXT NOT NULL,
    why            TEXT NOT NULL,
    severity       TEXT NOT NULL,
    category       TEXT NOT NULL,
    person         TEXT NOT NULL,
    grp            TEXT NOT NULL,
    subject        TEXT NOT NULL,
    device         TEXT,
    client         TEXT NOT NULL,
    search_engine  TEXT,
    search_terms   TEXT,
    state          TEXT NOT NULL DEFAULT 'new',
    ack_by         TEXT,
    ack_ms         INTEGER,
    outcome        TEXT,
    outcome_reason TEXT,
    outcome_by     TEXT,
    outcome_ms     INTEGER,
    concern_link   TEXT
);
CREATE INDEX alerts_state_raised ON alerts (state, raised_ms);
CREATE INDEX alerts_raised ON alerts (raised_ms);
CREATE INDEX alerts_person ON alerts (person, raised_ms);

-- The keywords that matched, with the library version, so the evidence says why years later.
CREATE TABLE alert_keywords (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id  INTEGER NOT NULL REFERENCES alerts (id),
    term      TEXT NOT NULL,
    matched   TEXT NOT NULL,
    category  TEXT NOT NULL,
    severity  TEXT NOT NULL,
    rationale TEXT NOT NULL,
    library   TEXT NOT NULL
);
CREATE INDEX alert_keywords_alert ON alert_keywords (alert_id);

-- Copies of the events that raised or were counted on an alert (the first 100), with the same
-- columns as events, so evidence outlives activity-log retention.
CREATE TABLE alert_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id),
    time_ms     INTEGER NOT NULL,
    channel     TEXT NOT NULL,
    client      TEXT NOT NULL,
    device      TEXT,
    user_name   TEXT,
    grp         TEXT NOT NULL,
    name        TEXT NOT NULL,
    qtype       TEXT NOT NULL,
    action      TEXT NOT NULL,
    category    TEXT,
    rule        TEXT NOT NULL,
    list_source TEXT,
    list_entry  TEXT,
    flags       INTEGER NOT NULL DEFAULT 0,
    upstream    TEXT,
    latency_us  INTEGER NOT NULL DEFAULT 0,
    sni         TEXT,
    status      INTEGER,
    bytes_up    INTEGER,
    bytes_down  INTEGER
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, time_ms);

-- Every lifecycle step and every read of an alert's evidence, append-only.
CREATE TABLE alert_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at_ms    INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_log_alert ON alert_log (alert_id, at_ms);

-- Each notification sent (or failed): console, email, webhook; step is the escalation step.
CREATE TABLE alert_deliveries (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id  INTEGER NOT NULL REFERENCES alerts (id),
    at_ms     INTEGER NOT NULL,
    channel   TEXT NOT NULL,
    recipient TEXT NOT NULL,
    step      INTEGER NOT NULL,
    status    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id, at_ms);

-- Scoped, time-limited suppressions, each with a reason and who made it.
CREATE TABLE alert_exclusions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    person     TEXT,
    rule       TEXT,
    subject    TEXT,
    until_ms   INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    from_alert INTEGER REFERENCES alerts (id)
);

-- The rules in force are the newest row's rules_after (none: the shipped defaults). Every
-- change carries a reason; rows are never changed or deleted.
CREATE TABLE alert_rule_changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms        INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    rules_before TEXT NOT NULL,
    rules_after  TEXT NOT NULL
);

CREATE TRIGGER alert_log_no_update BEFORE UPDATE ON alert_log BEGIN SELECT RAISE(ABORT, 'alert_log is append-only'); END;
CREATE TRIGGER alert_log_no_delete BEFORE DELETE ON alert_log BEGIN SELECT RAISE(ABORT, 'alert_log is append-only'); END;
CREATE TRIGGER alert_rule_changes_no_update BEFORE UPDATE ON alert_rule_changes BEGIN SELECT RAISE(ABORT, 'the rule change log is append-only'); END;
CREATE TRIGGER alert_rule_changes_no_delete BEFORE DELETE ON alert_rule_changes BEGIN SELECT RAISE(ABORT, 'the rule change log is append-only'); END;
CREATE TRIGGER alerts_no_delete BEFORE DELETE ON alerts BEGIN SELECT RAISE(ABORT, 'alerts are never deleted'); END;
