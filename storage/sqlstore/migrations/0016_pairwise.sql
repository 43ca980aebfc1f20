-- Pairwise subject identifiers (OIDC Core §8.1): a client that asks for
-- them receives a sub of its own sector, so two sectors cannot join their
-- users by sub. sector_identifier is the host the value is computed for,
-- fixed at registration (changing it would change every user's sub);
-- sector_identifier_uri is the registered list that let several redirect
-- hosts share one sector. Public subjects stay the default.
-- Forward-only: never edit this file once it has landed.

ALTER TABLE clients ADD COLUMN subject_type TEXT NOT NULL DEFAULT 'public';
ALTER TABLE clients ADD COLUMN sector_identifier TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN sector_identifier_uri TEXT NOT NULL DEFAULT '';
