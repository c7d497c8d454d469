package oidc_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/testkit"
)

var ctx = context.Background()

// clock is the real time plus an offset a test moves forward.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// node is one scimd: the real router with the SAML service and the OIDC provider.
type node struct {
	srv  *httptest.Server
	prov *oidc.Provider
	keys *signing.KeySet
	dir  *directory.Directory
	reg  *prometheus.Registry
}

// env is a deployment on one database, with tenants acme and beta (single sign-on
// configured), gamma (none), and three applications.
type env struct {
	t      testing.TB
	st     store.Store
	clock  *clock
	node   *node
	issuer string

	acme, beta, gamma store.Tenant
	conf, other, pub  store.OIDCClient
	confSecret        string
	otherSecret       string
	provider          *gooidc.Provider
}

var (
	keyPairOnce sync.Once
	spKey       []byte
	spCert      string
)

func newEnv(t testing.TB, st store.Store) *env {
	t.Helper()
	e := &env{t: t, st: st, clock: &clock{}}
	e.node = e.newNode(st, "")
	e.issuer = e.node.srv.URL
	d := e.node.dir
	var err error
	for _, tn := range []struct {
		slug string
		dst  *store.Tenant
		sso  bool
	}{{"acme", &e.acme, true}, {"beta", &e.beta, true}, {"gamma", &e.gamma, false}} {
		if *tn.dst, err = d.CreateTenant(ctx, tn.slug, tn.slug); err != nil {
			t.Fatal(err)
		}
		if tn.sso {
			e.configureSSO(*tn.dst)
		}
	}
	now := e.clock.Now()
	if e.conf, e.confSecret, err = oidc.NewClient(ctx, st, "Backend", []string{"https://app.example/cb", "https://app.example/other"}, false, now); err != nil {
		t.Fatal(err)
	}
	if e.other, e.otherSecret, err = oidc.NewClient(ctx, st, "Other", []string{"https://other.example/cb"}, false, now); err != nil {
		t.Fatal(err)
	}
	if e.pub, _, err = oidc.NewClient(ctx, st, "SPA", []string{"https://spa.example/cb"}, true, now); err != nil {
		t.Fatal(err)
	}
	if e.provider, err = gooidc.NewProvider(ctx, e.issuer); err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	return e
}

