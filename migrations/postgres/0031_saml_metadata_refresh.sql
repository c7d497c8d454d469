-- IdP metadata from a URL: the URL is kept with the SAML settings, and the state of its
-- background refresh in a row per tenant. A replica claims a due row by setting a lease
-- (lease_token, lease_until), so one replica at a time fetches a tenant's metadata; the
-- last success and last error are what the console and `scimd saml show` report.
ALTER TABLE saml_configs ADD COLUMN idp_metadata_url text NOT NULL DEFAULT '';

CREATE TABLE saml_metadata_refresh (
    tenant_id       text NOT NULL REFERENCES tenants (id),
    due_at          timestamptz NOT NULL,
    lease_token     text NOT NULL DEFAULT '',
    lease_until     timestamptz,
    last_attempt_at timestamptz,
    last_success_at timestamptz,
    last_error      text NOT NULL DEFAULT '',
    last_error_at   timestamptz,
    failures        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id)
);
CREATE INDEX saml_metadata_refresh_due ON saml_metadata_refresh (due_at);
