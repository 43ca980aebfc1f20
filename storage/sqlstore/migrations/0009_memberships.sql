-- A company is many people: memberships with a per-organization role, the
-- organization a user chose for each application, and the administrators'
-- invitations. Forward-only: never edit this file once it has landed. Same
-- conventions as 0001 (BIGINT unix microseconds, 0 is "not yet").
--
-- users.organization_id stays, as the user's default organization: it is
-- what an application receives when the user chose none, and a node still
-- on the previous release reads it during a rolling deploy.

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);

-- A user's organizations (the chooser, the claim); the primary key serves
-- an organization's member list.
CREATE INDEX memberships_user ON memberships (user_id, created_at);

-- Every existing user with an organization becomes its member; the oldest
-- account of each organization (until now there was one) its administrator.
INSERT INTO memberships (organization_id, user_id, role, created_at)
SELECT u.organization_id, u.id,
       CASE WHEN u.id = (SELECT f.id FROM users f WHERE f.organization_id = u.organization_id
                         ORDER BY f.created_at, f.id LIMIT 1) THEN 'admin' ELSE 'member' END,
       u.created_at
FROM users u JOIN organizations o ON o.id = u.organization_id;

-- The organization released to one application, chosen by the user after
-- signing in. Meaningless without any of the three, so each delete cascades.
CREATE TABLE organization_choices (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    chosen_at       BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE INDEX organization_choices_client ON organization_choices (client_id);
CREATE INDEX organization_choices_organization ON organization_choices (organization_id);

-- Only the SHA-256 of the link's secret is stored (token_hash), as for
-- action_tokens; the row's own id names it on the administrator's page.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL,
    invited_by      TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    -- 0 while pending; acceptance sets it only where it is 0.
    accepted_at     BIGINT NOT NULL,
    user_id         TEXT NOT NULL
);

CREATE INDEX invitations_organization ON invitations (organization_id, created_at);

-- One code set for the business type: the registration wizard's lower-case
-- codes (README, "Scopes and claims"). Demo data and early rows said "PT".
UPDATE organizations SET business_type = LOWER(business_type)
WHERE LOWER(business_type) IN ('pt', 'cv', 'firma', 'koperasi', 'perorangan', 'bumn', 'bumd', 'yayasan', 'perwakilan_asing', 'lainnya');
