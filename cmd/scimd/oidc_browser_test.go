package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// testApp is the application scimd signs users into: a small go-oidc relying party with
// a login handler, a callback that verifies the ID token against the JWKS and shows its
// claims, and a refresh handler. It knows nothing of SAML.
type testApp struct {
	srv      *httptest.Server
	cfg      *oauth2.Config
	verifier *gooidc.IDTokenVerifier

	mu      sync.Mutex
	refresh string // the refresh token of the last sign-in or refresh
}

var appPage = template.Must(template.New("app").Parse(`<!doctype html><html><body><main>
{{with .Error}}<p id="error">{{.}}</p>{{end}}
{{range $k, $v := .Claims}}<p><span>{{$k}}</span>: <span id="claim-{{$k}}">{{$v}}</span></p>{{end}}
{{with .Note}}<p id="note">{{.}}</p>{{end}}
</main></body></html>`))

type appView struct {
	Error  string
	Claims map[string]string
	Note   string
}

func newTestApp(t *testing.T) *testApp {
	a := &testApp{}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	mux.HandleFunc("/login", a.login)
	mux.HandleFunc("/callback", a.callback)
	mux.HandleFunc("/refresh", a.doRefresh)
	return a
}

// configure points the application at scimd (issuer) with its client registration.
func (a *testApp) configure(t *testing.T, issuer, clientID, secret string) {
	provider, err := gooidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery of %s: %v", issuer, err)
	}
	a.cfg = &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: a.srv.URL + "/callback",
		Scopes: []string{gooidc.ScopeOpenID, "profile", "email", "groups", gooidc.ScopeOfflineAccess}}
	a.verifier = provider.Verifier(&gooidc.Config{ClientID: clientID})
}

func randomValue() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *testApp) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := randomValue(), randomValue(), oauth2.GenerateVerifier()
	for name, v := range map[string]string{"state": state, "nonce": nonce, "pkce": verifier} {
		http.SetCookie(w, &http.Cookie{Name: "app_" + name, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, a.cfg.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("organization", "default")), http.StatusFound)
}

func cookie(r *http.Request, name string) string {
	c, err := r.Cookie("app_" + name)
	if err != nil {
		return ""
	}
	return c.Value
}

func (a *testApp) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		appPage.Execute(w, appView{Error: e})
		return
	}
	if q.Get("state") == "" || q.Get("state") != cookie(r, "state") {
		appPage.Execute(w, appView{Error: "state mismatch"})
		return
	}
	tok, err := a.cfg.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(cookie(r, "pkce")))
	if err != nil {
		appPage.Execute(w, appView{Error: "exchange: " + err.Error()})
		return
	}
	claims, err := a.verify(r.Context(), tok)
	if err != nil {
		appPage.Execute(w, appView{Error: err.Error()})
		return
	}
	if claims["nonce"] != cookie(r, "nonce") {
		appPage.Execute(w, appView{Error: "nonce mismatch"})
		return
	}
	a.mu.Lock()
	a.refresh = tok.RefreshToken
	a.mu.Unlock()
	appPage.Execute(w, appView{Claims: claims, Note: "signed in"})
}

