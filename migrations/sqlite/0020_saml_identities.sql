-- The persistent NameIDs an IdP signed users in with; mirrors postgres/0020_saml_identities.sql.

CREATE TABLE saml_identities (
    tenant_id  TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    name_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, issuer, name_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX saml_identities_user ON saml_identities (tenant_id, user_id);
