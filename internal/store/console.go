package store

import (
	"context"
	"time"
)

// AdminLink is a one-time sign-in link to a tenant's admin console, made by `scimd admin
// link` before single sign-on exists: the URL carries a random token of which only the
// SHA-256 hash is stored.
type AdminLink struct {
	TenantID  string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ConsoleStore keeps the admin console's bootstrap links (the sessions they start are
// SAMLStore sessions of kind SessionConsole); it is part of Store. Every method takes the
// tenant id and touches only that tenant's rows.
type ConsoleStore interface {
	// CreateAdminLink stores a link, and deletes the tenant's links that expired before
	// l.CreatedAt.
	CreateAdminLink(ctx context.Context, l AdminLink) error
	// TakeAdminLink deletes the tenant's link whose token hashes to hash and returns it, if
	// it has not expired at now: a link is used once, also across replicas. ErrNotFound
	// when there is no such live link (unknown, used or expired).
	TakeAdminLink(ctx context.Context, tenantID string, hash []byte, now time.Time) (AdminLink, error)
}
