-- The deployment's signing key set; mirrors postgres/0010_signing_keys.sql. Timestamps are
-- TEXT in scim.TimeFormat, so that text order is time order.

CREATE TABLE signing_keys (
    generation  INTEGER NOT NULL,
    kid         TEXT NOT NULL UNIQUE,
    algorithm   TEXT NOT NULL,
    private_key BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    expires_at  TEXT,
    PRIMARY KEY (generation)
) STRICT;
