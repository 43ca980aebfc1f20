-- The readiness check's write probe (Store.ProbeWrite): every node upserts
-- its own row each time it checks its dependencies, so /readyz fails when
-- the database still answers but refuses writes (a read-only standby after
-- a failover, default_transaction_read_only, a full disk), which a ping
-- cannot see. One row per host name, rewritten in place; nothing reads it
-- but an operator asking which nodes checked in last (checked_at: unix
-- microseconds, as in 0001).
-- Forward-only: never edit this file once it has landed.
CREATE TABLE health_probe (
    node       TEXT PRIMARY KEY,
    checked_at BIGINT NOT NULL
);
