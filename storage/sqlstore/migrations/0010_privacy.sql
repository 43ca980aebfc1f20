-- Each person's rights over their data (UU 27/2022): deletion requests, and
-- indexes for the lookups of the data export and the retention job.
-- Forward-only: never edit this file once it has landed.

CREATE TABLE deletion_requests (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_at   BIGINT NOT NULL DEFAULT 0,
    decided_by   TEXT NOT NULL DEFAULT '',
    note         TEXT NOT NULL DEFAULT ''
);
-- One pending request per person; both databases take a partial unique index.
CREATE UNIQUE INDEX deletion_requests_pending ON deletion_requests (user_id) WHERE status = 'pending';
CREATE INDEX deletion_requests_status ON deletion_requests (status, requested_at, id);

-- "The audit events about the person" in the export: by actor or subject,
-- newest first, without scanning the largest table.
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_subject ON audit_events (subject, id);

-- The registration history of a person, approved (user_id) or not yet
-- (email); and the retention job's "closed before".
CREATE INDEX registrations_user ON registrations (user_id);
CREATE INDEX registrations_email ON registrations (email);
CREATE INDEX registrations_status_updated ON registrations (status, updated_at);

-- Corrections of a company's data, asked by its administrator and applied by
-- an officer (the NIB and NPWP name the company and are not corrected here).
-- One pending request per organization.
CREATE TABLE correction_requests (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    name            TEXT NOT NULL,
    address         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    requested_at    BIGINT NOT NULL,
    decided_at      BIGINT NOT NULL DEFAULT 0,
    decided_by      TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX correction_requests_pending ON correction_requests (organization_id) WHERE status = 'pending';
CREATE INDEX correction_requests_status ON correction_requests (status, requested_at, id);
