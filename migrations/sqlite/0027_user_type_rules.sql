-- userType from IdP groups; mirrors postgres/.

ALTER TABLE tenants ADD COLUMN user_type_source TEXT NOT NULL DEFAULT 'idp';
ALTER TABLE tenants ADD COLUMN user_type_groups_attr TEXT NOT NULL DEFAULT '';

CREATE TABLE user_type_rules (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    position  INTEGER NOT NULL,
    group_ref TEXT NOT NULL,
    ref_key   TEXT NOT NULL,
    user_type TEXT NOT NULL,
    PRIMARY KEY (tenant_id, position)
) STRICT;

CREATE TABLE user_type_recompute (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    after      TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id)
) STRICT;
