-- SCIM security events; mirrors postgres/0015_event_streams.sql. Timestamps are TEXT in
-- scim.TimeFormat, so that text order is time order.

ALTER TABLE audit_events ADD COLUMN method TEXT;

CREATE TABLE event_streams (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    audience        TEXT NOT NULL,
    tenant_id       TEXT REFERENCES tenants (id),
    events          TEXT NOT NULL,
    event_uris      TEXT NOT NULL,
    paused          INTEGER NOT NULL DEFAULT 0,
    credential_hash BLOB UNIQUE,
    created_at      TEXT NOT NULL
) STRICT;

CREATE TABLE event_deliveries (
    tenant_id   TEXT NOT NULL,
    stream_id   TEXT NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
    event_id    INTEGER NOT NULL,
    resource_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    gen         INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    claim       TEXT,
    enqueued_at TEXT NOT NULL,
    next_at     TEXT NOT NULL,
    done_at     TEXT,
    last_error  TEXT,
    PRIMARY KEY (tenant_id, stream_id, event_id)
) STRICT;
CREATE INDEX event_deliveries_due ON event_deliveries (stream_id, next_at)
    WHERE state IN ('pending', 'inflight');
CREATE INDEX event_deliveries_resource ON event_deliveries (tenant_id, stream_id, resource_id, event_id)
    WHERE state IN ('pending', 'inflight');
CREATE INDEX event_deliveries_parked ON event_deliveries (stream_id, done_at) WHERE state = 'parked';
