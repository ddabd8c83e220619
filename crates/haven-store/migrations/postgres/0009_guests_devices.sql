-- Guests and registered devices, version 9 (postgres). A guest registers at the portal naming a
-- sponsoring member of staff, who approves or declines from the console; an approved pass binds
-- the guest's device to the guest group until it expires. Registered devices map a MAC or a fixed
-- address to an owner in the people directory; retired devices are kept, never deleted.
CREATE TABLE guest_passes (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    sponsor_account_id BIGINT REFERENCES accounts (id),
    address            TEXT    NOT NULL,
    token_hash         TEXT    NOT NULL UNIQUE,
    status             TEXT    NOT NULL,
    requested_ms       BIGINT NOT NULL,
    decided_ms         BIGINT,
    decided_by         TEXT    NOT NULL DEFAULT '',
    hours              BIGINT,
    expires_ms         BIGINT
);
CREATE INDEX guest_passes_sponsor ON guest_passes (sponsor_account_id, status);

CREATE TABLE devices (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT    NOT NULL,
    mac             TEXT,
    address         TEXT,
    owner_person_id BIGINT REFERENCES people (id),
    notes           TEXT    NOT NULL DEFAULT '',
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL
);
CREATE UNIQUE INDEX devices_mac ON devices (mac) WHERE active AND mac IS NOT NULL;
CREATE UNIQUE INDEX devices_address ON devices (address) WHERE active AND address IS NOT NULL;
