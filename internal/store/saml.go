package store

import (
	"context"
	"time"
)

// SAMLConfig is a tenant's SAML single sign-on settings: its identity provider, the options
// the tenant chose, and the service provider's own key pair, which is generated once and
// kept so that every replica signs and publishes with the same key.
type SAMLConfig struct {
	TenantID string
	// IdPEntityID is the Issuer the IdP puts on its responses and assertions.
	IdPEntityID string
	// IdPSSOURL is where AuthnRequests are sent (HTTP-Redirect binding).
	IdPSSOURL string
	// IdPCertPEM holds one or more PEM X.509 certificates the IdP signs with.
	IdPCertPEM string
	// JIT creates unknown users from their first assertion.
	JIT bool
	// JITTrustUserType takes a JIT user's userType from the assertion (when it is one of the
	// tenant's types); off, JIT users get the tenant's default.
	JITTrustUserType bool
	// AllowIdPInitiated accepts unsolicited responses (a login started at the IdP's portal).
	AllowIdPInitiated bool
	// DefaultRedirect is the local path of the tenant a login lands on when it names none.
	DefaultRedirect string
	// SPKeyPEM is the service provider's private key (PKCS #8 PEM); SPCertPEM its
	// self-signed certificate, shown to IdP admins and published in the SP metadata.
	SPKeyPEM  []byte
	SPCertPEM string
	// SPNextKeyPEM and SPNextCertPEM are the next SP key pair while a rotation is under
	// way (empty otherwise): published in the SP metadata and decrypting, not yet signing.
	SPNextKeyPEM  []byte
	SPNextCertPEM string
	// RequireEncryptedAssertions refuses responses that carry a plain (unencrypted) assertion.
	RequireEncryptedAssertions bool
	CreatedAt                  time.Time
	UpdatedAt                  time.Time
}

// SAMLRequest is an AuthnRequest this service provider sent, bound to the browser that
// started the login by the hash of a cookie, so that any replica can finish the login.
type SAMLRequest struct {
	TenantID string
	ID       string // the AuthnRequest ID, answered as InResponseTo
	// BindingHash is the SHA-256 hash of the browser's request-binding cookie.
	BindingHash []byte
	// ReturnTo is the checked local path the browser lands on after the login.
	ReturnTo  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Session kinds: a user signed in by single sign-on, or the admin console's bootstrap
// session that a one-time `scimd admin link` starts, which belongs to no user.
const (
	SessionSSO     = "sso"
	SessionConsole = "console"
)

// Session is a browser session: the cookie carries an opaque random id, of which only the
// SHA-256 hash is stored. A lookup names the kind it expects, so that a cookie of one kind
// never opens a session of the other.
type Session struct {
	TenantID  string
	Hash      []byte
	Kind      string // SessionSSO or SessionConsole
	UserID    string // "" for a console session
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SAMLStore keeps what SAML single sign-on shares between replicas; it is part of Store.
// Every method takes the tenant id (PruneSAML excepted) and touches only that tenant's rows.
type SAMLStore interface {
	// PutSAMLConfig creates or updates the tenant's SAML settings and returns them as
	// stored. The SP key pair (SPKeyPEM, SPCertPEM) and CreatedAt are written only by the
	// first call: later calls keep the stored ones, whatever cfg holds. ev is written in the
	// same transaction.
	PutSAMLConfig(ctx context.Context, cfg SAMLConfig, ev *Event) (SAMLConfig, error)
	// SAMLConfig returns the tenant's SAML settings; ErrNotFound when it has none.
	SAMLConfig(ctx context.Context, tenantID string) (SAMLConfig, error)
	// SwapSAMLSPKeys writes the SP key pairs of cfg (SPKeyPEM, SPCertPEM, SPNextKeyPEM,
	// SPNextCertPEM) and its UpdatedAt to the tenant's settings, provided the stored
	// SPCertPEM and SPNextCertPEM are still fromCert and fromNextCert, and returns the
	// settings as stored. ev is written in the same transaction. ErrNotFound when the tenant
	// has no settings; ErrConflict when its key pairs changed since they were read.
	SwapSAMLSPKeys(ctx context.Context, cfg SAMLConfig, fromCert, fromNextCert string, ev *Event) (SAMLConfig, error)

	// CreateSAMLRequest records a sent AuthnRequest.
	CreateSAMLRequest(ctx context.Context, r SAMLRequest) error
	// PendingSAMLRequests counts the tenant's requests not expired at now, stopping at
	// limit (it returns at most limit).
	PendingSAMLRequests(ctx context.Context, tenantID string, now time.Time, limit int) (int, error)
	// SAMLRequests lists the tenant's requests bound to bindingHash that have not expired
	// at now, newest first (at most 50: a browser that started more logins finishes a recent one).
	SAMLRequests(ctx context.Context, tenantID string, bindingHash []byte, now time.Time) ([]SAMLRequest, error)
	// TakeSAMLRequest deletes the request and returns it; ErrNotFound when another
	// replica took it first, or there is no such request.
	TakeSAMLRequest(ctx context.Context, tenantID, id string) (SAMLRequest, error)

	// ConsumeAssertion records the assertion id as used until expiresAt. ErrConflict when
	// it is already recorded and not expired at now: the assertion is a replay. Atomic
	// across replicas.
	ConsumeAssertion(ctx context.Context, tenantID, assertionID string, expiresAt, now time.Time) error

	// CreateSession stores a session.
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns the tenant's session of the kind whose id hashes to hash, if it
	// has not expired at now; ErrNotFound otherwise.
	SessionByHash(ctx context.Context, tenantID, kind string, hash []byte, now time.Time) (Session, error)
	// DeleteSession deletes the session; deleting one that is gone is not an error.
	DeleteSession(ctx context.Context, tenantID string, hash []byte) error

	// SAMLIdentity returns the id of the user that the IdP (issuer) last signed in with the
	// persistent NameID nameID; ErrNotFound when it names nobody (or the user is gone).
	SAMLIdentity(ctx context.Context, tenantID, issuer, nameID string) (string, error)
	// PutSAMLIdentity remembers that the IdP's persistent nameID names userID, replacing
	// the user it named before; ErrNotFound when the tenant has no such user. A deleted
	// user's identities go with them.
	PutSAMLIdentity(ctx context.Context, tenantID, issuer, nameID, userID string, now time.Time) error

	// PruneSAML deletes the requests, assertion ids and sessions of every tenant that
	// expired before now, and returns how many rows it deleted.
	PruneSAML(ctx context.Context, now time.Time) (int64, error)
}
