-- Pending AuthnRequests are counted per tenant before a new one is stored, so that an
-- anonymous flood of login starts cannot grow the table without bound.
CREATE INDEX saml_requests_tenant_expires ON saml_requests (tenant_id, expires_at);
