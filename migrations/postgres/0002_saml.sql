-- SAML single sign-on: per-tenant IdP settings and SP key pair, sent AuthnRequests bound to
-- a browser, consumed assertion ids (the replay cache every replica shares), and browser
-- sessions (only the SHA-256 hash of the cookie's id is stored).

CREATE TABLE saml_configs (
    tenant_id           text NOT NULL REFERENCES tenants (id),
    idp_entity_id       text NOT NULL,
    idp_sso_url         text NOT NULL,
    idp_cert_pem        text NOT NULL,
    jit                 boolean NOT NULL,
    allow_idp_initiated boolean NOT NULL,
    default_redirect    text NOT NULL,
    sp_key_pem          bytea NOT NULL,
    sp_cert_pem         text NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id)
);

CREATE TABLE saml_requests (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    id           text NOT NULL,
    binding_hash bytea NOT NULL,
    return_to    text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX saml_requests_binding ON saml_requests (tenant_id, binding_hash);
CREATE INDEX saml_requests_expires ON saml_requests (expires_at);

CREATE TABLE saml_assertions (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    id         text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX saml_assertions_expires ON saml_assertions (expires_at);

CREATE TABLE sessions (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    hash       bytea NOT NULL,
    kind       text NOT NULL, -- sso: a user signed in; console: a bootstrap console session
    user_id    uuid,          -- NULL for a console session
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);
CREATE INDEX sessions_expires ON sessions (expires_at);
