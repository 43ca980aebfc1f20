-- Company registrations, their documents and status history, and the
-- single-use tokens (activation, password reset) sent by email.
-- Forward-only: never edit this file once it has landed. Same conventions as
-- 0001: BIGINT unix microseconds, JSON in TEXT, {{BLOB}} and {{IDENTITY}}.

CREATE TABLE registrations (
    id              TEXT PRIMARY KEY,
    service_number  TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    trader_type     TEXT NOT NULL,
    nib_type        TEXT NOT NULL,
    nib             TEXT NOT NULL,
    npwp_type       TEXT NOT NULL,
    npwp            TEXT NOT NULL,
    org_name        TEXT NOT NULL,
    business_type   TEXT NOT NULL,
    address         TEXT NOT NULL,
    full_name       TEXT NOT NULL,
    job_title       TEXT NOT NULL,
    identity_type   TEXT NOT NULL,
    identity_number TEXT NOT NULL,
    email           TEXT NOT NULL,
    phone           TEXT NOT NULL,
    -- Not a foreign key: the registration row is written before its first
    -- document, which references it.
    document_id     TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    submitted_at    BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The officer queue is read newest first and paged by (submitted_at, id);
-- each index ends in those columns so a filtered page is one range scan.
CREATE INDEX registrations_submitted ON registrations (submitted_at, id);
CREATE INDEX registrations_status ON registrations (status, submitted_at, id);
CREATE INDEX registrations_trader_type ON registrations (trader_type, submitted_at, id);

-- OpenRegistrationFor looks only at undecided registrations, which stay few
-- while decided ones pile up; the predicate is repeated verbatim in the
-- query so both planners can prove the partial index applies.
CREATE INDEX registrations_open_nib ON registrations (nib) WHERE status NOT IN ('approved', 'rejected');
CREATE INDEX registrations_open_email ON registrations (email) WHERE status NOT IN ('approved', 'rejected');

CREATE TABLE registration_documents (
    id              TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    file_name       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    data            {{BLOB}} NOT NULL,
    created_at      BIGINT NOT NULL,
    -- The Go code refuses larger files first; this guards other writers.
    CHECK (LENGTH(data) <= 1048576)
);

CREATE INDEX registration_documents_registration ON registration_documents (registration_id);

-- Append-only; the identity gives the order of events of one registration,
-- which are written under its row lock.
CREATE TABLE registration_events (
    id              {{IDENTITY}},
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    status          TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    note            TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL
);

CREATE INDEX registration_events_registration ON registration_events (registration_id, id);

CREATE TABLE action_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- 0 while unused; consumption sets it only where it is 0.
    used_at    BIGINT NOT NULL
);