// newNode starts one scimd on st; issuer "" makes the node's own URL the issuer.
func (e *env) newNode(st store.Store, issuer string) *node {
	t := e.t
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	n := &node{}
	n.srv = httptest.NewUnstartedServer(nil)
	n.srv.Start()
	t.Cleanup(n.srv.Close)
	if issuer == "" {
		issuer = n.srv.URL
	}
	stack, err := testkit.New(ctx, st, testkit.Options{Server: server.Config{PublicURL: issuer}, SAML: &saml.Config{Now: e.clock.Now}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	n.dir, n.reg = stack.Dir, stack.Registry
	n.keys = signing.New(stack.Store, signing.Options{PublishLead: time.Minute, MaxTokenLifetime: time.Hour, Now: e.clock.Now})
	if n.prov, err = oidc.New(ctx, oidc.Config{Issuer: issuer, Now: e.clock.Now}, stack.Store, n.dir, n.keys, stack.SAML, log, n.reg); err != nil {
		t.Fatal(err)
	}
	n.prov.Mount(stack.Router)
	n.srv.Config.Handler = stack.Router
	return n
}

// configureSSO stores SAML settings for tn; the provider only asks whether there are any.
func (e *env) configureSSO(tn store.Tenant) {
	e.t.Helper()
	keyPairOnce.Do(func() {
		var err error
		if spKey, spCert, err = saml.NewKeyPair("test", time.Now()); err != nil {
			panic(err)
		}
	})
	now := time.Now().UTC()
	if _, err := e.st.(store.SAMLStore).PutSAMLConfig(ctx, store.SAMLConfig{TenantID: tn.ID, IdPEntityID: "https://idp.example/" + tn.Slug,
		IdPSSOURL: "https://idp.example/sso", IdPCertPEM: spCert, DefaultRedirect: "/t/" + tn.Slug + "/",
		SPKeyPEM: spKey, SPCertPEM: spCert, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		e.t.Fatal(err)
	}
}

// newUser provisions a user of tn (as an IdP would over SCIM), in group Sales.
func (e *env) newUser(tn store.Tenant, userName string) *scim.Resource {
	e.t.Helper()
	u, err := e.node.dir.CreateUser(ctx, tn, map[string]any{"schemas": []any{scim.UserSchema}, "userName": userName,
		"name":   map[string]any{"givenName": "Ann", "familyName": "Lee"},
		"emails": []any{map[string]any{"value": userName, "primary": true}}, "userType": "admin"})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.node.dir.CreateGroup(ctx, tn, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Sales " + userName,
		"members": []any{map[string]any{"value": u.ID}}}); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// sub returns the env for a subtest, so that its helpers fail the subtest.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// run runs fn as a subtest with the env of the subtest.
func run(t *testing.T, e *env, name string, fn func(t *testing.T, e *env)) {
	t.Run(name, func(t *testing.T) { fn(t, e.sub(t)) })
}

// browser is a browser with cookies that does not follow redirects by itself.
type browser struct {
	e   *env
	jar *cookiejar.Jar
	c   *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// signIn gives the browser an SSO session of user u at tenant tn, as the SAML ACS would.
func (b *browser) signIn(tn store.Tenant, u *scim.Resource, at time.Time) {
	b.e.t.Helper()
	value := store.NewID() // the session id a browser gets from the ACS
	h := sha256.Sum256([]byte(value))
	if err := b.e.st.(store.SAMLStore).CreateSession(ctx, store.Session{TenantID: tn.ID, Hash: h[:], Kind: store.SessionSSO, UserID: u.ID,
		CreatedAt: at.UTC(), ExpiresAt: at.UTC().Add(8 * time.Hour)}); err != nil {
		b.e.t.Fatal(err)
	}
	base, _ := url.Parse(b.e.issuer + "/t/" + tn.Slug + "/")
	b.jar.SetCookies(base, []*http.Cookie{{Name: saml.SessionCookie, Value: value, Path: "/t/" + tn.Slug + "/"}})
}

// result is where an authorization ended: the application's redirect URI with its query,
// a page of scimd's, or the tenant's SAML login.
type result struct {
	status   int
	location *url.URL // the last redirect's target, nil for a page
	body     string
}

func (r result) param(name string) string {
	if r.location == nil {
		return ""
	}
	return r.location.Query().Get(name)
}

// authorize sends the browser to the authorization endpoint with q and follows scimd's
// own redirects until the browser leaves for the application or the IdP login, or a page.
func (b *browser) authorize(q url.Values) result {
	b.e.t.Helper()
	next := b.e.issuer + oidc.AuthorizePath + "?" + q.Encode()
	for range 10 {
		resp, err := b.c.Get(next)
		if err != nil {
			b.e.t.Fatal(err)
		}
		var body strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return result{status: resp.StatusCode, body: body.String()}
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			b.e.t.Fatal(err)
		}
		if loc.Host != resp.Request.URL.Host || strings.Contains(loc.Path, "/saml/login") {
			return result{status: resp.StatusCode, location: loc}
		}
		next = loc.String()
	}
	b.e.t.Fatal("too many redirects")
	return result{}
}

// authParams is a valid authorization request of client c for tenant slug.
func authParams(c store.OIDCClient, slug string, scopes ...string) url.Values {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email", "groups", "offline_access"}
	}
	return url.Values{"client_id": {c.ID}, "response_type": {"code"}, "redirect_uri": {c.RedirectURIs[0]},
		"scope": {strings.Join(scopes, " ")}, "state": {"st-" + slug}, "nonce": {"n-" + slug}, "organization": {slug}}
}

// oauth2Config is the application's configuration for client c and secret.
func (e *env) oauth2Config(c store.OIDCClient, secret string, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ID, ClientSecret: secret, RedirectURL: c.RedirectURIs[0],
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + oidc.AuthorizePath, TokenURL: e.issuer + oidc.TokenPath, AuthStyle: style},
		Scopes:   []string{"openid", "profile", "email", "groups", "offline_access"}}
}

// code runs a sign-in of a fresh browser with a session of u at acme and returns the code,
// with PKCE verifier verifier ("" for none).
func (e *env) code(c store.OIDCClient, u *scim.Resource, verifier string) string {
	e.t.Helper()
	b := e.browser()
	b.signIn(e.acme, u, e.clock.Now())
	q := authParams(c, "acme")
	if verifier != "" {
		q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
		q.Set("code_challenge_method", "S256")
	}
	r := b.authorize(q)
	code := r.param("code")
	if code == "" {
		e.t.Fatalf("no code: %d %v %s", r.status, r.location, r.body)
	}
	return code
}

// exchange trades a code at the token endpoint.
func (e *env) exchange(c store.OIDCClient, secret, code, verifier string) (*oauth2.Token, error) {
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	return e.oauth2Config(c, secret, oauth2.AuthStyleInHeader).Exchange(ctx, code, opts...)
}

// refresh uses a refresh token once.
func (e *env) refresh(c store.OIDCClient, secret, refreshToken string) (*oauth2.Token, error) {
	src := e.oauth2Config(c, secret, oauth2.AuthStyleInHeader).TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken})
	return src.Token()
}

// verify checks an ID token as the application does, with go-oidc against the JWKS.
func (e *env) verify(tok *oauth2.Token, clientID string) (*gooidc.IDToken, map[string]any, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, errors.New("no id_token")
	}
	idt, err := e.provider.Verifier(&gooidc.Config{ClientID: clientID, Now: e.clock.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, err
	}
	return idt, claims, nil
}

// oauthError is the error code of a failed token request.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
