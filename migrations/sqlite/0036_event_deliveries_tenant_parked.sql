-- Mirrors postgres/0036_event_deliveries_tenant_parked.sql.
CREATE INDEX event_deliveries_tenant_parked ON event_deliveries (tenant_id, stream_id, event_id) WHERE state = 'parked';
