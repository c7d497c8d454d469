-- A tenant's parked SETs per stream (the console's SET delivery view): parked rows are
-- few and old, so without this index listing them would read the tenant's delivered rows.
CREATE INDEX event_deliveries_tenant_parked ON event_deliveries (tenant_id, stream_id, event_id) WHERE state = 'parked';
