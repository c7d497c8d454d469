-- Per-tenant token buckets, shared by every replica: one row per tenant, refilled on use.
CREATE TABLE rate_limits (
    tenant_id  text PRIMARY KEY REFERENCES tenants (id),
    tokens     double precision NOT NULL,
    updated_at double precision NOT NULL, -- seconds since the Unix epoch
    taken      integer NOT NULL           -- 1 when the last take got a token
);
