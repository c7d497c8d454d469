-- The persistent NameIDs an IdP signed users in with (opaque, stable ids): a later login
-- with the same NameID finds the user even after their email changed, and JIT never
-- creates a second account for them. A deleted user's identities go with the user.

CREATE TABLE saml_identities (
    tenant_id  text NOT NULL,
    issuer     text NOT NULL,
    name_id    text NOT NULL,
    user_id    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, issuer, name_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX saml_identities_user ON saml_identities (tenant_id, user_id);
