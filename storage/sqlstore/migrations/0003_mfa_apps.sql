-- TOTP multi-factor on users; the "Your Apps" listing, required MFA and
-- account linking on clients; and the account links themselves.
-- Forward-only: never edit this file once it has landed. Same conventions as
-- 0001: BIGINT unix microseconds (0 is the zero time: "never", "not yet"),
-- JSON lists in TEXT, {{BLOB}} for bytes.
--
-- Every new column is NOT NULL with a default, so rows written before this
-- migration read as "not enrolled", "not listed", "no link URL", and a node
-- still running the previous release during a rolling deploy can go on
-- inserting (it names its columns and leaves these to their defaults).
-- SQLite takes one ADD COLUMN per ALTER TABLE, hence one statement each.

-- The TOTP secret, encrypted by the caller; empty: none. '' is an empty
-- BYTEA on Postgres and an empty value on SQLite.
ALTER TABLE users ADD COLUMN totp_secret {{BLOB}} NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN mfa_enrolled_at BIGINT NOT NULL DEFAULT 0;
-- argon2id hashes of the unused recovery codes, a JSON list.
ALTER TABLE users ADD COLUMN recovery_codes TEXT NOT NULL DEFAULT '[]';
-- 0 for accounts whose password predates this column: unknown, not "never".
ALTER TABLE users ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0;

ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN listed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN logo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN launch_url TEXT NOT NULL DEFAULT '';
-- A JSON list of organization trader types; empty: every user.
ALTER TABLE clients ADD COLUMN allowed_trader_types TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN account_link_url TEXT NOT NULL DEFAULT '';

-- A link names a user's account inside one client application. It means
-- nothing without both, so deleting either deletes it: users and clients
-- have TEXT primary keys, which both databases can reference, and the SQLite
-- backend turns foreign keys on (PRAGMA foreign_keys) on every connection.
CREATE TABLE app_links (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    app_username TEXT NOT NULL,
    linked_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- The primary key serves lookups by user; deleting a client finds its links
-- here instead of scanning the table (neither database indexes a foreign key
-- by itself).
CREATE INDEX app_links_client ON app_links (client_id);
