-- scimd as the OpenID Connect provider; mirrors postgres/0011_oidc.sql. Timestamps are TEXT
-- in scim.TimeFormat, so that text order is time order.

CREATE TABLE oidc_clients (
    id                          TEXT NOT NULL,
    name                        TEXT NOT NULL,
    redirect_uris               TEXT NOT NULL,
    public                      INTEGER NOT NULL,
    secret_hash                 BLOB,
    previous_secret_hash        BLOB,
    previous_secret_expires_at  TEXT,
    created_at                  TEXT NOT NULL,
    PRIMARY KEY (id)
) STRICT;

CREATE TABLE oidc_auth_requests (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    id               TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    binding_hash     BLOB NOT NULL,
    params           BLOB NOT NULL,
    user_id          TEXT,
    auth_time        TEXT,
    login_started_at TEXT,
    code_hash        BLOB,
    code_expires_at  TEXT,
    code_used_at     TEXT,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    family     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    auth_time  TEXT NOT NULL,
    hash       BLOB,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX oidc_tokens_family ON oidc_tokens (tenant_id, family);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);
