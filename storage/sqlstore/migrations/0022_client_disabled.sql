-- An operator disables a client application without deleting it (issue 9):
-- the provider refuses it as if unknown until it is enabled again.
-- Forward-only: never edit this file once it has landed.
ALTER TABLE clients ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
