-- Tenants, SCIM tokens, users, groups and memberships, audit events.
-- Every table but tenants has tenant_id first in its primary key; every query filters on it.

CREATE TABLE tenants (
    id                text PRIMARY KEY,
    slug              text NOT NULL UNIQUE,
    name              text NOT NULL,
    default_user_type text NOT NULL DEFAULT 'member',
    user_types        text NOT NULL DEFAULT 'admin,member,viewer,guest',
    created_at        timestamptz NOT NULL
);

CREATE TABLE scim_tokens (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    id           text NOT NULL,
    label        text NOT NULL,
    hash         bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- Token ids are random and unique across tenants, so that `scimd token revoke ID` names one
-- token; the table is a reference table under Citus (deploy/SCALING.md).
CREATE UNIQUE INDEX scim_tokens_id ON scim_tokens (id);

CREATE TABLE users (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    user_name     text NOT NULL,
    external_id   text,
    active        boolean NOT NULL,
    user_type     text,
    display_name  text,
    created_at    timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    version       bigint NOT NULL,
    data          jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, lower(user_name));
-- created_at, id follow so that a lookup also reads in list order (no sort, and no planner
-- temptation to scan the tenant in created order instead).
CREATE INDEX users_external_id ON users (tenant_id, external_id, created_at, id);
CREATE INDEX users_created ON users (tenant_id, created_at, id);
CREATE INDEX users_last_modified ON users (tenant_id, last_modified);

CREATE TABLE groups (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    display_name  text NOT NULL,
    external_id   text,
    created_at    timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    version       bigint NOT NULL,
    data          jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, lower(display_name));
CREATE INDEX groups_external_id ON groups (tenant_id, external_id, created_at, id);
CREATE INDEX groups_created ON groups (tenant_id, created_at, id);

-- One row per membership: adding a member to a group of 100,000 touches one row.
CREATE TABLE group_members (
    tenant_id   text NOT NULL,
    group_id    uuid NOT NULL,
    member_id   uuid NOT NULL,
    member_type text NOT NULL,
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

CREATE TABLE audit_events (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    at            timestamptz NOT NULL,
    event         text NOT NULL,
    outcome       text NOT NULL,
    actor         text NOT NULL,
    token_id      text,
    resource_type text,
    resource_id   text,
    resource_name text,
    changed       text,
    detail        text,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_at ON audit_events (tenant_id, at);
CREATE INDEX audit_events_resource ON audit_events (tenant_id, resource_id, at);

-- Installation-wide secrets (the cursor signing key), shared by every replica.
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
