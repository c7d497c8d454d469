// Package saml is scimd's multi-tenant SAML 2.0 service provider: per-tenant settings and
// key pairs (rotated by publishing before use, spkeys.go), SP metadata, SP- and
// IdP-initiated login on crewjam/saml's ServiceProvider (one per tenant), strict response
// validation of plain and encrypted assertions (encrypted.go) with a database-backed replay
// cache, just-in-time users through the directory, browser sessions, and the signed-in page.
package saml

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	csaml "github.com/crewjam/saml"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// Defaults of Config.
const (
	DefaultMaxResponseBytes = 256 << 10
	DefaultSessionTTL       = 8 * time.Hour
	DefaultRequestTTL       = 10 * time.Minute
	// DefaultClockSkew is how far the IdP's clock may be from ours, either way.
	DefaultClockSkew = 3 * time.Minute
)

// The allowed clock skew is crewjam/saml's MaxIssueDelay (how old an IssueInstant may be)
// and MaxClockSkew (how far in the future IssueInstant and NotBefore may be, how far past
// NotOnOrAfter): package variables of the library, 90 s and 180 s by default, so an IdP
// 120 s behind was refused while one 120 s ahead was accepted. scimd sets both to one
// value, process-wide (they are not per ServiceProvider), before any response is parsed.
var (
	skewMu      sync.Mutex
	appliedSkew time.Duration
)

func init() { setClockSkew(DefaultClockSkew) }

// setClockSkew makes d the allowed skew in both directions. It writes the library's
// variables only when d differs from what is set, so that services created with the same
// setting (every replica, every test) never write while another parses.
func setClockSkew(d time.Duration) {
	skewMu.Lock()
	defer skewMu.Unlock()
	if d == appliedSkew {
		return
	}
	csaml.MaxIssueDelay, csaml.MaxClockSkew = d, d
	appliedSkew = d
}

// ClockSkew returns the allowed clock skew in effect.
func ClockSkew() time.Duration {
	skewMu.Lock()
	defer skewMu.Unlock()
	return appliedSkew
}

// Config is what the service provider needs to know about its deployment.
type Config struct {
	// PublicURL is the absolute URL browsers and IdPs reach scimd at; the SP entity id,
	// ACS URL and cookies' Secure flag derive from it.
	PublicURL string
	// MaxResponseBytes bounds the body of a POST to the ACS (default 256 KiB).
	MaxResponseBytes int64
	// SessionTTL is how long a browser session lasts (default 8 h).
	SessionTTL time.Duration
	// RequestTTL is how long an SP-initiated login may take at the IdP (default 10 min).
	RequestTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// LoginStartsPerAddress and LoginStartsPerTenant bound the anonymous login starts
	// (each signs an AuthnRequest and stores a row) per client address and per tenant per
	// minute and process, refilled evenly (defaults 60 and 1200; negative: no bound). MaxPendingRequests
	// bounds a tenant's unexpired stored AuthnRequests (default 10,000).
	LoginStartsPerAddress, LoginStartsPerTenant, MaxPendingRequests int
	// ClockSkew is how far the IdP's clock may be ahead of or behind ours (default 3 min,
	// DefaultClockSkew). It is process-wide: the last service created sets it.
	ClockSkew time.Duration
	// TenantLabel gives scimd_saml_idp_certificate_expiry_seconds a tenant label (one
	// series per tenant, --metrics-tenant-label); off, it is the minimum across tenants.
	TenantLabel bool
}

// Service serves every tenant's SAML endpoints and browser pages.
type Service struct {
	cfg     Config
	store   store.Store
	dir     *directory.Directory
	log     *slog.Logger
	metrics *metrics
	secure  bool // cookies are Secure: the public URL is https
	origin  string

	audit     refusalAudit // bounds the audit events of refused logins
	mu        sync.Mutex
	providers map[string]cachedSP // tenant id → SP built from the config of that update

	startsByAddr, startsByTenant *startLimiter
}

type cachedSP struct {
	updated time.Time
	key     string // providerKey of the config it was built from
	sp      *csaml.ServiceProvider
}

