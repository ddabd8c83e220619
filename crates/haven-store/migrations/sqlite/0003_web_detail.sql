-- Activity log, version 3 (SQLite): what only a proxied web request has. NULL for DNS queries.
ALTER TABLE events ADD COLUMN sni        TEXT;
ALTER TABLE events ADD COLUMN status     INTEGER;
ALTER TABLE events ADD COLUMN bytes_up   INTEGER;
ALTER TABLE events ADD COLUMN bytes_down INTEGER;
