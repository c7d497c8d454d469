-- IdP metadata from a URL; mirrors postgres/0031_saml_metadata_refresh.sql.
ALTER TABLE saml_configs ADD COLUMN idp_metadata_url TEXT NOT NULL DEFAULT '';

CREATE TABLE saml_metadata_refresh (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    due_at          TEXT NOT NULL,
    lease_token     TEXT NOT NULL DEFAULT '',
    lease_until     TEXT,
    last_attempt_at TEXT,
    last_success_at TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    last_error_at   TEXT,
    failures        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id)
) STRICT;
CREATE INDEX saml_metadata_refresh_due ON saml_metadata_refresh (due_at);
