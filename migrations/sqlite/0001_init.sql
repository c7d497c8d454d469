-- Tenants, SCIM tokens, users, groups and memberships, audit events; mirrors postgres/.
-- Timestamps are TEXT in scim.TimeFormat (UTC, fixed digits) so that text order is time order.

CREATE TABLE tenants (
    id                TEXT PRIMARY KEY,
    slug              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    default_user_type TEXT NOT NULL DEFAULT 'member',
    user_types        TEXT NOT NULL DEFAULT 'admin,member,viewer,guest',
    created_at        TEXT NOT NULL
) STRICT;

CREATE TABLE scim_tokens (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    id           TEXT NOT NULL,
    label        TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;
-- Token ids are random and unique across tenants, so that `scimd token revoke ID` names one
-- token; the table is a reference table under Citus (deploy/SCALING.md).
CREATE UNIQUE INDEX scim_tokens_id ON scim_tokens (id);

CREATE TABLE users (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    external_id   TEXT,
    active        INTEGER NOT NULL,
    user_type     TEXT,
    display_name  TEXT,
    created_at    TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version       INTEGER NOT NULL,
    data          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, lower(user_name));
-- created_at, id follow so that a lookup also reads in list order (no sort, and no planner
-- temptation to scan the tenant in created order instead).
CREATE INDEX users_external_id ON users (tenant_id, external_id, created_at, id);
CREATE INDEX users_created ON users (tenant_id, created_at, id);
CREATE INDEX users_last_modified ON users (tenant_id, last_modified);

CREATE TABLE groups (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    external_id   TEXT,
    created_at    TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version       INTEGER NOT NULL,
    data          TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, lower(display_name));
CREATE INDEX groups_external_id ON groups (tenant_id, external_id, created_at, id);
CREATE INDEX groups_created ON groups (tenant_id, created_at, id);

CREATE TABLE group_members (
    tenant_id   TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_type TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

CREATE TABLE audit_events (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            INTEGER NOT NULL,
    at            TEXT NOT NULL,
    event         TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    actor         TEXT NOT NULL,
    token_id      TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    resource_name TEXT,
    changed       TEXT,
    detail        TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX audit_events_at ON audit_events (tenant_id, at);
CREATE INDEX audit_events_resource ON audit_events (tenant_id, resource_id, at);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
