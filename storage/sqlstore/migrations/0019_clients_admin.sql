-- The admin API's clients and the administrator's unlock (issue 9).
-- admin_api: the client may obtain the "admin" scope by client_credentials.
-- lock_epoch: part of the key the account's sign-in failures are counted
-- under in the ephemeral store; an unlock raises it, so every node (and an
-- embedded server whose counters no other process can reach) starts a
-- fresh count.
-- Forward-only: never edit this file once it has landed.

ALTER TABLE clients ADD COLUMN admin_api BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN lock_epoch BIGINT NOT NULL DEFAULT 0;
