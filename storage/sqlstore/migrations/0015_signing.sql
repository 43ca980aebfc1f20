-- Signing algorithms per client, scheduled key rotation and private keys
-- sealed with a key-encryption key (issue 11).
-- Forward-only: never edit this file once it has landed.

-- The JWS alg of the client's ID tokens and logout tokens; empty: the
-- provider's default (RS256).
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT '';

-- A key signs from activates_at on (published before use, OIDC Core
-- §10.1.1), names the key it replaces (predecessor; empty for the first key
-- of its algorithm) and says whether private_der is sealed (AES-256-GCM with
-- the key-encryption key). not_after is when a replaced key retires.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN predecessor TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_keys ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;

-- Keys from before kept their old rule: sign two minutes (twice the default
-- refresh) after creation. Each gets a predecessor of its own that no new key
-- can name, so the index below holds for them.
UPDATE signing_keys SET activates_at = created_at + 120000000, predecessor = 'legacy:' || id;

-- A key has at most one successor: of several nodes rotating at once, one
-- insert wins and the others fail (storage.ErrConflict).
CREATE UNIQUE INDEX signing_keys_successor ON signing_keys (algorithm, predecessor);
