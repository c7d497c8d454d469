-- The tenant admin console: one-time sign-in links made by `scimd admin link` and the
-- console-only sessions they start. Only SHA-256 hashes of the secrets are stored.

CREATE TABLE admin_links (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    hash       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);

CREATE TABLE admin_sessions (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    hash       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);
