// Package oidc makes scimd the OpenID Connect provider of the application it fronts, on
// zitadel/oidc's certified pkg/op: one issuer per deployment, the tenant chosen by the
// authorization request's organization=SLUG, the user signed in through the tenant's SAML
// IdP (package saml) and the authorization resumed afterwards. It owns the protocol's
// storage (clients, authorization requests, codes, tokens in scimd's store), the claims
// (from the directory, checked on every code, refresh and userinfo), its routes, metrics and
// audit events. Tokens are signed by the deployment's key set (package signing).
package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/scimd/scimd/internal/defaults"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
)

// Paths. The discovery document is the contract; these are what it names.
const (
	DiscoveryPath  = "/.well-known/openid-configuration"
	JWKSPath       = "/.well-known/jwks.json"
	AuthorizePath  = "/oidc/authorize"
	TokenPath      = "/oidc/token"
	UserinfoPath   = "/oidc/userinfo"
	RevokePath     = "/oidc/revoke"
	IntrospectPath = "/oidc/introspect"
	loginPath      = "/oidc/login"
	// resumePath is under the tenant's path so that the browser's SSO session cookie
	// (scoped to /t/SLUG/) comes along: a session of tenant A never reaches tenant B's.
	resumePath = "/t/{slug}/oidc/resume"
)

// Defaults of Config.
const (
	DefaultAccessTokenTTL  = 10 * time.Minute
	DefaultIDTokenTTL      = 10 * time.Minute
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	DefaultCodeTTL         = 60 * time.Second
	DefaultRequestTTL      = 10 * time.Minute
)

// ScopeGroups adds the user's groups (display names) to the claims.
const ScopeGroups = "groups"

// Config is what the provider needs to know about its deployment.
type Config struct {
	// Issuer is the deployment's public URL (serve --public-url), without a trailing slash.
	Issuer string
	// AccessTokenTTL, IDTokenTTL, RefreshTokenTTL, CodeTTL (authorization codes) and
	// RequestTTL (how long a sign-in at the IdP may take) default to the Default* values.
	AccessTokenTTL, IDTokenTTL, RefreshTokenTTL, CodeTTL, RequestTTL time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// SignIn is what the provider needs of the tenant's SAML service provider (saml.Service
// and saml.LoginURL): the browser's signed-in user, and the way to sign one in.
type SignIn interface {
	// SignedIn returns the browser's signed-in active user of t and when the IdP
	// authenticated them; nil when nobody is; deactivated when the session ended because
	// the user is deactivated.
	SignedIn(ctx context.Context, w http.ResponseWriter, r *http.Request, t store.Tenant) (user *scim.Resource, authTime time.Time, deactivated bool, err error)
	// LoginURL starts an SP-initiated login of tenant slug that ends at returnTo.
	LoginURL(slug, returnTo string, forceAuthn bool) string
}

// Provider is scimd's OpenID Provider.
type Provider struct {
	cfg     Config
	st      store.Store
	dir     *directory.Directory
	keys    *signing.KeySet
	signIn  SignIn
	log     *slog.Logger
	op      *op.Provider
	storage *storage
	metrics *metrics
}

// New returns the provider. Its AES key (for codes and opaque access tokens) is the
// installation secret "oidc_crypto_key", shared by every replica. Metrics are registered on
// reg.
func New(ctx context.Context, cfg Config, st store.Store, dir *directory.Directory, keys *signing.KeySet, signIn SignIn, log *slog.Logger, reg prometheus.Registerer) (*Provider, error) {
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("oidc: the issuer %q must be an absolute http(s) URL without a path", cfg.Issuer)
	}
	defaults.Positive(&cfg.AccessTokenTTL, DefaultAccessTokenTTL)
	defaults.Positive(&cfg.IDTokenTTL, DefaultIDTokenTTL)
	defaults.Positive(&cfg.RefreshTokenTTL, DefaultRefreshTokenTTL)
	defaults.Positive(&cfg.CodeTTL, DefaultCodeTTL)
	defaults.Positive(&cfg.RequestTTL, DefaultRequestTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if max := keys.Options().MaxTokenLifetime; cfg.IDTokenTTL > max || cfg.AccessTokenTTL > max {
		return nil, fmt.Errorf("oidc: tokens may not outlive the signing keys' MaxTokenLifetime (%v)", max)
	}
	secret, err := st.Secret(ctx, "oidc_crypto_key", func() []byte {
		b := make([]byte, 32)
		rand.Read(b)
		return b
	})
	if err != nil {
		return nil, err
	}
	if len(secret) != 32 {
		return nil, errors.New("oidc: the stored crypto key is not 32 bytes")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, st: st, dir: dir, keys: keys, signIn: signIn, log: log, metrics: m}
	p.storage = &storage{p: p}
	config := &op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.English},
		SupportedScopes:       []string{"openid", "profile", "email", "offline_access", ScopeGroups},
		SupportedClaims:       supportedClaims,
	}
	copy(config.CryptoKey[:], secret)
	p.storage.crypto = op.NewAES256GCMCrypto(config.CryptoKey, "")
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(AuthorizePath), op.NewEndpoint(TokenPath), op.NewEndpoint(UserinfoPath),
			op.NewEndpoint(RevokePath), op.NewEndpoint("/oidc/end_session"), op.NewEndpoint(JWKSPath)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(IntrospectPath)),
		op.WithCrypto(p.storage.crypto),
	}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	if p.op, err = op.NewOpenIDProvider(cfg.Issuer, config, p.storage, opts...); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	return p, nil
}

