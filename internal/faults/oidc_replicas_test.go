package faults

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/postgres"
	"github.com/scimd/scimd/internal/store/postgres/pgtest"
)

// TestOIDCAcrossProcesses: two scimd processes share one PostgreSQL and one public URL
// behind a (pretend) load balancer. The browser's authorization runs on one, the
// application exchanges the code and refreshes on the other, and the ID token verifies
// against either one's JWKS: codes, tokens, keys and the crypto key live in the database.
func TestOIDCAcrossProcesses(t *testing.T) {
	dsn := pgtest.NewDatabase(t, "")
	const issuer = "http://scimd.test" // the load balancer's URL: both processes are it
	a := startScimd(t, dsn, "--public-url", issuer)
	b := startScimd(t, dsn, "--public-url", issuer)
	baseA, baseB := "http://"+a.addr, "http://"+b.addr
	token := a.bootstrapToken(t)

	out, err := runScimd(t, "app", "create", "--name", "App", "--redirect-uri", "https://app.example/cb", "--database", dsn)
	if err != nil {
		t.Fatalf("app create: %v\n%s", err, out)
	}
	var clientID, secret string
	for _, f := range strings.Fields(out) {
		switch {
		case strings.HasPrefix(f, "app_"):
			clientID = f
		case strings.HasPrefix(f, "scimd_cs_"):
			secret = f
		}
	}
	if clientID == "" || secret == "" {
		t.Fatalf("app create printed %q", out)
	}

	// The tenant's SSO and a signed-in browser, as the SAML ACS would leave them.
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.TenantBySlug(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := saml.NewKeyPair("default", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := st.PutSAMLConfig(ctx, store.SAMLConfig{TenantID: tn.ID, IdPEntityID: "https://idp.example", IdPSSOURL: "https://idp.example/sso",
		IdPCertPEM: cert, DefaultRedirect: "/t/default/", SPKeyPEM: key, SPCertPEM: cert, CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	user := newClient(baseA, token).createUser("ann@example.com")
	if user.Status != http.StatusCreated {
		t.Fatalf("create user: %v", user)
	}
	sessionID := store.NewID()
	h := sha256.Sum256([]byte(sessionID))
	if err := st.CreateSession(ctx, store.Session{TenantID: tn.ID, Hash: h[:], Kind: store.SessionSSO, UserID: user.str("id"),
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	tenantURL, _ := url.Parse(baseA + "/t/default/")
	jar.SetCookies(tenantURL, []*http.Cookie{{Name: saml.SessionCookie, Value: sessionID, Path: "/t/default/"}})
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// Authorize on A.
	verifier := oauth2.GenerateVerifier()
	cfg := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: "https://app.example/cb",
		Endpoint: oauth2.Endpoint{AuthURL: baseA + "/oidc/authorize", TokenURL: baseB + "/oidc/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile", "email", "offline_access"}}
	next := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("organization", "default"),
		oauth2.SetAuthURLParam("nonce", "n1"))
	var code string
	for range 10 {
		res, err := browser.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		loc, err := res.Request.URL.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("GET %s = %d (%v)\n%s", next, res.StatusCode, err, a.stderr.String())
		}
		if loc.Host == "app.example" {
			code = loc.Query().Get("code")
			break
		}
		next = loc.String()
	}
	if code == "" {
		t.Fatal("no code from process A")
	}

	// Exchange on B; verify against both processes' JWKS.
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange on B: %v\n%s", err, b.stderr.String())
	}
	raw, _ := tok.Extra("id_token").(string)
	for _, base := range []string{baseA, baseB} {
		v := gooidc.NewVerifier(issuer, gooidc.NewRemoteKeySet(ctx, base+"/.well-known/jwks.json"), &gooidc.Config{ClientID: clientID})
		idt, err := v.Verify(ctx, raw)
		if err != nil || idt.Subject != user.str("id") || idt.Nonce != "n1" {
			t.Fatalf("ID token against %s's JWKS: %v", base, err)
		}
	}
	// Refresh on A; the used token is then refused on B.
	cfgA := *cfg
	cfgA.Endpoint.TokenURL = baseA + "/oidc/token"
	fresh, err := cfgA.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || fresh.RefreshToken == "" {
		t.Fatalf("refresh on A: %v", err)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("reuse of the rotated refresh token on B: %v", err)
	}
	// The replay revoked the family on both.
	if _, err := cfgA.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
		t.Fatal("the family's newest refresh token survived a replay")
	}
}
