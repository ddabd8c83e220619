-- The people directory, version 5 (sqlite): pupils, staff, governors, volunteers and visitors, each
-- mapped to a filtering group. People who leave are marked inactive with the time, never
-- deleted, so activity and safeguarding records keep a name to point at.
CREATE TABLE people (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    person_key    TEXT    NOT NULL,
    given_name    TEXT    NOT NULL,
    family_name   TEXT    NOT NULL,
    year_group    INTEGER,
    tutor_group   TEXT,
    date_of_birth TEXT,
    upn           TEXT,
    email         TEXT,
    job_title     TEXT,
    roles         TEXT,
    filter_group  TEXT    NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT 1,
    left_ms       INTEGER,
    source        TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    UNIQUE (kind, person_key)
);
CREATE INDEX people_names ON people (family_name, given_name);
CREATE INDEX people_group ON people (filter_group, active);
