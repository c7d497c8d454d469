-- SCIM security events (RFC 9967 SETs) pushed to receivers (RFC 8935) or polled by them
-- (RFC 8936). The audit event is the outbox: the change's transaction writes it together
-- with one delivery row per stream that wants it, so that no change is without its SETs.

-- The SCIM operation of a provisioning event (POST, PUT, PATCH, DELETE): a PUT and a PATCH
-- of a user are one audit event name but two RFC 9967 events.
ALTER TABLE audit_events ADD COLUMN method text;

-- Streams are deployment-wide (one application serves every tenant): a reference table.
CREATE TABLE event_streams (
    id              text PRIMARY KEY,
    kind            text NOT NULL,             -- push or poll
    url             text NOT NULL,             -- push: the receiver's endpoint; poll: ''
    audience        text NOT NULL,             -- the SETs' aud
    tenant_id       text REFERENCES tenants (id), -- NULL: every tenant
    events          text NOT NULL,             -- ',audit_event,…,': the audit events delivered
    event_uris      text NOT NULL,             -- ',uri,…,' the RFC 9967 events kept; ',' for all
    paused          boolean NOT NULL DEFAULT false,
    credential_hash bytea UNIQUE,              -- poll: SHA-256 of the stream credential
    created_at      timestamptz NOT NULL
);

-- One row per (stream, audit event): the SET's delivery state. A row is due when its state
-- is pending or inflight and next_at has passed (an inflight row's next_at is its lease).
CREATE TABLE event_deliveries (
    tenant_id   text NOT NULL,
    stream_id   text NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
    event_id    bigint NOT NULL,
    resource_id text NOT NULL,
    state       text NOT NULL,                 -- pending, inflight, delivered, parked
    gen         integer NOT NULL DEFAULT 0,    -- bumped by a replay: the SET gets a new jti
    attempts    integer NOT NULL DEFAULT 0,
    claim       text,                          -- the claim that holds an inflight row
    enqueued_at timestamptz NOT NULL,
    next_at     timestamptz NOT NULL,
    done_at     timestamptz,
    last_error  text,
    PRIMARY KEY (tenant_id, stream_id, event_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (stream_id, next_at)
    WHERE state IN ('pending', 'inflight');
-- Per-resource order: a row waits while an earlier row of its resource is undelivered.
CREATE INDEX event_deliveries_resource ON event_deliveries (tenant_id, stream_id, resource_id, event_id)
    WHERE state IN ('pending', 'inflight');
CREATE INDEX event_deliveries_parked ON event_deliveries (stream_id, done_at) WHERE state = 'parked';
