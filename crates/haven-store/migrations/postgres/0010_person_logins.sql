-- Sign-in names of people, version 10 (postgres): the names a person types at the Wi-Fi or a PC
-- (LDAP uid, sAMAccountName, userPrincipalName), so a RADIUS User-Name finds their filtering group.
-- Written by the LDAP directory sync; one name belongs to one person at a time.
CREATE TABLE person_logins (
    login      TEXT   PRIMARY KEY,
    person_id  BIGINT NOT NULL REFERENCES people (id),
    source     TEXT   NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX person_logins_person ON person_logins (person_id);
