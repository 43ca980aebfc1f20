-- Client authentication with signed JWTs (RFC 7523, OIDC Core §9) and
-- Pushed Authorization Requests (RFC 9126).
-- Forward-only: never edit this file once it has landed. Every new column is
-- NOT NULL with a default, so existing rows keep today's behaviour (the auth
-- method derived from public: none or client_secret_basic) and a node still
-- on the previous release can go on inserting. SQLite takes one ADD COLUMN
-- per ALTER TABLE, hence one statement each.

-- token_endpoint_auth_method; '': derived from public.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
-- private_key_jwt: the client's public keys by value (a JSON JWK Set) or by
-- reference (an https URL); at most one of the two is set.
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
-- client_secret_jwt: the secret sealed with AES-256-GCM (the HMAC key must
-- be known in the clear, a hash is not enough); empty for other methods.
ALTER TABLE clients ADD COLUMN secret_sealed {{BLOB}} NOT NULL DEFAULT '';
-- /authorize refuses this client's requests unless pushed (RFC 9126 §6).
ALTER TABLE clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT FALSE;
