package store

import (
	"context"
	"time"
)

// SAMLMetadataRefresh is the background refresh state of a tenant whose IdP settings come
// from a metadata URL.
type SAMLMetadataRefresh struct {
	TenantID string
	// URL is the tenant's IdPMetadataURL, read with the claim.
	URL   string
	DueAt time.Time
	// LeaseToken names the claim that holds the row until LeaseUntil ("" when none does).
	LeaseToken    string
	LeaseUntil    time.Time
	LastAttemptAt time.Time
	LastSuccessAt time.Time
	// LastError is why the last refresh failed ("" after a success); the settings stored
	// are then still those of LastSuccessAt.
	LastError   string
	LastErrorAt time.Time
	// Failures counts the refreshes that failed in a row.
	Failures int
}

// SAMLMetadataStore keeps the refresh state of IdP metadata URLs; it is part of Store.
type SAMLMetadataStore interface {
	// ScheduleSAMLMetadataRefresh creates or resets the tenant's refresh state after its
	// settings were fetched from their metadata URL at at: succeeded at at, no error, the
	// next refresh due at due, no lease.
	ScheduleSAMLMetadataRefresh(ctx context.Context, tenantID string, at, due time.Time) error
	// SAMLMetadataRefresh returns the tenant's refresh state; ErrNotFound when it has none.
	SAMLMetadataRefresh(ctx context.Context, tenantID string) (SAMLMetadataRefresh, error)
	// ClaimSAMLMetadataRefreshes claims at most limit tenants, across tenants, whose refresh
	// is due at now, whose settings still name a metadata URL, and whose row no lease holds
	// at now: each gets a new LeaseToken valid until now+lease. Atomic across replicas: a
	// due row is claimed by one caller until its lease expires.
	ClaimSAMLMetadataRefreshes(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]SAMLMetadataRefresh, error)
	// FinishSAMLMetadataRefresh records the outcome of a claimed refresh at at and releases
	// the lease, the next refresh due at due; errText "" is a success. ErrNotFound when the
	// claim named by leaseToken no longer holds the row.
	FinishSAMLMetadataRefresh(ctx context.Context, tenantID, leaseToken string, at, due time.Time, errText string) error
}
