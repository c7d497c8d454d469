-- Per-tenant token buckets, shared by every replica: one row per tenant, refilled on use.
CREATE TABLE rate_limits (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    tokens     REAL NOT NULL,
    updated_at REAL NOT NULL, -- seconds since the Unix epoch
    taken      INTEGER NOT NULL  -- 1 when the last take got a token
) STRICT;