func (p *Provider) now() time.Time { return p.cfg.Now().UTC() }

// Mount registers the provider's routes, each with its full path.
func (p *Provider) Mount(r chi.Router) {
	r.Get(DiscoveryPath, p.count("discovery", p.discovery))
	r.Method(http.MethodGet, JWKSPath, p.count("jwks", p.keys.ServeHTTP))
	authorize := p.count("authorize", p.bindBrowser(p.op.ServeHTTP))
	r.Get(AuthorizePath, authorize)
	r.Post(AuthorizePath, authorize)
	r.Get(loginPath, p.count("login", p.login))
	r.Get(resumePath, p.count("resume", p.resume))
	r.Post(TokenPath, p.count("token", p.op.ServeHTTP))
	r.Options(TokenPath, p.op.ServeHTTP) // CORS preflight of browser applications
	r.Get(UserinfoPath, p.count("userinfo", p.op.ServeHTTP))
	r.Post(UserinfoPath, p.count("userinfo", p.op.ServeHTTP))
	r.Options(UserinfoPath, p.op.ServeHTTP)
	r.Post(RevokePath, p.count("revoke", p.op.ServeHTTP))
	r.Post(IntrospectPath, p.count("introspect", p.op.ServeHTTP))
}

// discovery serves the library's discovery document without the end-session endpoint,
// which scimd does not offer (sign-out belongs to the tenant's IdP).
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), p.cfg.Issuer)
	doc := op.CreateDiscoveryConfig(ctx, p.op, p.storage)
	doc.EndSessionEndpoint = ""
	doc.ClaimsSupported = supportedClaims
	doc.ResponseTypesSupported = []string{string(zoidc.ResponseTypeCode)} // clients may use only the code flow
	doc.ResponseModesSupported = []string{"query"}
	doc.GrantTypesSupported = []zoidc.GrantType{zoidc.GrantTypeCode, zoidc.GrantTypeRefreshToken}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	op.Discover(w, doc)
}

// Prune deletes expired authorization requests and tokens, and signing keys no longer
// published, and returns how many; cmd/scimd runs it now and then on every replica.
func (p *Provider) Prune(ctx context.Context) (int64, error) {
	n, err := p.st.PruneOIDC(ctx, p.now())
	if err != nil {
		return n, err
	}
	k, err := p.keys.Prune(ctx)
	return n + k, err
}
