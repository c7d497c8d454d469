package store

import (
	"context"
	"time"
)

// OIDCClient is an application registered to sign users in through scimd (an OAuth 2.0
// client). Clients are deployment-wide: one application serves every tenant. Only the
// SHA-256 hash of a secret is stored.
type OIDCClient struct {
	ID           string
	Name         string
	RedirectURIs []string // matched exactly
	// Public clients (a browser or native application) have no secret and must use PKCE.
	Public     bool
	SecretHash []byte
	// PreviousSecretHash is the secret before the last rotation, accepted until
	// PreviousSecretExpiresAt so that a rotation needs no downtime.
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt time.Time
	CreatedAt               time.Time
}

// OIDCAuthRequest is an authorization request of an application for a user of one tenant,
// from the browser's arrival at the authorization endpoint until its code is exchanged.
type OIDCAuthRequest struct {
	TenantID string
	ID       string
	ClientID string
	// BindingHash is the SHA-256 hash of a cookie set on the browser that sent the request:
	// only that browser can finish it.
	BindingHash []byte
	// Params are the request's parameters as the provider encodes them (JSON).
	Params []byte
	// UserID and AuthTime are set when the user has signed in.
	UserID   string
	AuthTime time.Time
	// LoginStartedAt is when a forced IdP login was sent for the request (zero: none).
	LoginStartedAt time.Time
	// CodeHash is the SHA-256 hash of the code issued for the request; CodeUsedAt is set by
	// the exchange that took it.
	CodeHash      []byte
	CodeExpiresAt time.Time
	CodeUsedAt    time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Kinds of OIDCToken.
const (
	OIDCAccessToken  = "access"
	OIDCRefreshToken = "refresh"
)

// OIDCToken is an access or refresh token issued to an application. Every token of one
// grant shares a Family (the authorization it started from), so that a replayed code or
// refresh token revokes them all.
type OIDCToken struct {
	TenantID string
	ID       string
	Kind     string // OIDCAccessToken or OIDCRefreshToken
	Family   string
	ClientID string
	UserID   string
	Scopes   []string
	AuthTime time.Time
	// Hash is the SHA-256 hash of a refresh token (nil for an access token).
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // a refresh token that has been rotated
	RevokedAt time.Time
}

// OIDCStore keeps the OpenID Connect provider's clients, authorization requests and tokens,
// shared by every replica. Requests and tokens are per tenant; every method on them takes
// the tenant id. It is embedded in Store.
type OIDCStore interface {
	// CreateOIDCClient stores c; ErrConflict when its id is taken.
	CreateOIDCClient(ctx context.Context, c OIDCClient) error
	// OIDCClient returns the client with the id; ErrNotFound.
	OIDCClient(ctx context.Context, id string) (OIDCClient, error)
	// OIDCClients lists the clients by name.
	OIDCClients(ctx context.Context) ([]OIDCClient, error)
	// DeleteOIDCClient deletes the client; ErrNotFound.
	DeleteOIDCClient(ctx context.Context, id string) error
	// RotateOIDCClientSecret makes hash the client's secret and keeps the current one as
	// the previous secret until previousExpires; ErrNotFound.
	RotateOIDCClientSecret(ctx context.Context, id string, hash []byte, previousExpires time.Time) error

	// CreateOIDCAuthRequest stores a new authorization request.
	CreateOIDCAuthRequest(ctx context.Context, a OIDCAuthRequest) error
	// OIDCAuthRequest returns the tenant's request if it has not expired at now;
	// ErrNotFound.
	OIDCAuthRequest(ctx context.Context, tenantID, id string, now time.Time) (OIDCAuthRequest, error)
	// StartOIDCLogin records that a forced IdP login was sent for the request at at;
	// ErrNotFound.
	StartOIDCLogin(ctx context.Context, tenantID, id string, at time.Time) error
	// CompleteOIDCAuthRequest records the signed-in user of the request; ErrNotFound.
	CompleteOIDCAuthRequest(ctx context.Context, tenantID, id, userID string, authTime time.Time) error
	// SetOIDCCode records the code issued for a completed request; ErrConflict when the
	// request already has a code (one code per request); ErrNotFound.
	SetOIDCCode(ctx context.Context, tenantID, id string, codeHash []byte, expiresAt time.Time) error
	// TakeOIDCCode marks the request's code used, atomically across replicas, and returns
	// the request. ErrNotFound when the request has no such code or it has expired at now;
	// ErrConflict when the code was used before (a replay).
	TakeOIDCCode(ctx context.Context, tenantID, id string, codeHash []byte, now time.Time) (OIDCAuthRequest, error)

	// CreateOIDCToken stores a token.
	CreateOIDCToken(ctx context.Context, t OIDCToken) error
	// OIDCToken returns the tenant's token with the id, whatever its state; ErrNotFound.
	OIDCToken(ctx context.Context, tenantID, id string) (OIDCToken, error)
	// UseOIDCRefreshToken marks the refresh token rotated at now, atomically across
	// replicas, and returns it. ErrNotFound when there is no such live refresh token (or it
	// expired at now, or was revoked); ErrConflict when it was used before (a replay).
	UseOIDCRefreshToken(ctx context.Context, tenantID, id string, now time.Time) (OIDCToken, error)
	// RevokeOIDCFamily revokes every token of the family that is not yet revoked; returns
	// how many.
	RevokeOIDCFamily(ctx context.Context, tenantID, family string, at time.Time) (int64, error)
	// PruneOIDC deletes the authorization requests and tokens of every tenant that expired
	// before now; returns how many rows.
	PruneOIDC(ctx context.Context, now time.Time) (int64, error)
}
