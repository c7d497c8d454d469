-- Just-in-time provisioning takes the assertion's userType only when the tenant says so:
-- an IdP attribute userType=admin must not make a console admin by default.
ALTER TABLE saml_configs ADD COLUMN jit_trust_user_type boolean NOT NULL DEFAULT false;
