-- Third-party-initiated login (OIDC Core §4): where "Open" in Your Apps sends
-- the browser, so the application starts the sign-in itself and the user
-- lands there signed in. Empty: "Open" goes to the launch URL.
-- Forward-only: never edit this file once it has landed.

ALTER TABLE clients ADD COLUMN initiate_login_uri TEXT NOT NULL DEFAULT '';
