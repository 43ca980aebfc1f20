-- Sign-in with an upstream OpenID provider (INApas and others): which
-- upstream identity is which user, and which registrations an upstream
-- identity started. Forward-only; same conventions as 0001 (BIGINT unix
-- microseconds). 0007 is reserved for passkeys.

-- (upstream_id, subject) is the upstream identity: the provider's sub is
-- unique only within that provider (OIDC Core §2). A link means nothing
-- without its user, so deleting the user deletes it.
CREATE TABLE upstream_links (
    upstream_id  TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (upstream_id, subject)
);

-- The security page lists a user's links; deleting a user finds them here.
CREATE INDEX upstream_links_user ON upstream_links (user_id);

-- NOT NULL with defaults, so a node still on the previous release can go on
-- inserting registrations during a rolling deploy.
ALTER TABLE registrations ADD COLUMN upstream_id TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN upstream_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN verified_by TEXT NOT NULL DEFAULT '';
