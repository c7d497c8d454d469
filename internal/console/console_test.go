package console_test

import (
	"context"
	"crypto/sha256"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/server"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testkit"
)

const origin = "http://scimd.test"

var ctx = context.Background()

// env is a console on the real router (with the SAML routes), two tenants, and a clock.
type env struct {
	t       *testing.T
	store   store.Store
	dir     *directory.Directory
	handler http.Handler
	now     time.Time
	acme    store.Tenant
	beta    store.Tenant
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, teststores.SQLite(t))
}

// newEnvOn is newEnv on a given fresh store.
func newEnvOn(t *testing.T, s store.Store) *env {
	t.Helper()
	e := &env{t: t, store: s, now: time.Now().UTC()}
	clock := func() time.Time { return e.now }
	st, err := testkit.New(ctx, s, testkit.Options{Server: server.Config{PublicURL: origin},
		SAML: &saml.Config{PublicURL: origin, Now: clock}, Console: &console.Config{PublicURL: origin, Now: clock}})
	if err != nil {
		t.Fatal(err)
	}
	e.handler, e.dir = st.Router, st.Dir
	if e.acme, err = e.dir.CreateTenant(ctx, "acme", "Acme Inc"); err != nil {
		t.Fatal(err)
	}
	if e.beta, err = e.dir.CreateTenant(ctx, "beta", "Beta Ltd"); err != nil {
		t.Fatal(err)
	}
	return e
}

