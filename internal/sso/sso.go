// Package sso is what single sign-on shares with the admin console: the settings a tenant
// admin enters, their errors, the values the IdP admin enters, and Provider, the part of the
// SAML service the console uses. The console depends on this package, never on package
// saml; cmd/scimd passes the SAML service as the Provider.
package sso

import (
	"context"
	"errors"
	"net/http"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
)

// Provider is the single sign-on service as the admin console sees it.
type Provider interface {
	// CurrentUser returns the signed-in, active user of tenant t for the request, or nil
	// when nobody is signed in. Errors are store errors.
	CurrentUser(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant) (*scim.Resource, error)
	// SessionCookie is the name of the cookie of a single sign-on session (scoped to
	// /t/SLUG/); the console binds its CSRF tokens to it and clears it at sign-out.
	SessionCookie() string
	// Configure checks in and stores it as tenant t's settings, audited with the actor of
	// ctx. Errors: *SettingsError naming the field at fault; store errors.
	Configure(ctx context.Context, t store.Tenant, in Settings) (store.SAMLConfig, error)
	// Values returns what the IdP admin enters for tenant slug; cfg may be nil (not
	// configured yet: no certificate).
	Values(slug string, cfg *store.SAMLConfig) SPValues
	// RotateSPCert publishes tenant t's next SP certificate beside the current one, and
	// ActivateSPCert makes it current, each audited with the actor of ctx. Errors:
	// ErrRotationPending, ErrNoRotation, store.ErrNotFound (no settings), store.ErrConflict
	// (a concurrent rotation), store errors.
	RotateSPCert(ctx context.Context, t store.Tenant) (store.SAMLConfig, error)
	ActivateSPCert(ctx context.Context, t store.Tenant) (store.SAMLConfig, error)
}

// ErrRotationPending: a next SP certificate is already published; activate it first.
var ErrRotationPending = errors.New("a new SP certificate is already published and waits to be activated; activate it (rotate-sp-cert --activate) before making another")

// ErrNoRotation: there is no published SP certificate to activate.
var ErrNoRotation = errors.New("no new SP certificate is published; rotate first (rotate-sp-cert without --activate)")

// Settings are what an admin enters for a tenant: the three fields of a "Custom SAML 2.0"
// form (or the IdP's metadata instead), plus options.
type Settings struct {
	// SSOURL is the IdP's single sign-on URL: https, or http for a loopback host.
	SSOURL string
	// Issuer is the IdP's entity id.
	Issuer string
	// CertPEM holds the IdP's signing certificate(s), PEM X.509.
	CertPEM []byte
	// IdPMetadata, when set, is the IdP's metadata XML; SSOURL, Issuer and CertPEM are
	// taken from it (and must then be empty).
	IdPMetadata []byte

	JIT bool
	// JITTrustUserType takes a JIT user's userType from the assertion; off (the default),
	// JIT users get the tenant's default userType, whatever the IdP sends.
	JITTrustUserType  bool
	AllowIdPInitiated bool
	// DefaultRedirect is a local path of the tenant ("/t/SLUG/…"); empty means /t/SLUG/.
	DefaultRedirect string
	// RequireEncryptedAssertions refuses responses whose assertion is not encrypted to the
	// SP certificate.
	RequireEncryptedAssertions bool
}

// SettingsError is an error of Configure about one field of Settings, so that a form can
// show it next to that field. Field is the name of the Settings field: "SSOURL", "Issuer",
// "CertPEM", "IdPMetadata" or "DefaultRedirect". Its message is Err's.
type SettingsError struct {
	Field string
	Err   error
}

func (e *SettingsError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *SettingsError) Unwrap() error { return e.Err }

// SPValues are what an IdP admin enters on the IdP's side for a tenant.
type SPValues struct {
	EntityID    string // also the metadata URL
	ACSURL      string
	MetadataURL string
	LoginURL    string
	CertPEM     string // empty until the tenant is configured
	// NextCertPEM is the SP certificate a rotation has published but not yet activated, or "".
	NextCertPEM string
}
