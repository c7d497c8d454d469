-- The tenant admin console: one-time sign-in links made by `scimd admin link` (the
-- console sessions they start live in sessions, kind 'console'). Only SHA-256 hashes of
-- the secrets are stored.

CREATE TABLE admin_links (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    hash       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);
