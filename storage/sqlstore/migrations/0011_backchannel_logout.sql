-- OIDC Back-Channel Logout 1.0: where a client application is told that a
-- session which signed the user in to it has ended. Empty: not told.
-- Forward-only: never edit this file once it has landed.

ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
