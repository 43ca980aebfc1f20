-- The letters of registration drafts in progress, one per draft, until the
-- draft is submitted (the letter moves to registration_documents in the
-- same transaction), replaced or expired. They used to live in the
-- ephemeral store, where a flood of anonymous drafts could fill Redis and
-- stop every sign-in; here their number and total size are capped by the
-- inserting transaction (sqlstore/draftdocuments.go).
-- Forward-only: never edit this file once it has landed. Same conventions as
-- 0001: BIGINT unix microseconds, {{BLOB}}.

CREATE TABLE draft_documents (
    draft_id     TEXT PRIMARY KEY,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    data         {{BLOB}} NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- The Go code refuses larger files first; this guards other writers.
    CHECK (LENGTH(data) <= 1048576 AND size = LENGTH(data))
);

-- Pruning and the cap's count read only live (or only expired) rows.
CREATE INDEX draft_documents_expires ON draft_documents (expires_at);

-- One row that every inserting transaction locks first (FOR UPDATE on
-- Postgres; SQLite's write lock already serializes), so two uploads at once
-- cannot both see room under the cap and both take it.
CREATE TABLE draft_documents_lock (
    id BIGINT PRIMARY KEY
);

INSERT INTO draft_documents_lock (id) VALUES (1);
