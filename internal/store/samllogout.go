package store

import (
	"context"
	"time"
)

// SAMLLogoutStore is what SAML single logout needs beyond SAMLStore: ending the SSO sessions
// an IdP's LogoutRequest names. It is part of Store.
type SAMLLogoutStore interface {
	// DeleteSAMLSessions deletes the tenant's SSO sessions that a login with NameID nameID
	// started and, when sessionIndexes is not empty, whose SessionIndex is one of them. It
	// returns the distinct ids of the users whose sessions it deleted (none is not an error).
	DeleteSAMLSessions(ctx context.Context, tenantID, nameID string, sessionIndexes []string) ([]string, error)
	// RevokeOIDCUserTokens revokes every access and refresh token of the tenant's user that
	// is not yet revoked, at at, and returns how many.
	RevokeOIDCUserTokens(ctx context.Context, tenantID, userID string, at time.Time) (int64, error)
}
