-- scimd as the OpenID Connect provider of the application it fronts. Clients are
-- deployment-wide (one application serves every tenant); authorization requests and the
-- tokens they grant belong to the tenant the application named. Secrets and refresh tokens
-- are stored as SHA-256 hashes only.

CREATE TABLE oidc_clients (
    id                          text NOT NULL,
    name                        text NOT NULL,
    redirect_uris               text NOT NULL, -- one per line, matched exactly
    public                      boolean NOT NULL,
    secret_hash                 bytea,         -- NULL for a public client
    previous_secret_hash        bytea,         -- still accepted until previous_secret_expires_at
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL,
    PRIMARY KEY (id)
);

CREATE TABLE oidc_auth_requests (
    tenant_id        text NOT NULL REFERENCES tenants (id),
    id               text NOT NULL,
    client_id        text NOT NULL,
    binding_hash     bytea NOT NULL, -- the browser that sent the request
    params           bytea NOT NULL, -- the request's parameters (JSON)
    user_id          text,           -- set when the user has signed in
    auth_time        timestamptz,
    login_started_at timestamptz,    -- a forced IdP login was sent
    code_hash        bytea,
    code_expires_at  timestamptz,
    code_used_at     timestamptz,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_tokens (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    id         text NOT NULL,
    kind       text NOT NULL, -- access or refresh
    family     text NOT NULL, -- the authorization every token of a grant descends from
    client_id  text NOT NULL,
    user_id    text NOT NULL,
    scopes     text NOT NULL,
    auth_time  timestamptz NOT NULL,
    hash       bytea,         -- refresh: SHA-256 of the token
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,   -- refresh: rotated
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX oidc_tokens_family ON oidc_tokens (tenant_id, family);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);
