-- Activity log, version 3 (PostgreSQL): what only a proxied web request has. NULL for DNS queries.
ALTER TABLE events ADD COLUMN sni        TEXT COLLATE "C";
ALTER TABLE events ADD COLUMN status     INTEGER;
ALTER TABLE events ADD COLUMN bytes_up   BIGINT;
ALTER TABLE events ADD COLUMN bytes_down BIGINT;