// verify checks the ID token against scimd's JWKS and returns its claims as text.
func (a *testApp) verify(ctx context.Context, tok *oauth2.Token) (map[string]string, error) {
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range all {
		switch v := v.(type) {
		case string:
			out[k] = v
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out, nil
}

func (a *testApp) doRefresh(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	rt := a.refresh
	a.mu.Unlock()
	tok, err := a.cfg.TokenSource(r.Context(), &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if ok := asRetrieveError(err, &re); ok {
			appPage.Execute(w, appView{Error: re.ErrorCode})
			return
		}
		appPage.Execute(w, appView{Error: err.Error()})
		return
	}
	claims, err := a.verify(r.Context(), tok)
	if err != nil {
		appPage.Execute(w, appView{Error: err.Error()})
		return
	}
	a.mu.Lock()
	a.refresh = tok.RefreshToken
	a.mu.Unlock()
	appPage.Execute(w, appView{Claims: claims, Note: "refreshed"})
}

func asRetrieveError(err error, re **oauth2.RetrieveError) bool {
	e, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = e
	}
	return ok
}

// TestBrowserOIDC: headless Chromium signs in to a go-oidc application through scimd's
// authorization endpoint, the tenant's SAML IdP and scimd's ACS, back to the application,
// which verifies the ID token against the JWKS and shows the claims; then it refreshes; then
// the user is deactivated over SCIM, and both a refresh and a new sign-in fail.
func TestBrowserOIDC(t *testing.T) {
	tb := newBrowserTestbed(t)
	token := bootstrapToken(t, tb.stderr.String())
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"saml", "configure", "--tenant", "default", "--sso-url", tb.idp + "/saml/sso",
		"--issuer", testIdPIssuer, "--cert", tb.certFile, "--jit", "--jit-trust-user-type", "--database", tb.dsn, "--public-url", tb.base}, &out, &errb); code != 0 {
		t.Fatalf("saml configure = %d: %s", code, errb.String())
	}
	app := newTestApp(t)
	out.Reset()
	if code := run(context.Background(), []string{"app", "create", "--name", "Test app", "--redirect-uri", app.srv.URL + "/callback",
		"--database", tb.dsn}, &out, &errb); code != 0 {
		t.Fatalf("app create = %d: %s", code, errb.String())
	}
	lines := strings.Fields(out.String())
	if len(lines) != 2 {
		t.Fatalf("app create printed %q; want the client id and the secret", out.String())
	}
	app.configure(t, tb.base, lines[0], lines[1])

	b := newBrowser(t, tb.chromium, tb.dir, tb.stderr)
	claim := func(name string) string { t.Helper(); return b.text("#claim-" + name) }

	b.step("open the application's login", chromedp.Navigate(app.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("btn-sign-in")))
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if !strings.HasPrefix(loc, tb.idp+"/saml/sso") {
		t.Fatalf("the application's login led to %s, not the tenant's IdP", loc)
	}
	b.step("sign in at the IdP", chromedp.Click(chromedp.ID("btn-sign-in")), chromedp.WaitVisible(chromedp.CSS("main")))
	b.shot("oidc-signed-in")
	if loc, _ := chromedp.Run(b.ctx, chromedp.Location()); !strings.HasPrefix(loc, app.srv.URL+"/callback") {
		t.Fatalf("after the IdP the browser is at %s, not the application", loc)
	}
	if s, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("body"))); strings.Contains(s, `id="error"`) {
		t.Fatalf("the application refused the sign-in: %s", s)
	}
	list := scim(t, token, "GET", tb.base+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "jit.user@example.com"`), "")
	users, _ := list["Resources"].([]any)
	if len(users) != 1 {
		t.Fatalf("JIT user over SCIM: %v", list)
	}
	userID := users[0].(map[string]any)["id"].(string)
	want := map[string]string{"iss": tb.base, "sub": userID, "email": "jit.user@example.com", "preferred_username": "jit.user@example.com",
		"name": "Jit User", "given_name": "Jit", "family_name": "User", "tenant": "default", "user_type": "viewer", "email_verified": "false"}
	for k, v := range want {
		if got := claim(k); got != v {
			t.Errorf("claim %s = %q, want %q", k, got, v)
		}
	}

	b.step("refresh", chromedp.Navigate(app.srv.URL+"/refresh"), chromedp.WaitVisible(chromedp.CSS("main")))
	if note := b.text("main"); !strings.Contains(note, "refreshed") || claim("sub") != userID {
		t.Fatalf("refresh page: %s", note)
	}

	scim(t, token, "PATCH", tb.base+"/scim/v2/Users/"+userID,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)

	b.step("refresh after the deactivation", chromedp.Navigate(app.srv.URL+"/refresh"), chromedp.WaitVisible(chromedp.ID("error")))
	if e := b.text("#error"); e != "invalid_grant" {
		t.Fatalf("refresh of a deactivated user: %q", e)
	}
	b.step("sign in after the deactivation", chromedp.Navigate(app.srv.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("main, #message")))
	b.shot("oidc-deactivated")
	loc, _ = chromedp.Run(b.ctx, chromedp.Location())
	body, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	if strings.Contains(body, "claim-sub") {
		t.Fatalf("the deactivated user signed in to the application at %s", loc)
	}
	if !strings.Contains(body, "access_denied") && !strings.Contains(body, "deactivated") {
		t.Fatalf("a new sign-in of the deactivated user ended at %s:\n%s", loc, body)
	}

	metrics := scrapeMetrics(t, tb.base)
	for _, line := range []string{
		`scimd_oidc_requests_total{endpoint="token",outcome="success"} 2`,
		`scimd_oidc_requests_total{endpoint="token",outcome="client_error"} 1`,
		`scimd_oidc_refusals_total{reason="user_deactivated"}`,
		`scimd_oidc_sign_in_duration_seconds_count 1`,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
