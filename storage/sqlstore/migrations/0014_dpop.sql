-- DPoP (RFC 9449): a public client's refresh token is bound to the key its
-- DPoP proofs are signed with (the RFC 7638 thumbprint; empty: not bound),
-- and a client may be made to present a proof with every token request.
-- Forward-only: never edit this file once it has landed.

ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN dpop_required BOOLEAN NOT NULL DEFAULT FALSE;
