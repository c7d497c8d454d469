-- Single logout: the IdP's SingleLogoutService URL, and the NameID and SessionIndex of the
-- login each SSO session came from, so that sign-out can name the session to the IdP and an
-- IdP's LogoutRequest can find the sessions it ends. The index on oidc_tokens' user lets an
-- IdP logout revoke the user's tokens without a scan.
ALTER TABLE saml_configs ADD COLUMN idp_slo_url text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN name_id text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN name_id_format text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN session_index text NOT NULL DEFAULT '';
CREATE INDEX sessions_name_id ON sessions (tenant_id, name_id);
CREATE INDEX oidc_tokens_user ON oidc_tokens (tenant_id, user_id);
