-- User search for the operators' console, and the indexes that keep user
-- search and the officer queue one index range each at a million rows.
-- Forward-only: never edit this file once it has landed.
--
-- name_key is the lower-cased name as bytes. A byte string compares byte
-- by byte on both databases whatever the collation, so the prefix search
-- "name_key >= prefix AND name_key < successor(prefix)" is exact and an
-- index range; the same range over TEXT would follow Postgres's locale
-- collation, which orders "ab c" between "abc" and "abd". The Go code
-- writes it (strings.ToLower) with every name; rows already stored get the
-- database's LOWER, the same for the ASCII names nearly everyone has.
ALTER TABLE users ADD COLUMN name_key {{BLOB}} NOT NULL DEFAULT '';
UPDATE users SET name_key = CAST(LOWER(name) AS {{BLOB}});
CREATE INDEX users_name_key ON users (name_key, id);

-- NIB is UNIQUE already; an NPWP may be shared by several organizations
-- (a company's branches).
CREATE INDEX organizations_npwp ON organizations (npwp);

-- The queue filtered by status and trader type at once: without it the
-- status index is read in order and rows of other trader types skipped,
-- which grows with the queue.
CREATE INDEX registrations_status_trader_type ON registrations (status, trader_type, submitted_at, id);
