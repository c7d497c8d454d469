-- The deployment's one signing key set (OIDC ID tokens, Security Event Tokens). Keys are
-- deployment-wide, not per tenant: one JWKS URL publishes them all. generation orders the
-- keys (a rotation inserts newest + 1, so two concurrent rotations collide on the key);
-- not_before is when a key starts signing (it is published from created_at on);
-- expires_at, set when a newer key takes over, is when every token it signed has expired.

CREATE TABLE signing_keys (
    generation  bigint NOT NULL,
    kid         text NOT NULL UNIQUE,
    algorithm   text NOT NULL,
    private_key bytea NOT NULL, -- PKCS #8 DER
    created_at  timestamptz NOT NULL,
    not_before  timestamptz NOT NULL,
    expires_at  timestamptz,    -- NULL: no newer key yet
    PRIMARY KEY (generation)
);
