-- The tenant admin console; mirrors postgres/0004_console.sql. Timestamps are TEXT in
-- scim.TimeFormat, so that text order is time order.

CREATE TABLE admin_links (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    hash       BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, hash)
) STRICT;
