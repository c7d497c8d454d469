-- userType from IdP groups: a tenant's source of userType ('idp': what the IdP sends, else the
-- default; 'groups': its ordered rules), the rules, and a pending recomputation of every user.

ALTER TABLE tenants ADD COLUMN user_type_source text NOT NULL DEFAULT 'idp';
-- The SAML attribute whose values name a JIT user's groups ('' means groups, then memberOf).
ALTER TABLE tenants ADD COLUMN user_type_groups_attr text NOT NULL DEFAULT '';

-- First match wins: the rule with the lowest position naming one of the user's groups.
-- ref_key is the group reference in lower case, compared with lower(display_name) and the id.
CREATE TABLE user_type_rules (
    tenant_id text NOT NULL REFERENCES tenants (id),
    position  integer NOT NULL,
    group_ref text NOT NULL,
    ref_key   text NOT NULL,
    user_type text NOT NULL,
    PRIMARY KEY (tenant_id, position)
);

-- A recomputation of every user after a rule change, in batches by id: after is the last
-- user id done ('' before the first batch); the row is gone when none is pending.
CREATE TABLE user_type_recompute (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    after      text NOT NULL,
    started_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id)
);