// New returns the service on s (the one instrumented store) writing users through dir.
// Its metrics are registered on reg.
func New(cfg Config, s store.Store, dir *directory.Directory, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("saml: public URL %q must be an absolute http(s) URL", cfg.PublicURL)
	}
	defaults.Positive(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	defaults.Positive(&cfg.SessionTTL, DefaultSessionTTL)
	defaults.Positive(&cfg.RequestTTL, DefaultRequestTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LoginStartsPerAddress == 0 {
		cfg.LoginStartsPerAddress = DefaultLoginStartsPerAddress
	}
	if cfg.LoginStartsPerTenant == 0 {
		cfg.LoginStartsPerTenant = DefaultLoginStartsPerTenant
	}
	defaults.Positive(&cfg.MaxPendingRequests, DefaultMaxPendingRequests)
	defaults.Positive(&cfg.ClockSkew, DefaultClockSkew)
	setClockSkew(cfg.ClockSkew)
	m, err := newMetrics(reg, s, cfg.TenantLabel, cfg.Now)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, store: s, dir: dir, log: log, metrics: m, secure: u.Scheme == "https",
		origin: u.Scheme + "://" + u.Host, providers: map[string]cachedSP{},
		startsByAddr: newStartLimiter(cfg.LoginStartsPerAddress), startsByTenant: newStartLimiter(cfg.LoginStartsPerTenant)}, nil
}

// Mount registers the browser-facing routes on the process's router, each with its full
// path.
func (s *Service) Mount(r chi.Router) {
	r.Get("/t/{slug}/saml/metadata", s.metadata)
	r.Get("/t/{slug}/saml/login", s.login)
	r.Post("/t/{slug}/saml/acs", s.acs)
	// The server's CleanPath middleware routes /t/acme/ as /t/acme; home tells them apart by
	// the request's own path.
	r.Get("/t/{slug}", s.home)
	r.Get("/t/{slug}/", s.home)
	r.Post("/t/{slug}/logout", s.logout)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Prune deletes expired login requests, assertion ids and sessions of every tenant and
// returns how many; cmd/scimd runs it now and then on every replica (deleting twice is
// harmless). An assertion id is kept until the assertion itself has expired.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	return s.store.PruneSAML(ctx, s.now())
}

// values returns the SP values of a tenant.
func (s *Service) values(slug string) SPValues { return Values(s.cfg.PublicURL, slug, nil) }

// errNotConfigured: the tenant has no SAML settings.
var errNotConfigured = errors.New("saml: single sign-on is not configured for this tenant")

// tenantConfig finds the tenant of the slug and its SAML settings: store.ErrNotFound for an
// unknown tenant, errNotConfigured for a tenant without settings.
func (s *Service) tenantConfig(ctx context.Context, slug string) (store.Tenant, store.SAMLConfig, error) {
	t, err := s.store.TenantBySlug(ctx, slug)
	if err != nil {
		return t, store.SAMLConfig{}, err
	}
	cfg, err := s.store.SAMLConfig(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return t, cfg, errNotConfigured
	}
	return t, cfg, err
}

