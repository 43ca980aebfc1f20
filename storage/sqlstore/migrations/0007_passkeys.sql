-- Passkeys (WebAuthn credentials). Forward-only: never edit this file once
-- it has landed. Same conventions as 0001: BIGINT unix microseconds (0 is
-- "never"), {{BLOB}} for bytes.
--
-- A passkey means nothing without its user, so deleting the user deletes it.
-- The credential id is unique across users: an authenticator's id names one
-- credential, and a second row with it would let a sign-in pick the wrong
-- account.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id {{BLOB}} NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- The credential record, encoded by the login package.
    record        {{BLOB}} NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL DEFAULT 0
);

-- A user's list (the Security page) and the per-user limit.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);
