-- The audit log becomes a hash chain, with each event's outcome, and
-- gets the indexes its filters need. Forward-only: never edit this file
-- once it has landed.
--
-- prev_hash and hash are filled by the Go code (storage.AuditHash): the
-- rows stored before this migration are chained right after it, in the
-- same transaction (Migrate), and every append chains its own.
ALTER TABLE audit_events ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN prev_hash {{BLOB}} NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash {{BLOB}} NOT NULL DEFAULT '';

-- The chain's head: one row, the newest chained event. Every append locks
-- it for its transaction, which serializes appenders across nodes.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY,
    last_id   BIGINT NOT NULL,
    last_hash {{BLOB}} NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '');

-- Filters of the audit listing and export: by action (exact, or each
-- action of a prefix) and by client, newest first.
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_client ON audit_events (client_id, id);
