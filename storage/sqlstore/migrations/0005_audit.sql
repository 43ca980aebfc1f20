-- Audit retention: PruneAudit deletes the events older than the retention
-- limit by occurred_at, which without an index is a full scan of the
-- largest table, repeated by every pruning run.
-- Forward-only: never edit this file once it has landed.
CREATE INDEX IF NOT EXISTS audit_events_occurred_at ON audit_events (occurred_at);