// provider returns the tenant's ServiceProvider, built once per settings update and shared;
// callers copy it before setting per-request fields.
func (s *Service) provider(t store.Tenant, cfg store.SAMLConfig) (*csaml.ServiceProvider, error) {
	s.mu.Lock()
	c, ok := s.providers[t.ID]
	s.mu.Unlock()
	if ok && c.updated.Equal(cfg.UpdatedAt) && c.key == providerKey(cfg) {
		return c.sp, nil
	}
	sp, err := s.buildProvider(t, cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.providers[t.ID] = cachedSP{updated: cfg.UpdatedAt, key: providerKey(cfg), sp: sp}
	s.mu.Unlock()
	return sp, nil
}

// providerKey is what a ServiceProvider is built from besides the SP key, so that a cached
// one is rebuilt even when two updates (a certificate rotation done quickly) share an
// UpdatedAt at the store's clock resolution: a removed IdP certificate must stop counting.
func providerKey(cfg store.SAMLConfig) string {
	return strings.Join([]string{cfg.IdPEntityID, cfg.IdPSSOURL, cfg.IdPCertPEM, cfg.SPCertPEM, cfg.SPNextCertPEM, strconv.FormatBool(cfg.AllowIdPInitiated)}, "\x00")
}

func (s *Service) buildProvider(t store.Tenant, cfg store.SAMLConfig) (*csaml.ServiceProvider, error) {
	block, _ := pem.Decode(cfg.SPKeyPEM)
	if block == nil {
		return nil, errors.New("saml: stored SP key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("saml: stored SP key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("saml: stored SP key cannot sign")
	}
	cblock, _ := pem.Decode([]byte(cfg.SPCertPEM))
	if cblock == nil {
		return nil, errors.New("saml: stored SP certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("saml: stored SP certificate: %w", err)
	}
	idpCerts, err := parseStoredCerts(cfg.IdPCertPEM)
	if err != nil {
		return nil, err
	}
	v := s.values(t.Slug)
	acs, _ := url.Parse(v.ACSURL)
	md, _ := url.Parse(v.MetadataURL)
	var keyDescriptors []csaml.KeyDescriptor
	for _, c := range idpCerts {
		keyDescriptors = append(keyDescriptors, csaml.KeyDescriptor{Use: "signing", KeyInfo: csaml.KeyInfo{
			X509Data: csaml.X509Data{X509Certificates: []csaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(c.Raw)}}}}})
	}
	idp := &csaml.EntityDescriptor{
		EntityID: cfg.IdPEntityID,
		IDPSSODescriptors: []csaml.IDPSSODescriptor{{
			SSODescriptor: csaml.SSODescriptor{RoleDescriptor: csaml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors:             keyDescriptors,
			}},
			SingleSignOnServices: []csaml.Endpoint{
				{Binding: csaml.HTTPRedirectBinding, Location: cfg.IdPSSOURL},
			},
		}},
	}
	return withNextKey(&csaml.ServiceProvider{
		EntityID:                         v.EntityID,
		Key:                              signer,
		Certificate:                      cert,
		MetadataURL:                      *md,
		AcsURL:                           *acs,
		IDPMetadata:                      idp,
		AuthnNameIDFormat:                csaml.EmailAddressNameIDFormat,
		AllowIDPInitiated:                cfg.AllowIdPInitiated,
		SignatureMethod:                  dsig.RSASHA256SignatureMethod,
		AssertionConsumerServiceBindings: []string{csaml.HTTPPostBinding},
		RejectSHA1Signatures:             true,
		MetadataValidDuration:            7 * 24 * time.Hour,
	}, cfg)
}

func parseStoredCerts(pemText string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(pemText)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("saml: stored IdP certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("saml: no stored IdP certificate")
	}
	return out, nil
}

// replayCache is the tenant's share of the database-backed replay cache, for one request.
type replayCache struct {
	ctx    context.Context
	store  store.SAMLStore
	tenant string
	now    func() time.Time
}

// Consume implements csaml.AssertionReplayCache.
func (c replayCache) Consume(id string, expiresAt time.Time) error {
	err := c.store.ConsumeAssertion(c.ctx, c.tenant, id, expiresAt, c.now())
	if errors.Is(err, store.ErrConflict) {
		return csaml.ErrAssertionReplayed
	}
	return err
}

func hashToken(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

var _ sso.Provider = (*Service)(nil)

// SessionCookie implements sso.Provider.
func (s *Service) SessionCookie() string { return sessionCookie }

// Configure implements sso.Provider: the package's Configure through the service's
// directory, at the service's clock.
func (s *Service) Configure(ctx context.Context, t store.Tenant, in Settings) (store.SAMLConfig, error) {
	return Configure(ctx, s.dir, t, in, s.now())
}

// Values implements sso.Provider under the service's public URL.
func (s *Service) Values(slug string, cfg *store.SAMLConfig) SPValues {
	return Values(s.cfg.PublicURL, slug, cfg)
}
