-- Single logout; mirrors postgres/0030_saml_single_logout.sql.
ALTER TABLE saml_configs ADD COLUMN idp_slo_url TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN name_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN name_id_format TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN session_index TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_name_id ON sessions (tenant_id, name_id);
CREATE INDEX oidc_tokens_user ON oidc_tokens (tenant_id, user_id);
