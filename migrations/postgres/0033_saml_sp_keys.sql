-- The SP certificate rotates by publishing before use: the next key pair is kept beside the
-- current one (empty when no rotation is under way), advertised in the SP metadata and used
-- to decrypt, until it is activated. A tenant may require encrypted assertions.
ALTER TABLE saml_configs ADD COLUMN sp_next_key_pem bytea NOT NULL DEFAULT ''::bytea;
ALTER TABLE saml_configs ADD COLUMN sp_next_cert_pem text NOT NULL DEFAULT '';
ALTER TABLE saml_configs ADD COLUMN require_encrypted_assertions boolean NOT NULL DEFAULT false;