// user creates a user of tenant tn.
func (e *env) user(tn store.Tenant, userName, userType string) *scim.Resource {
	e.t.Helper()
	u, err := e.dir.CreateUser(ctx, tn, map[string]any{"schemas": []any{scim.UserSchema}, "userName": userName, "userType": userType,
		"name":   map[string]any{"givenName": "Test", "familyName": userName},
		"emails": []any{map[string]any{"value": userName, "primary": true}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// session signs u in by single sign-on, as a SAML login does, and returns the cookie.
func (e *env) session(tn store.Tenant, u *scim.Resource) *http.Cookie {
	e.t.Helper()
	id := "sso-" + u.ID
	h := sha256.Sum256([]byte(id))
	if err := e.store.CreateSession(ctx, store.Session{TenantID: tn.ID, Hash: h[:], Kind: store.SessionSSO, UserID: u.ID, CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	return &http.Cookie{Name: saml.SessionCookie, Value: id}
}

// resp is an answer.
type resp struct {
	status int
	header http.Header
	body   string
	cookie []*http.Cookie
}

// do sends a request through the router as a browser of the console's origin does
// (testkit.Browser): form, when not nil, is POSTed with Origin set.
func (e *env) do(method, path string, form url.Values, cookies []*http.Cookie, header ...string) resp {
	e.t.Helper()
	p := testkit.Browser{Handler: e.handler, Origin: origin}.Do(method, path, form, cookies, header...)
	return resp{status: p.Status, header: p.Header, body: p.Body, cookie: p.Cookies}
}

// bootstrap signs a browser in with a one-time link of tenant tn and returns its cookie.
func (e *env) bootstrap(tn store.Tenant) *http.Cookie {
	e.t.Helper()
	link, _, err := console.IssueLink(ctx, e.store, tn, origin, e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	r := e.do("POST", "/t/"+tn.Slug+"/admin/signin", url.Values{"token": {tokenOf(e.t, link)}}, nil)
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("sign-in with the link = %d: %s", r.status, r.body)
	}
	for _, c := range r.cookie {
		if c.Name == "scimd_admin" && c.Value != "" {
			return c
		}
	}
	e.t.Fatal("the sign-in set no console cookie")
	return nil
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token of the forms on a page the cookies open.
func (e *env) csrf(path string, cookies []*http.Cookie) string {
	e.t.Helper()
	r := e.do("GET", path, nil, cookies)
	m := csrfInput.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		e.t.Fatalf("GET %s = %d, no CSRF token:\n%s", path, r.status, r.body)
	}
	return m[1]
}

// elementText returns the text of the element with the id, or "" (for simple elements).
func elementText(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

func checkHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP allows inline code: %q", what, csp)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, h.Get("Cache-Control"))
	}
}

var inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+=|<style|style=`)

// TestConsoleAccess: every page is for the tenant's admins only.
func TestConsoleAccess(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme, "ann@acme.test", "admin")
	member := e.user(e.acme, "max@acme.test", "member")
	other := e.user(e.beta, "bob@beta.test", "admin")
	group, err := e.dir.CreateGroup(ctx, e.acme, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Sales",
		"members": []any{map[string]any{"value": member.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	inactive := e.user(e.acme, "ina@acme.test", "admin")
	inactiveCookie := e.session(e.acme, inactive)
	if _, err := e.dir.SetUserActive(ctx, e.acme, inactive.ID, false); err != nil {
		t.Fatal(err)
	}
	_, certPEM, err := saml.NewKeyPair("idp", e.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := saml.Configure(ctx, e.dir, e.acme, saml.Settings{SSOURL: "https://idp.example.com/sso", Issuer: "https://idp.example.com",
		CertPEM: []byte(certPEM)}, e.now); err != nil {
		t.Fatal(err)
	}
	otherSession := e.session(e.beta, other)
	// The beta admin's cookie, sent to acme's paths (a browser would not: it is scoped).
	otherBootstrap := e.bootstrap(e.beta)
	who := []struct {
		name    string
		cookies []*http.Cookie
		status  int
		want    string // id in the body
	}{
		{"anonymous", nil, http.StatusForbidden, `id="signin"`},
		{"member", []*http.Cookie{e.session(e.acme, member)}, http.StatusForbidden, "not an administrator"},
		{"deactivated admin", []*http.Cookie{inactiveCookie}, http.StatusForbidden, `id="signin"`},
		{"other tenant's admin", []*http.Cookie{otherSession}, http.StatusForbidden, `id="signin"`},
		{"other tenant's bootstrap", []*http.Cookie{otherBootstrap}, http.StatusForbidden, `id="signin"`},
		{"admin", []*http.Cookie{e.session(e.acme, admin)}, http.StatusOK, `id="admin-name">ann@acme.test<`},
		{"bootstrap", []*http.Cookie{e.bootstrap(e.acme)}, http.StatusOK, `id="admin-name">bootstrap<`},
	}
	pages := []string{"/t/acme/admin/saml", "/t/acme/admin/scim", "/t/acme/admin/users", "/t/acme/admin/users/" + member.ID,
		"/t/acme/admin/groups", "/t/acme/admin/groups/" + group.ID, "/t/acme/admin/events"}
	for _, w := range who {
		for _, p := range pages {
			t.Run(w.name+" "+p, func(t *testing.T) {
				r := e.do("GET", p, nil, w.cookies)
				if r.status != w.status || !strings.Contains(r.body, w.want) {
					t.Fatalf("GET %s = %d, want %d with %s:\n%s", p, r.status, w.status, w.want, r.body)
				}
				checkHeaders(t, p, r.header)
				if inlineScript.MatchString(r.body) {
					t.Errorf("%s has inline script or style: %s", p, inlineScript.FindString(r.body))
				}
				if w.status == http.StatusOK && strings.Contains(r.body, "bob@beta.test") {
					t.Errorf("%s shows the other tenant's user", p)
				}
			})
		}
	}
	t.Run("sign-in link of the anonymous page returns to the page", func(t *testing.T) {
		r := e.do("GET", "/t/acme/admin/users", nil, nil)
		if !strings.Contains(r.body, `href="/t/acme/saml/login?return_to=%2ft%2facme%2fadmin%2fusers"`) &&
			!strings.Contains(r.body, `href="/t/acme/saml/login?return_to=%2Ft%2Facme%2Fadmin%2Fusers"`) {
			t.Fatalf("no sign-in link back to the page:\n%s", r.body)
		}
	})
	t.Run("no SSO yet: the page says how to get a link", func(t *testing.T) {
		r := e.do("GET", "/t/beta/admin/saml", nil, nil)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "scimd admin link --tenant beta") || strings.Contains(r.body, `id="signin"`) {
			t.Fatalf("GET = %d:\n%s", r.status, r.body)
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		if r := e.do("GET", "/t/nope/admin/saml", nil, nil); r.status != http.StatusNotFound {
			t.Fatalf("GET = %d", r.status)
		}
	})
	t.Run("assets", func(t *testing.T) {
		for _, a := range []struct{ path, ct string }{{"/console/console.css", "text/css"}, {"/console/copy.js", "text/javascript"}} {
			r := e.do("GET", a.path, nil, nil)
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), a.ct) || len(r.body) < 100 {
				t.Errorf("GET %s = %d %s", a.path, r.status, r.header.Get("Content-Type"))
			}
		}
		if r := e.do("GET", "/console/secret.txt", nil, nil); r.status != http.StatusNotFound {
			t.Errorf("GET an unknown asset = %d", r.status)
		}
	})
}

// TestConsoleCSRF: every form is refused without the session's token or from another
// origin, and nothing changes; with both it goes through.
func TestConsoleCSRF(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme, "ann@acme.test", "admin")
	target := e.user(e.acme, "max@acme.test", "member")
	_, tok, err := e.dir.IssueToken(ctx, e.acme, "okta")
	if err != nil {
		t.Fatal(err)
	}
	cookies := []*http.Cookie{e.session(e.acme, admin)}
	token := e.csrf("/t/acme/admin/scim", cookies)
	// Another admin's session has another token.
	otherToken := e.csrf("/t/acme/admin/scim", []*http.Cookie{e.bootstrap(e.acme)})
	if otherToken == token {
		t.Fatal("two sessions have the same CSRF token")
	}
	_, certPEM, _ := saml.NewKeyPair("idp", e.now)
	forms := []struct {
		name, path string
		form       url.Values
		ok         int
		changed    func() bool
	}{
		{"generate token", "/t/acme/admin/scim/tokens", url.Values{"label": {"entra"}}, http.StatusOK, func() bool {
			toks, _ := e.store.Tokens(ctx, e.acme.ID)
			return len(toks) > 1
		}},
		{"revoke token", "/t/acme/admin/scim/tokens/" + tok.ID + "/revoke", url.Values{}, http.StatusSeeOther, func() bool {
			toks, _ := e.store.Tokens(ctx, e.acme.ID)
			return toks[0].Revoked()
		}},
		{"deactivate user", "/t/acme/admin/users/" + target.ID + "/active", url.Values{"active": {"false"}}, http.StatusSeeOther, func() bool {
			u, _ := e.dir.Get(ctx, scim.Users, e.acme, target.ID, false)
			return u.Attrs["active"] == false
		}},
		{"save SAML", "/t/acme/admin/saml", url.Values{"source": {"fields"}, "sso_url": {"https://idp.example.com/sso"}, "issuer": {"https://idp.example.com"},
			"cert": {certPEM}, "default_user_type": {"member"}}, http.StatusSeeOther, func() bool {
			_, err := e.store.SAMLConfig(ctx, e.acme.ID)
			return err == nil
		}},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			refused := []struct {
				name   string
				csrf   string
				header []string
			}{
				{"no token", "", nil},
				{"another session's token", otherToken, nil},
				{"a forged token", strings.Repeat("A", len(token)), nil},
				{"foreign origin", token, []string{"Origin", "https://evil.example"}},
				{"null origin", token, []string{"Origin", "null"}},
				{"no origin, foreign referer", token, []string{"Origin", "", "Referer", "https://evil.example/x"}},
				{"no origin, no referer", token, []string{"Origin", ""}},
			}
			for _, rf := range refused {
				form := url.Values{}
				for k, v := range f.form {
					form[k] = v
				}
				if rf.csrf != "" {
					form.Set("csrf", rf.csrf)
				}
				r := e.do("POST", f.path, form, cookies, rf.header...)
				if r.status != http.StatusForbidden || !strings.Contains(r.body, "Request refused") {
					t.Errorf("%s: POST = %d, want 403:\n%s", rf.name, r.status, r.body)
				}
				if f.changed() {
					t.Fatalf("%s: the refused form changed something", rf.name)
				}
			}
			form := url.Values{"csrf": {token}}
			for k, v := range f.form {
				form[k] = v
			}
			if r := e.do("POST", f.path, form, cookies, "Origin", "", "Referer", origin+"/t/acme/admin/scim"); r.status != f.ok {
				t.Fatalf("POST with the token and a same-site Referer = %d, want %d:\n%s", r.status, f.ok, r.body)
			}
			if !f.changed() {
				t.Fatal("the accepted form changed nothing")
			}
		})
	}
	t.Run("sign-out", func(t *testing.T) {
		if r := e.do("POST", "/t/acme/admin/signout", url.Values{}, cookies); r.status != http.StatusForbidden {
			t.Fatalf("sign-out without the token = %d", r.status)
		}
		if r := e.do("POST", "/t/acme/admin/signout", url.Values{"csrf": {token}}, cookies); r.status != http.StatusSeeOther {
			t.Fatalf("sign-out = %d", r.status)
		}
		if r := e.do("GET", "/t/acme/admin/scim", nil, cookies); r.status != http.StatusForbidden {
			t.Fatalf("after sign-out the session still opens the console: %d", r.status)
		}
	})
	t.Run("a member's token is no admin's", func(t *testing.T) {
		member := []*http.Cookie{e.session(e.acme, e.user(e.acme, "mia@acme.test", "member"))}
		if r := e.do("POST", "/t/acme/admin/scim/tokens", url.Values{"label": {"x"}, "csrf": {token}}, member); r.status != http.StatusForbidden {
			t.Fatalf("POST by a member = %d", r.status)
		}
	})
}

// TestConsoleSAMLForm: the form validates with saml.Configure, as the CLI does, and shows
// each error next to its field.
func TestConsoleSAMLForm(t *testing.T) {
	e := newEnv(t)
	cookies := []*http.Cookie{e.bootstrap(e.acme)}
	token := e.csrf("/t/acme/admin/saml", cookies)
	_, certPEM, err := saml.NewKeyPair("idp", e.now)
	if err != nil {
		t.Fatal(err)
	}
	_, oldCert, err := saml.NewKeyPair("old", e.now.AddDate(-20, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	good := url.Values{"csrf": {token}, "source": {"fields"}, "sso_url": {"https://idp.example.com/sso"},
		"issuer": {"https://idp.example.com"}, "cert": {certPEM}, "default_user_type": {"member"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range good {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	cases := []struct {
		name  string
		form  url.Values
		field string
		cli   *saml.Settings // the same input to the CLI's Configure, whose sentence must be shown
	}{
		{"http SSO URL", with("sso_url", "http://idp.example.com/sso"), "sso_url",
			&saml.Settings{SSOURL: "http://idp.example.com/sso", Issuer: "https://idp.example.com", CertPEM: []byte(certPEM)}},
		{"no SSO URL", with("sso_url", ""), "sso_url", &saml.Settings{Issuer: "https://idp.example.com", CertPEM: []byte(certPEM)}},
		{"no issuer", with("issuer", " "), "issuer", &saml.Settings{SSOURL: "https://idp.example.com/sso", CertPEM: []byte(certPEM)}},
		{"not PEM", with("cert", "hello"), "cert", &saml.Settings{SSOURL: "https://idp.example.com/sso", Issuer: "x", CertPEM: []byte("hello")}},
		{"expired certificate", with("cert", oldCert), "cert", &saml.Settings{SSOURL: "https://idp.example.com/sso", Issuer: "x", CertPEM: []byte(oldCert)}},
		{"unsafe redirect", with("default_redirect", "//evil.example"), "default_redirect",
			&saml.Settings{SSOURL: "https://idp.example.com/sso", Issuer: "x", CertPEM: []byte(certPEM), DefaultRedirect: "//evil.example"}},
		{"bad metadata", with("source", "metadata", "metadata", "<nope"), "metadata", &saml.Settings{IdPMetadata: []byte("<nope")}},
		{"no metadata", with("source", "metadata", "metadata", ""), "metadata", nil},
		{"unknown userType", with("default_user_type", "owner"), "default_user_type", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/t/acme/admin/saml", tc.form, cookies)
			if r.status != http.StatusBadRequest {
				t.Fatalf("POST = %d, want 400:\n%s", r.status, r.body)
			}
			msg := elementText(r.body, tc.field+"-error")
			if msg == "" {
				t.Fatalf("no error next to %s:\n%s", tc.field, r.body)
			}
			if !strings.Contains(r.body, `id="`+tc.field+`" `) && !strings.Contains(r.body, `id="`+tc.field+`"`) {
				t.Fatalf("the field %s is not on the page", tc.field)
			}
			if tc.cli != nil {
				_, err := saml.Configure(ctx, e.dir, e.acme, *tc.cli, e.now)
				if err == nil || !strings.Contains(html.UnescapeString(r.body), err.Error()) {
					t.Errorf("the page does not show the CLI's sentence %v; shows %q", err, msg)
				}
			}
			if _, err := e.store.SAMLConfig(ctx, e.acme.ID); err == nil {
				t.Fatal("an invalid form was saved")
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		r := e.do("POST", "/t/acme/admin/saml", with("jit", "on", "default_user_type", "viewer", "default_redirect", "/t/acme/home"), cookies)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/t/acme/admin/saml?saved=1" {
			t.Fatalf("POST = %d %s:\n%s", r.status, r.header.Get("Location"), r.body)
		}
		cfg, err := e.store.SAMLConfig(ctx, e.acme.ID)
		if err != nil || !cfg.JIT || cfg.AllowIdPInitiated || cfg.IdPSSOURL != "https://idp.example.com/sso" || cfg.DefaultRedirect != "/t/acme/home" {
			t.Fatalf("stored %+v, %v", cfg, err)
		}
		tn, _ := e.store.TenantBySlug(ctx, "acme")
		if tn.DefaultUserType != "viewer" {
			t.Fatalf("default userType = %q", tn.DefaultUserType)
		}
		page := e.do("GET", "/t/acme/admin/saml?saved=1", nil, cookies)
		for _, want := range []string{`id="saml-status">Configured<`, `id="flash"`, "BEGIN CERTIFICATE", origin + "/t/acme/saml/acs",
			`href="/t/acme/saml/login?return_to=/t/acme/admin/saml"`, `id="jit" name="jit" checked`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("the saved page lacks %s", want)
			}
		}
		evs, _ := e.store.Events(ctx, e.acme.ID, store.EventQuery{Name: directory.EventSAMLConfigure})
		if len(evs) != 1 || evs[0].Actor != "console bootstrap" {
			t.Errorf("audit events: %+v", evs)
		}
	})
}

// TestConsoleTokens: a generated token is shown once, works, and can be revoked.
func TestConsoleTokens(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme, "ann@acme.test", "admin")
	cookies := []*http.Cookie{e.session(e.acme, admin)}
	token := e.csrf("/t/acme/admin/scim", cookies)
	auth := directory.NewAuthenticator(e.store)

	t.Run("empty label", func(t *testing.T) {
		r := e.do("POST", "/t/acme/admin/scim/tokens", url.Values{"csrf": {token}, "label": {"  "}}, cookies)
		if r.status != http.StatusBadRequest || elementText(r.body, "label-error") == "" {
			t.Fatalf("POST = %d:\n%s", r.status, r.body)
		}
		if toks, err := e.store.Tokens(ctx, e.acme.ID); err != nil || len(toks) != 0 {
			t.Fatalf("a token was made: %v, %v", toks, err)
		}
	})
	r := e.do("POST", "/t/acme/admin/scim/tokens", url.Values{"csrf": {token}, "label": {"okta"}}, cookies)
	m := regexp.MustCompile(`id="new-token"[^>]*value="(scimd_[A-Za-z0-9_-]+)"`).FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("POST = %d, no token shown:\n%s", r.status, r.body)
	}
	secret := m[1]
	if strings.Count(r.body, secret) != 1 || !strings.Contains(r.body, "will not be shown again") {
		t.Errorf("the token is not shown exactly once with its warning")
	}
	tn, tok, err := auth.Authenticate(ctx, "Bearer "+secret)
	if err != nil || tn.ID != e.acme.ID || tok.Label != "okta" {
		t.Fatalf("the shown token authenticates as %v %v, %v", tn.Slug, tok.Label, err)
	}
	page := e.do("GET", "/t/acme/admin/scim", nil, cookies)
	if strings.Contains(page.body, secret) || strings.Contains(page.body, `id="new-token"`) {
		t.Fatal("the token is shown again")
	}
	if !strings.Contains(page.body, "<strong>okta</strong>") || !strings.Contains(page.body, origin+"/scim/v2/") {
		t.Fatalf("the page lacks the token list or the provisioning URL:\n%s", page.body)
	}
	// Revoke: first a confirmation, then the POST.
	confirm := e.do("GET", "/t/acme/admin/scim?revoke="+tok.ID, nil, cookies)
	if !strings.Contains(confirm.body, `id="confirm-revoke"`) {
		t.Fatalf("no confirmation:\n%s", confirm.body)
	}
	if r := e.do("POST", "/t/acme/admin/scim/tokens/"+tok.ID+"/revoke", url.Values{"csrf": {token}}, cookies); r.status != http.StatusSeeOther {
		t.Fatalf("revoke = %d", r.status)
	}
	if _, _, err := auth.Authenticate(ctx, "Bearer "+secret); err == nil {
		t.Fatal("the revoked token still authenticates")
	}
	// Another tenant's token cannot be revoked from here.
	_, betaTok, _ := e.dir.IssueToken(ctx, e.beta, "beta")
	if r := e.do("POST", "/t/acme/admin/scim/tokens/"+betaTok.ID+"/revoke", url.Values{"csrf": {token}}, cookies); r.status != http.StatusNotFound {
		t.Fatalf("revoking another tenant's token = %d", r.status)
	}
	if toks, err := e.store.Tokens(ctx, e.beta.ID); err != nil || len(toks) != 1 || toks[0].Revoked() {
		t.Fatalf("another tenant's token was revoked: %v, %v", toks, err)
	}
	evs, err := e.store.Events(ctx, e.acme.ID, store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ev := range evs {
		if ev.ResourceType != "Token" {
			continue
		}
		if ev.Actor != "console ann@acme.test" || ev.ResourceID != tok.ID {
			t.Errorf("event %+v", ev)
		}
		names = append(names, ev.Name)
	}
	if strings.Join(names, " ") != "scim_token_revoke scim_token_create" {
		t.Errorf("events %v", names)
	}
}

// TestConsoleAdminLink: a link signs one browser in, once, within 15 minutes, for its
// tenant only.
func TestConsoleAdminLink(t *testing.T) {
	e := newEnv(t)
	issue := func(tn store.Tenant) string {
		link, expires, err := console.IssueLink(ctx, e.store, tn, origin, e.now)
		if err != nil {
			t.Fatal(err)
		}
		if !expires.Equal(e.now.Add(15*time.Minute)) || !strings.HasPrefix(link, origin+"/t/"+tn.Slug+"/admin/signin?token=") {
			t.Fatalf("IssueLink = %s, %v", link, expires)
		}
		return tokenOf(t, link)
	}
	signin := func(slug, token string, header ...string) resp {
		return e.do("POST", "/t/"+slug+"/admin/signin", url.Values{"token": {token}}, nil, header...)
	}
	t.Run("the landing page does not use the link", func(t *testing.T) {
		tok := issue(e.acme)
		for range 2 {
			r := e.do("GET", "/t/acme/admin/signin?token="+tok, nil, nil)
			if r.status != http.StatusOK || !strings.Contains(r.body, `id="continue"`) {
				t.Fatalf("GET = %d:\n%s", r.status, r.body)
			}
			checkHeaders(t, "sign-in page", r.header)
		}
		if r := signin("acme", tok); r.status != http.StatusSeeOther || r.header.Get("Location") != "/t/acme/admin/saml" {
			t.Fatalf("POST = %d %s", r.status, r.header.Get("Location"))
		}
	})
	cases := []struct {
		name   string
		slug   string
		token  func() string
		header []string
		later  time.Duration
		status int
	}{
		{"used once", "acme", func() string {
			tok := issue(e.acme)
			signin("acme", tok)
			return tok
		}, nil, 0, http.StatusForbidden},
		{"expired", "acme", func() string { return issue(e.acme) }, nil, 15 * time.Minute, http.StatusForbidden},
		{"another tenant's link", "beta", func() string { return issue(e.acme) }, nil, 0, http.StatusForbidden},
		{"made up", "acme", func() string { return "not-a-token" }, nil, 0, http.StatusForbidden},
		{"cross-site post", "acme", func() string { return issue(e.acme) }, []string{"Origin", "https://evil.example"}, 0, http.StatusForbidden},
		{"within 15 minutes", "acme", func() string { return issue(e.acme) }, nil, 14 * time.Minute, http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := e.now
			tok := tc.token()
			e.now = start.Add(tc.later)
			defer func() { e.now = start }()
			r := signin(tc.slug, tok, tc.header...)
			if r.status != tc.status {
				t.Fatalf("POST = %d, want %d:\n%s", r.status, tc.status, r.body)
			}
		})
	}
	t.Run("the session ends", func(t *testing.T) {
		c := []*http.Cookie{e.bootstrap(e.acme)}
		if r := e.do("GET", "/t/acme/admin/users", nil, c); r.status != http.StatusOK {
			t.Fatalf("GET = %d", r.status)
		}
		start := e.now
		e.now = start.Add(console.DefaultSessionTTL)
		defer func() { e.now = start }()
		if r := e.do("GET", "/t/acme/admin/users", nil, c); r.status != http.StatusForbidden {
			t.Fatalf("GET after the session's end = %d", r.status)
		}
	})
}

// TestConsoleUsers: the lists search and page with SCIM filters; the detail shows groups
// and events; deactivation goes through the directory with the admin as actor.
func TestConsoleUsers(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme, "ann@acme.test", "admin")
	var last *scim.Resource
	for i := range 30 {
		last = e.user(e.acme, "user"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@acme.test", "member")
	}
	sales, err := e.dir.CreateGroup(ctx, e.acme, map[string]any{"schemas": []any{scim.GroupSchema}, "displayName": "Sales",
		"members": []any{map[string]any{"value": last.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	e.user(e.beta, "userzz@beta.test", "member")
	cookies := []*http.Cookie{e.session(e.acme, admin)}
	rows := regexp.MustCompile(`<tr class="user">`)
	cases := []struct {
		name   string
		query  string
		status int
		rows   int
		want   []string
	}{
		{"first page", "", 200, 25, []string{"1–25 of 31", `id="next" href="/t/acme/admin/users?start=26"`}},
		{"second page", "?start=26", 200, 6, []string{"26–31 of 31", `id="prev" href="/t/acme/admin/users"`}},
		{"search", "?q=USERB", 200, 2, []string{"userba@acme.test", "userbb@acme.test"}},
		{"search by email", "?q=ann%40acme", 200, 1, []string{"ann@acme.test"}},
		{"filter", "?filter=" + url.QueryEscape(`userType eq "admin"`), 200, 1, []string{"ann@acme.test"}},
		{"search and filter", "?q=user&filter=" + url.QueryEscape(`userName sw "usera"`), 200, 2, nil},
		{"bad filter", "?filter=" + url.QueryEscape(`bogus eq "x"`), 400, 0, []string{`id="filter-error"`, "bogus"}},
		{"injection is a value", "?q=" + url.QueryEscape(`x" or userName pr or "`), 200, 0, []string{"No user matches."}},
		{"other tenant's users are not found", "?q=userzz", 200, 0, []string{"No user matches."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/t/acme/admin/users"+tc.query, nil, cookies)
			if r.status != tc.status {
				t.Fatalf("GET = %d, want %d:\n%s", r.status, tc.status, r.body)
			}
			if n := len(rows.FindAllString(r.body, -1)); n != tc.rows {
				t.Errorf("%d rows, want %d", n, tc.rows)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("the page lacks %s", w)
				}
			}
		})
	}
	t.Run("groups", func(t *testing.T) {
		r := e.do("GET", "/t/acme/admin/groups?q=sal", nil, cookies)
		if !strings.Contains(r.body, `href="/t/acme/admin/groups/`+sales.ID+`">Sales</a>`) {
			t.Fatalf("the group is not listed:\n%s", r.body)
		}
		g := e.do("GET", "/t/acme/admin/groups/"+sales.ID, nil, cookies)
		if !strings.Contains(g.body, `href="/t/acme/admin/users/`+last.ID+`"`) || !strings.Contains(g.body, "group_create_provision") {
			t.Fatalf("the group page lacks its member or event:\n%s", g.body)
		}
		if r := e.do("GET", "/t/acme/admin/groups?filter=bogus", nil, cookies); r.status != 400 || !strings.Contains(r.body, `id="filter-error"`) {
			t.Fatalf("bad group filter = %d", r.status)
		}
	})
	t.Run("detail and deactivation", func(t *testing.T) {
		p := "/t/acme/admin/users/" + last.ID
		r := e.do("GET", p, nil, cookies)
		for _, w := range []string{`id="user-status">Active<`, ">Sales</a>", "user_create_provision", `id="toggle-active"`} {
			if !strings.Contains(r.body, w) {
				t.Errorf("detail lacks %s", w)
			}
		}
		if strings.Contains(r.body, `id="confirm"`) {
			t.Error("the confirmation is open before it is asked for")
		}
		if c := e.do("GET", p+"?confirm=1", nil, cookies); !strings.Contains(c.body, `id="confirm"`) {
			t.Fatal("no confirmation")
		}
		token := e.csrf(p, cookies)
		if r := e.do("POST", p+"/active", url.Values{"csrf": {token}, "active": {"false"}}, cookies); r.status != http.StatusSeeOther {
			t.Fatalf("deactivate = %d", r.status)
		}
		r = e.do("GET", p+"?done=deactivated", nil, cookies)
		if !strings.Contains(r.body, `id="user-status">Deactivated<`) || !strings.Contains(r.body, "user_deprovision") {
			t.Fatalf("after deactivation:\n%s", r.body)
		}
		if r := e.do("POST", p+"/active", url.Values{"csrf": {token}, "active": {"true"}}, cookies); r.status != http.StatusSeeOther {
			t.Fatalf("reactivate = %d", r.status)
		}
		evs, _ := e.store.Events(ctx, e.acme.ID, store.EventQuery{ResourceID: last.ID, Limit: 2})
		if len(evs) != 2 || evs[0].Name != directory.EventUserUpdate || evs[1].Name != directory.EventUserDeprov {
			t.Fatalf("events %+v", evs)
		}
		for _, ev := range evs {
			if ev.Actor != "console ann@acme.test" {
				t.Errorf("actor %q", ev.Actor)
			}
		}
		if r := e.do("GET", "/t/acme/admin/users/00000000-0000-4000-8000-000000000000", nil, cookies); r.status != http.StatusNotFound {
			t.Errorf("unknown user = %d", r.status)
		}
		if r := e.do("POST", "/t/acme/admin/users/"+last.ID+"/active", url.Values{"csrf": {token}, "active": {"maybe"}}, cookies); r.status != http.StatusBadRequest {
			t.Errorf("bad status = %d", r.status)
		}
	})
}

// TestConsoleEvents: the audit log filters by event, outcome, user or group, newest first,
// paged.
func TestConsoleEvents(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme, "ann@acme.test", "admin")
	bob := e.user(e.acme, "bob@acme.test", "member")
	for range 30 {
		if _, err := e.dir.SetUserActive(ctx, e.acme, bob.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.dir.SetUserActive(ctx, e.acme, bob.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.dir.CreateUser(ctx, e.acme, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "ann@acme.test"}); err == nil {
		t.Fatal("a duplicate user was created")
	}
	e.user(e.beta, "zed@beta.test", "member")
	cookies := []*http.Cookie{e.session(e.acme, admin)}
	rows := regexp.MustCompile(`<tr class="event">`)
	cases := []struct {
		name   string
		query  string
		status int
		rows   int
		want   []string
		not    []string
	}{
		{"newest first, paged", "", 200, 25, []string{`id="next"`}, []string{"zed@beta.test"}},
		{"page 3", "?start=51", 200, 13, []string{`id="prev"`}, []string{`id="next"`}},
		{"by event", "?event=user_deprovision", 200, 25, []string{"1–25<"}, []string{"user_update_provision</code>"}},
		{"by outcome", "?outcome=client_error", 200, 1, []string{"already taken"}, nil},
		{"by userName", "?resource=ann%40acme.test", 200, 1, []string{"Events of <strong>ann@acme.test</strong>"}, nil},
		{"by id", "?resource=" + bob.ID, 200, 25, nil, nil},
		{"unknown user", "?resource=nobody", 400, 0, []string{`id="resource-error"`}, nil},
		{"another tenant's user", "?resource=zed%40beta.test", 400, 0, []string{`id="resource-error"`}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/t/acme/admin/events"+tc.query, nil, cookies)
			if r.status != tc.status {
				t.Fatalf("GET = %d, want %d:\n%s", r.status, tc.status, r.body)
			}
			if n := len(rows.FindAllString(r.body, -1)); n != tc.rows {
				t.Errorf("%d rows, want %d", n, tc.rows)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("the page lacks %s", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(r.body, w) {
					t.Errorf("the page has %s", w)
				}
			}
		})
	}
	// Newest first: the first row is the last change.
	r := e.do("GET", "/t/acme/admin/events?resource="+bob.ID, nil, cookies)
	first := rows.FindStringIndex(r.body)
	if first == nil || !strings.Contains(r.body[first[0]:first[0]+400], "user_update_provision") {
		t.Errorf("the newest event is not first")
	}
}

// TestConsoleIdPCertificates: several certificates in the field (a rotation) are stored and
// listed with subject, SHA-256 fingerprint and expiry; one 10 days from expiry puts a
// banner naming the date on every admin page of the tenant, and only its; an expired one
// among them is refused; removing the old one removes the banner.
func TestConsoleIdPCertificates(t *testing.T) {
	e := newEnv(t)
	cookies := []*http.Cookie{e.bootstrap(e.acme)}
	token := e.csrf("/t/acme/admin/saml", cookies)
	_, newCert, err := saml.NewKeyPair("idp-new", e.now)
	if err != nil {
		t.Fatal(err)
	}
	_, soonCert, err := saml.NewKeyPair("idp-old", e.now.AddDate(-10, 0, 10)) // expires in 10 days
	if err != nil {
		t.Fatal(err)
	}
	_, expiredCert, err := saml.NewKeyPair("idp-expired", e.now.AddDate(-20, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	form := func(cert string) url.Values {
		return url.Values{"csrf": {token}, "source": {"fields"}, "sso_url": {"https://idp.example.com/sso"},
			"issuer": {"https://idp.example.com"}, "cert": {cert}, "default_user_type": {"member"}}
	}
	if r := e.do("POST", "/t/acme/admin/saml", form(newCert+expiredCert), cookies); r.status != http.StatusBadRequest ||
		!strings.Contains(elementText(r.body, "cert-error"), "expired on") {
		t.Fatalf("an expired certificate next to a valid one = %d:\n%s", r.status, r.body)
	}
	if r := e.do("POST", "/t/acme/admin/saml", form(soonCert+"\n"+newCert), cookies); r.status != http.StatusSeeOther {
		t.Fatalf("two certificates = %d:\n%s", r.status, r.body)
	}
	soonDate := sso.Certificates(soonCert)[0].NotAfter.Format("2 Jan 2006")
	page := e.do("GET", "/t/acme/admin/saml", nil, cookies).body
	if n := strings.Count(page, `class="idp-cert"`); n != 2 {
		t.Errorf("%d certificates listed, want 2:\n%s", n, page)
	}
	for _, c := range sso.Certificates(soonCert + newCert) {
		if !strings.Contains(page, c.Subject) || !strings.Contains(page, c.Fingerprint) || !strings.Contains(page, c.NotAfter.Format("2 Jan 2006, 15:04 UTC")) {
			t.Errorf("the SAML page lacks %+v", c)
		}
	}
	for _, path := range []string{"/t/acme/admin/saml", "/t/acme/admin/users", "/t/acme/admin/events"} {
		banner := html.UnescapeString(elementText(e.do("GET", path, nil, cookies).body, "cert-expiry-warning"))
		if !strings.Contains(banner, `"scimd SAML SP idp-old" expires on `+soonDate) || !strings.Contains(banner, "add it next to the current one") {
			t.Errorf("%s: banner %q", path, banner)
		}
	}
	betaCookies := []*http.Cookie{e.bootstrap(e.beta)}
	if strings.Contains(e.do("GET", "/t/beta/admin/users", nil, betaCookies).body, "cert-expiry-warning") {
		t.Error("beta's pages show acme's certificate banner")
	}
	// Rotation done: the old certificate removed, the banner goes.
	if r := e.do("POST", "/t/acme/admin/saml", form(newCert), cookies); r.status != http.StatusSeeOther {
		t.Fatalf("one certificate = %d:\n%s", r.status, r.body)
	}
	if page := e.do("GET", "/t/acme/admin/users", nil, cookies).body; strings.Contains(page, "cert-expiry-warning") {
		t.Errorf("the banner stays after the old certificate was removed:\n%s", page)
	}
}
