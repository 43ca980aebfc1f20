-- The first schema. Forward-only: never edit this file once it has landed;
-- add 0002_….sql instead. End every statement with ";" at the end of a line
-- (the runner executes statements one by one).
--
-- Portable between SQLite and Postgres: times are BIGINT unix microseconds
-- (UTC, no time zone ambiguity), lists and maps are JSON in TEXT, and the two
-- type names the databases disagree on are the dialect's {{BLOB}} and
-- {{IDENTITY}}. Usernames and emails are stored lower case by the Go code, so
-- plain UNIQUE constraints give case-insensitive uniqueness.

CREATE TABLE organizations (
    id            TEXT PRIMARY KEY,
    nib           TEXT NOT NULL UNIQUE,
    npwp          TEXT NOT NULL,
    name          TEXT NOT NULL,
    trader_type   TEXT NOT NULL,
    business_type TEXT NOT NULL,
    address       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    email           TEXT NOT NULL,
    email_verified  BOOLEAN NOT NULL,
    name            TEXT NOT NULL,
    phone           TEXT NOT NULL,
    job_title       TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    roles           TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Staff accounts may have no email; only real addresses must be unique.
CREATE UNIQUE INDEX users_email ON users (email) WHERE email <> '';
CREATE INDEX users_organization ON users (organization_id);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    secret_hash               TEXT NOT NULL,
    name                      TEXT NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    public                    BOOLEAN NOT NULL,
    grant_types               TEXT NOT NULL,
    access_token_format       TEXT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_der {{BLOB}} NOT NULL,
    created_at  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    audience   TEXT NOT NULL,
    amr        TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- 0 while the token is unused; rotation sets it only where it is 0.
    used_at    BIGINT NOT NULL
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id          {{IDENTITY}},
    occurred_at BIGINT NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    ip          TEXT NOT NULL,
    detail      TEXT NOT NULL
);
