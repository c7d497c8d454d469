package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/scimd/scimd/internal/oidc"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/signing"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

// mountOIDC mounts the OpenID Connect provider for publicURL on the stack's router, as
// cmd/scimd wires it.
func mountOIDC(t *testing.T, st *testkit.Stack, publicURL string) *oidc.Provider {
	t.Helper()
	p, err := oidc.New(context.Background(), oidc.Config{Issuer: publicURL}, st.Store, st.Dir, signing.New(st.Store, signing.Options{}),
		st.SAML, slog.New(slog.DiscardHandler), st.Registry)
	if err != nil {
		t.Fatal(err)
	}
	p.Mount(st.Router)
	return p
}

// TestOpenAPIOIDC sends a request to every operation of the OpenID Connect provider, a
// whole sign-in included, and checks requests and responses against the contract. The
// provider's own tests (internal/oidc) check what the answers mean.
func TestOpenAPIOIDC(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	strict, lenient := contractClients(c)
	s := teststores.SQLite(t)
	e := newEnvOptions(t, s, func(o *testkit.Options) { o.SAML = &saml.Config{} })
	mountOIDC(t, e.stack, e.url)
	call := contractCall(t, e)
	ok := func(method, path, body string, status int, header ...string) resp {
		t.Helper()
		return call(strict, "", method, path, body, status, header...)
	}
	form := func(extra ...string) []string {
		return append([]string{"Content-Type", "application/x-www-form-urlencoded"}, extra...)
	}
	ctx := context.Background()
	key, cert, err := saml.NewKeyPair("acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := s.PutSAMLConfig(ctx, store.SAMLConfig{TenantID: e.tenant.ID, IdPEntityID: "https://idp.example",
		IdPSSOURL: "https://idp.example/sso", IdPCertPEM: cert, DefaultRedirect: "/t/acme/", SPKeyPEM: key, SPCertPEM: cert,
		CreatedAt: now, UpdatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	user, err := e.dir.CreateUser(ctx, e.tenant, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "ann@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	app, secret, err := oidc.NewClient(ctx, s, "App", []string{"https://app.example/cb"}, false, now)
	if err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(app.ID)+":"+url.QueryEscape(secret)))
	session := store.NewID()
	h := sha256.Sum256([]byte(session))
	if err := s.CreateSession(ctx, store.Session{TenantID: e.tenant.ID, Hash: h[:], Kind: store.SessionSSO,
		UserID: user.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"client_id": {app.ID}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"},
		"scope": {"openid profile offline_access"}, "state": {"s"}, "nonce": {"n"}, "organization": {"acme"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}

	ok("GET", oidc.DiscoveryPath, "", 200)
	ok("GET", oidc.JWKSPath, "", 200)
	bad := url.Values{"client_id": {"app_nope"}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"}, "scope": {"openid"}, "organization": {"acme"}}
	ok("GET", oidc.AuthorizePath+"?"+bad.Encode(), "", 400)
	noOrg := url.Values{}
	for k, v := range q {
		if k != "organization" {
			noOrg[k] = v
		}
	}
	if r := call(lenient, "", "GET", oidc.AuthorizePath+"?"+noOrg.Encode(), "", 302); !strings.Contains(r.Header.Get("Location"), "error=invalid_request") {
		t.Fatalf("authorize without organization redirects to %s", r.Header.Get("Location"))
	}
	ok("POST", oidc.AuthorizePath, noOrg.Encode(), 302, form()...)
	ok("GET", "/oidc/login?id=nope", "", 400)
	ok("GET", "/t/acme/oidc/resume?id=nope", "", 400)

	// A whole sign-in: authorize, login, resume (with the binding and session cookies).
	r := ok("GET", oidc.AuthorizePath+"?"+q.Encode(), "", 302)
	binding := ""
	for _, sc := range r.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(sc, "scimd_oidc="); ok {
			binding, _, _ = strings.Cut(v, ";")
		}
	}
	loginLoc, _ := url.Parse(r.Header.Get("Location"))
	r = ok("GET", loginLoc.RequestURI(), "", 302)
	resumeLoc, _ := url.Parse(r.Header.Get("Location"))
	ok("GET", resumeLoc.RequestURI(), "", 403) // without the browser's binding cookie
	r = ok("GET", resumeLoc.RequestURI(), "", 302, "Cookie", "scimd_oidc="+binding+"; "+saml.SessionCookie+"="+session)
	appLoc, _ := url.Parse(r.Header.Get("Location"))
	code := appLoc.Query().Get("code")
	if code == "" {
		t.Fatalf("resume redirects to %s", appLoc)
	}

	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier}}
	tok := ok("POST", oidc.TokenPath, exchange.Encode(), 200, form("Authorization", basic)...)
	ok("POST", oidc.TokenPath, exchange.Encode(), 400, form("Authorization", basic)...) // the code is used
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}
	ok("POST", oidc.TokenPath, refresh.Encode(), 401, form("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(app.ID+":wrong")))...)
	ok("POST", oidc.TokenPath, refresh.Encode(), 400, form("Authorization", basic)...) // revoked with the replayed code's grant
	preflight := []string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST"}
	ok("OPTIONS", oidc.TokenPath, "", 204, preflight...)
	ok("OPTIONS", oidc.UserinfoPath, "", 204, preflight...)
	call(lenient, "", "GET", oidc.UserinfoPath, "", 401)

	// A second sign-in for live tokens.
	q.Set("state", "s2")
	r = ok("GET", oidc.AuthorizePath+"?"+q.Encode(), "", 302)
	for _, sc := range r.Header.Values("Set-Cookie") {
		if v, ok := strings.CutPrefix(sc, "scimd_oidc="); ok {
			binding, _, _ = strings.Cut(v, ";")
		}
	}
	loginLoc, _ = url.Parse(r.Header.Get("Location"))
	resumeLoc, _ = url.Parse(ok("GET", loginLoc.RequestURI(), "", 302).Header.Get("Location"))
	appLoc, _ = url.Parse(ok("GET", resumeLoc.RequestURI(), "", 302, "Cookie", "scimd_oidc="+binding+"; "+saml.SessionCookie+"="+session).Header.Get("Location"))
	exchange.Set("code", appLoc.Query().Get("code"))
	tok = ok("POST", oidc.TokenPath, exchange.Encode(), 200, form("Authorization", basic)...)
	bearer := "Bearer " + tok.str("access_token")
	ok("GET", oidc.UserinfoPath, "", 200, "Authorization", bearer)
	ok("POST", oidc.UserinfoPath, "", 200, "Authorization", bearer)
	ok("POST", oidc.IntrospectPath, url.Values{"token": {tok.str("access_token")}}.Encode(), 200, form("Authorization", basic)...)
	ok("POST", oidc.RevokePath, url.Values{"token": {tok.str("refresh_token")}, "token_type_hint": {"refresh_token"}}.Encode(), 200,
		form("Authorization", basic)...)
	ok("POST", oidc.RevokePath, url.Values{"token": {"x"}}.Encode(), 401, form()...)

	for path, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if slices.Contains(op.Tags, "OIDC") && !c.seen[op.OperationID] {
				t.Errorf("operation %s (%s) was never exercised", op.OperationID, path)
			}
		}
	}
}
