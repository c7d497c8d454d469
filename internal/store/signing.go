package store

import (
	"context"
	"time"
)

// SigningKey is one key of the deployment's signing key set (package signing): a private
// key, published in the JWKS from CreatedAt, signing from NotBefore on, and published until
// ExpiresAt, by when every token it signed has expired. Keys are deployment-wide, not per
// tenant.
type SigningKey struct {
	// Generation orders the keys: the first key is 1, each rotation adds newest + 1.
	Generation int64
	// ID is the key id (JWS "kid"), unique.
	ID string
	// Algorithm is the JWS algorithm the key signs with ("RS256").
	Algorithm string
	// PrivateKey is the private key, PKCS #8 DER.
	PrivateKey []byte
	CreatedAt  time.Time
	NotBefore  time.Time
	// ExpiresAt is zero until a newer key is added.
	ExpiresAt time.Time
}

// SigningKeyStore keeps the signing key set, shared by every replica. It is embedded in
// Store.
type SigningKeyStore interface {
	// CreateFirstSigningKey stores k as generation 1 when there is no key at all;
	// ErrConflict when there is one (another replica made it first: read the keys again).
	CreateFirstSigningKey(ctx context.Context, k SigningKey) (SigningKey, error)
	// AddSigningKey stores k as the newest generation and, in the same transaction, sets
	// ExpiresAt to olderExpire on every older key that has none. Returns k as stored.
	// ErrConflict when another rotation added the same generation at the same time.
	AddSigningKey(ctx context.Context, k SigningKey, olderExpire time.Time) (SigningKey, error)
	// SigningKeys returns the keys that have not expired at now (ExpiresAt zero or after
	// now), oldest generation first.
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	// PruneSigningKeys deletes the keys that expired at or before now; returns how many.
	PruneSigningKeys(ctx context.Context, now time.Time) (int64, error)
}
