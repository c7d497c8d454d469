-- SAML single sign-on; mirrors postgres/0002_saml.sql. Timestamps are TEXT in
-- scim.TimeFormat, so that text order is time order.

CREATE TABLE saml_configs (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    idp_entity_id       TEXT NOT NULL,
    idp_sso_url         TEXT NOT NULL,
    idp_cert_pem        TEXT NOT NULL,
    jit                 INTEGER NOT NULL,
    allow_idp_initiated INTEGER NOT NULL,
    default_redirect    TEXT NOT NULL,
    sp_key_pem          BLOB NOT NULL,
    sp_cert_pem         TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (tenant_id)
) STRICT;

CREATE TABLE saml_requests (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    id           TEXT NOT NULL,
    binding_hash BLOB NOT NULL,
    return_to    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX saml_requests_binding ON saml_requests (tenant_id, binding_hash);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);

CREATE TABLE saml_assertions (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    id         TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX saml_assertions_expires ON saml_assertions (expires_at);

CREATE TABLE sessions (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    hash       BLOB NOT NULL,
    kind       TEXT NOT NULL, -- sso: a user signed in; console: a bootstrap console session
    user_id    TEXT,          -- NULL for a console session
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, hash)
) STRICT;
CREATE INDEX sessions_expires ON sessions (expires_at);
