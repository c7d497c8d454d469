package saml

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

const publicURL = "https://sp.example.com"

var ctx = context.Background()

// env is one scimd with SAML on a fresh SQLite store, tenants acme and beta, and a browser.
type env struct {
	t       *testing.T
	store   store.Store
	dir     *directory.Directory
	svc     *Service
	handler http.Handler
	idp     *testIdP
	acme    store.Tenant
	beta    store.Tenant
}

// cfgOpts are a tenant's SAML options in a test.
type cfgOpts struct {
	noJIT, idpInitiated bool
	trustUserType       bool
	defaultRedirect     string
	requireEncrypted    bool
}

var (
	spKeyOnce sync.Once
	spKey     []byte
	spCert    string
)

func newEnv(t *testing.T, o cfgOpts) *env {
	t.Helper()
	return newEnvOn(t, teststores.SQLite(t), o)
}

// newEnvOn is newEnv on a given fresh store.
func newEnvOn(t *testing.T, s store.Store, o cfgOpts) *env {
	t.Helper()
	return newEnvTuned(t, s, o, Config{PublicURL: publicURL}, directory.Bounds{}, slog.New(slog.DiscardHandler))
}

// newEnvTuned is newEnvOn with the service's configuration, the directory's bounds and the
// logger given.
func newEnvTuned(t *testing.T, s store.Store, o cfgOpts, cfg Config, bounds directory.Bounds, log *slog.Logger) *env {
	t.Helper()
	d := directory.New(s, log, nil).WithBounds(bounds)
	svc, err := New(cfg, s, d, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	svc.Mount(r)
	e := &env{t: t, store: s, dir: d, svc: svc, handler: r, idp: newTestIdP(t, "https://idp.example.com/metadata", 0)}
	for _, slug := range []string{"acme", "beta"} {
		tn, err := d.CreateTenant(ctx, slug, strings.ToUpper(slug[:1])+slug[1:]+" Inc")
		if err != nil {
			t.Fatal(err)
		}
		e.configure(tn, o)
		if slug == "acme" {
			e.acme = tn
		} else {
			e.beta = tn
		}
	}
	return e
}

// configure stores the tenant's settings through Configure; the SP key pair is made once per
// test binary (generating RSA keys under the race detector is slow), then stored as is.
func (e *env) configure(tn store.Tenant, o cfgOpts) {
	e.t.Helper()
	spKeyOnce.Do(func() {
		var err error
		if spKey, spCert, err = NewKeyPair("test", time.Now()); err != nil {
			panic(err)
		}
	})
	if !strings.HasPrefix(o.defaultRedirect, "/t/"+tn.Slug+"/") {
		o.defaultRedirect = "" // the option is meant for the other tenant
	}
	in := Settings{SSOURL: "https://idp.example.com/sso", Issuer: e.idp.entityID, CertPEM: e.idp.certPEM,
		JIT: !o.noJIT, JITTrustUserType: o.trustUserType, AllowIdPInitiated: o.idpInitiated, DefaultRedirect: o.defaultRedirect,
		RequireEncryptedAssertions: o.requireEncrypted}
	fixed := directory.New(fixedKeyStore{e.store}, slog.New(slog.DiscardHandler), nil)
	if _, err := Configure(ctx, fixed, tn, in, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// fixedKeyStore stores configs with the test binary's SP key pair.
type fixedKeyStore struct{ store.Store }

func (f fixedKeyStore) PutSAMLConfig(ctx context.Context, c store.SAMLConfig, ev *store.Event) (store.SAMLConfig, error) {
	c.SPKeyPEM, c.SPCertPEM = spKey, spCert
	return f.Store.PutSAMLConfig(ctx, c, ev)
}

func acsURL(slug string) string   { return publicURL + "/t/" + slug + "/saml/acs" }
func entityID(slug string) string { return publicURL + "/t/" + slug + "/saml/metadata" }
func (e *env) count(reason string) float64 {
	return counterValue(e.svc.metrics.logins.WithLabelValues(reasonOutcome[reason], reason))
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// browser keeps cookies the way a browser would for the requests of one test (the cookie
// jar of net/http drops Secure cookies on the plain-HTTP recorder).
type browser struct {
	e       *env
	cookies map[string]*http.Cookie
	// remote is the client address its requests come from (default: httptest's).
	remote string
}

func (e *env) browser() *browser { return &browser{e: e, cookies: map[string]*http.Cookie{}} }

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	b.e.t.Helper()
	if b.remote != "" {
		req.RemoteAddr = b.remote
	}
	for _, c := range b.cookies {
		if strings.HasPrefix(req.URL.Path, c.Path) {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	rec := httptest.NewRecorder()
	b.e.handler.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// startLogin follows the sign-in link and returns the AuthnRequest sent to the IdP.
func (b *browser) startLogin(slug, returnTo string) string {
	b.e.t.Helper()
	path := "/t/" + slug + "/saml/login"
	if returnTo != "" {
		path += "?return_to=" + url.QueryEscape(returnTo)
	}
	rec := b.get(path)
	if rec.Code != http.StatusFound {
		b.e.t.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body)
	}
	loc := rec.Header().Get("Location")
	if !strings.HasPrefix(loc, "https://idp.example.com/sso?") {
		b.e.t.Fatalf("login redirects to %q", loc)
	}
	req, q := authnRequest(b.e.t, loc)
	if q.Get("Signature") == "" || q.Get("SigAlg") == "" {
		b.e.t.Errorf("the AuthnRequest is not signed: %v", q)
	}
	if req.AssertionConsumerServiceURL != acsURL(slug) || req.Issuer.Value != entityID(slug) {
		b.e.t.Errorf("AuthnRequest ACS %q issuer %q", req.AssertionConsumerServiceURL, req.Issuer.Value)
	}
	return req.ID
}

func (b *browser) postResponse(slug, samlResponse, relayState string) *httptest.ResponseRecorder {
	form := url.Values{"SAMLResponse": {samlResponse}}
	if relayState != "" {
		form.Set("RelayState", relayState)
	}
	return b.post("/t/"+slug+"/saml/acs", form)
}

func (e *env) response(slug string, spec assertionSpec) string {
	return e.idp.response(e.t, acsURL(slug), entityID(slug), spec)
}

func TestSPInitiatedLoginWithJIT(t *testing.T) {
	e := newEnv(t, cfgOpts{trustUserType: true})
	b := e.browser()
	id := b.startLogin("acme", "/t/acme/projects?tab=2")
	if c := b.cookies[requestCookie]; c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteNoneMode || c.Path != "/t/acme/saml/" {
		t.Fatalf("request-binding cookie = %+v", c)
	}
	rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "Ann.Lee@Example.com",
		Attrs: [][2]string{{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "ann.lee@example.com"},
			{"firstName", "Ann"}, {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "Lee"}, {"userType", "Viewer"}}}), "")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/t/acme/projects?tab=2" {
		t.Fatalf("ACS = %d %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	c := b.cookies[sessionCookie]
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/t/acme/" || len(c.Value) != 43 {
		t.Fatalf("session cookie = %+v", c)
	}
	if e.count(ReasonSuccess) != 1 {
		t.Fatalf("success count = %v", e.count(ReasonSuccess))
	}
	u, err := e.dir.FindLoginUser(ctx, e.acme, "ann.lee@example.com")
	if err != nil || u == nil {
		t.Fatalf("JIT user not found: %v", err)
	}
	want := map[string]string{"userName": "Ann.Lee@Example.com", "userType": "viewer", "displayName": "Ann Lee"}
	for k, v := range want {
		if got := scim.String(u.Attrs, k); got != v {
			t.Errorf("JIT user %s = %q, want %q", k, got, v)
		}
	}
	evs, err := e.store.Events(ctx, e.acme.ID, store.EventQuery{Name: directory.EventUserJIT})
	if err != nil || len(evs) != 1 || evs[0].Actor != "saml" || evs[0].ResourceID != u.ID {
		t.Fatalf("JIT audit events = %+v, %v", evs, err)
	}
	page := b.get("/t/acme/")
	body := page.Body.String()
	for _, s := range []string{"Ann Lee", "Ann.Lee@Example.com", "ann.lee@example.com", "viewer", "Sign out", `action="/t/acme/logout"`} {
		if !strings.Contains(body, s) {
			t.Errorf("signed-in page lacks %q:\n%s", s, body)
		}
	}
	checkPageHeaders(t, page)
	// The request was used once: the same response cannot be posted again.
	again := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "Ann.Lee@Example.com"}), "")
	if again.Code != http.StatusForbidden || e.count(ReasonInResponseTo) != 1 {
		t.Fatalf("a second response to the same request = %d (in_response_to %v)", again.Code, e.count(ReasonInResponseTo))
	}
	// Sign out.
	out := b.do(func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/t/acme/logout", nil)
		r.Header.Set("Origin", publicURL)
		return r
	}())
	if out.Code != http.StatusSeeOther || b.cookies[sessionCookie] != nil {
		t.Fatalf("logout = %d, cookie %+v", out.Code, b.cookies[sessionCookie])
	}
	if _, err := e.store.SessionByHash(ctx, e.acme.ID, store.SessionSSO, hashToken(c.Value), time.Now()); err == nil {
		t.Fatal("the session is still stored after logout")
	}
	if body := b.get("/t/acme/").Body.String(); !strings.Contains(body, "Sign in with SSO") {
		t.Fatalf("after logout the page is not the sign-in page:\n%s", body)
	}
}

func checkPageHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers = %v", h)
	}
	if strings.Contains(rec.Body.String(), "http://") || strings.Contains(rec.Body.String(), "https://") {
		t.Errorf("the page refers to an external address:\n%s", rec.Body)
	}
}

func TestIdPInitiatedLogin(t *testing.T) {
	tests := []struct {
		name, relayState, want string
	}{
		{"relay state of the tenant", "/t/acme/welcome", "/t/acme/welcome"},
		{"no relay state", "", "/t/acme/home"},
		{"protocol-relative relay state", "//evil.example.com/", "/t/acme/home"},
		{"other tenant's path", "/t/beta/", "/t/acme/home"},
	}
	e := newEnv(t, cfgOpts{idpInitiated: true, defaultRedirect: "/t/acme/home"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			rec := b.postResponse("acme", e.response("acme", assertionSpec{NameID: "bob@example.com"}), tc.relayState)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.want {
				t.Fatalf("ACS = %d %q, want 303 %q: %s", rec.Code, rec.Header().Get("Location"), tc.want, rec.Body)
			}
			if !strings.Contains(b.get("/t/acme/").Body.String(), "bob@example.com") {
				t.Fatal("not signed in")
			}
		})
	}
}

// refusalCase is one bent response of the refusal catalogue.
type refusalCase struct {
	name     string
	opts     cfgOpts
	solicit  bool // start an SP-initiated login and answer it
	spec     assertionSpec
	slug     string // tenant whose SP the response is made for (default acme)
	raw      func(e *env, valid string) string
	status   int
	reason   string
	sentence string
}

// refusalCases is the refusal catalogue: TestRefusals posts it plain, and
// TestRefusalsEncrypted with every assertion encrypted.
func refusalCases(t *testing.T) []refusalCase {
	other := newTestIdP(t, "https://idp.example.com/metadata", 1)
	past := time.Now().Add(-time.Hour)
	return []refusalCase{
		{name: "unsigned assertion", solicit: true, spec: assertionSpec{Sign: "none"},
			status: 403, reason: ReasonUnsigned, sentence: "not signed"},
		{name: "signed by another key", solicit: true, spec: assertionSpec{SignWith: other},
			status: 403, reason: ReasonBadSignature, sentence: "signature could not be verified"},
		{name: "tampered NameID", solicit: true, spec: assertionSpec{Tamper: func(x string) string {
			return strings.Replace(x, "ann@example.com", "admin@example.com", 1)
		}}, status: 403, reason: ReasonBadSignature, sentence: "signature could not be verified"},
		{name: "tampered response around a signed assertion", solicit: true, spec: assertionSpec{Sign: "response", Tamper: func(x string) string {
			return strings.Replace(x, "ann@example.com", "admin@example.com", 1)
		}}, status: 403, reason: ReasonBadSignature, sentence: "signature"},
		{name: "expired", solicit: true, spec: assertionSpec{IssueInstant: past, NotOnOrAfter: past.Add(5 * time.Minute)},
			status: 403, reason: ReasonExpired, sentence: "expired"},
		{name: "not yet valid", solicit: true, spec: assertionSpec{NotBefore: time.Now().Add(time.Hour)},
			status: 403, reason: ReasonNotYetValid, sentence: "not valid yet"},
		{name: "wrong audience", solicit: true, spec: assertionSpec{Audience: "https://other-sp.example.com/metadata"},
			status: 403, reason: ReasonAudience, sentence: "audience"},
		{name: "wrong destination", solicit: true, spec: assertionSpec{Destination: "https://other-sp.example.com/acs"},
			status: 403, reason: ReasonDestination, sentence: "destination"},
		{name: "wrong recipient", solicit: true, spec: assertionSpec{Recipient: "https://other-sp.example.com/acs"},
			status: 403, reason: ReasonDestination, sentence: "recipient"},
		{name: "other tenant's ACS", opts: cfgOpts{idpInitiated: true}, slug: "beta", spec: assertionSpec{},
			status: 403, reason: ReasonDestination, sentence: "destination"},
		{name: "wrong issuer", solicit: true, spec: assertionSpec{Issuer: "https://evil.example.com/"},
			status: 403, reason: ReasonIssuer, sentence: "issuer"},
		{name: "InResponseTo mismatch", solicit: true, spec: assertionSpec{InResponseTo: "id-not-ours"},
			status: 403, reason: ReasonInResponseTo, sentence: "does not answer"},
		{name: "IdP-initiated where not allowed", spec: assertionSpec{},
			status: 403, reason: ReasonIdPInitiated, sentence: "not allowed"},
		{name: "IdP status not success", solicit: true, spec: assertionSpec{Status: "urn:oasis:names:tc:SAML:2.0:status:Requester"},
			status: 403, reason: ReasonIdPStatus, sentence: "did not sign you in"},
		{name: "DOCTYPE with entity", solicit: true, raw: func(e *env, valid string) string {
			x, _ := base64.StdEncoding.DecodeString(valid)
			doc := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "ann@example.com">]>` + string(x)
			return base64.StdEncoding.EncodeToString([]byte(doc))
		}, status: 400, reason: ReasonDoctype, sentence: "document type"},
		{name: "billion laughs", raw: func(e *env, valid string) string {
			return base64.StdEncoding.EncodeToString([]byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol2;</samlp:Response>`))
		}, status: 400, reason: ReasonDoctype, sentence: "document type"},
		{name: "oversized POST", raw: func(e *env, valid string) string {
			return strings.Repeat("A", DefaultMaxResponseBytes+10)
		}, status: 413, reason: ReasonTooLarge, sentence: "too large"},
		{name: "not base64", raw: func(e *env, valid string) string { return "%%%" },
			status: 400, reason: ReasonMalformed, sentence: "no SAML response"},
		{name: "not XML", raw: func(e *env, valid string) string { return base64.StdEncoding.EncodeToString([]byte("<a><b></a>")) },
			status: 400, reason: ReasonMalformed, sentence: "not well-formed"},
		{name: "JIT off, unknown user", opts: cfgOpts{noJIT: true}, solicit: true, spec: assertionSpec{},
			status: 403, reason: ReasonJITDisabled, sentence: "your account has not been provisioned"},
	}
}

// TestRefusals posts one bent response per case and checks the status, the page's sentence
// and the metric reason.
func TestRefusals(t *testing.T) {
	for _, tc := range refusalCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			checkRefusal(t, tc)
		})
	}
}

// checkRefusal posts the response of tc on a fresh environment and checks that it is
// refused as tc says, with no session and no user made.
func checkRefusal(t *testing.T, tc refusalCase) {
	t.Helper()
	e := newEnv(t, tc.opts)
	b := e.browser()
	slug := tc.slug
	if slug == "" {
		slug = "acme"
	}
	spec := tc.spec
	if spec.NameID == "" {
		spec.NameID = "ann@example.com"
	}
	if tc.solicit {
		id := b.startLogin("acme", "")
		if spec.InResponseTo == "" {
			spec.InResponseTo = id
		}
	}
	resp := e.response(slug, spec)
	if tc.raw != nil {
		resp = tc.raw(e, resp)
	}
	rec := b.postResponse("acme", resp, "")
	body := rec.Body.String()
	if rec.Code != tc.status || !strings.Contains(strings.ToLower(body), strings.ToLower(tc.sentence)) {
		t.Fatalf("ACS = %d, want %d with %q:\n%s", rec.Code, tc.status, tc.sentence, body)
	}
	if got := e.count(tc.reason); got != 1 {
		t.Fatalf("scimd_saml_logins_total{reason=%q} = %v, want 1", tc.reason, got)
	}
	if e.count(ReasonSuccess) != 0 || b.cookies[sessionCookie] != nil {
		t.Fatal("a refused login started a session")
	}
	if u, err := e.dir.FindLoginUser(ctx, e.acme, "ann@example.com"); err != nil || u != nil {
		t.Fatalf("a refused login created the user: %v, %v", u, err)
	}
	checkPageHeaders(t, rec)
}

func TestReplayAcrossReplicas(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	// A second replica: its own Service (and SP cache) on the same database.
	log := slog.New(slog.DiscardHandler)
	replica, err := New(Config{PublicURL: publicURL}, e.store, e.dir, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r2 := chi.NewRouter()
	replica.Mount(r2)
	resp := e.response("acme", assertionSpec{NameID: "ann@example.com"})
	first := e.browser().postResponse("acme", resp, "")
	if first.Code != http.StatusSeeOther {
		t.Fatalf("first use = %d: %s", first.Code, first.Body)
	}
	e2 := *e
	e2.handler, e2.svc = r2, replica
	second := e2.browser().postResponse("acme", resp, "")
	if second.Code != http.StatusForbidden || !strings.Contains(second.Body.String(), "already been used") {
		t.Fatalf("replay on another replica = %d: %s", second.Code, second.Body)
	}
	if got := counterValue(replica.metrics.logins.WithLabelValues(OutcomeRefused, ReasonReplay)); got != 1 {
		t.Fatalf("replay count = %v", got)
	}
}

func TestSPInitiatedFinishedByAnotherReplica(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	b := e.browser()
	id := b.startLogin("acme", "/t/acme/x")
	replica, err := New(Config{PublicURL: publicURL}, e.store, e.dir, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r2 := chi.NewRouter()
	replica.Mount(r2)
	b.e = &env{t: t, handler: r2}
	rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "ann@example.com"}), "")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/t/acme/x" {
		t.Fatalf("ACS on the other replica = %d %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
}

func TestResponseFromAnotherBrowser(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	id := e.browser().startLogin("acme", "")
	rec := e.browser().postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "ann@example.com"}), "")
	if rec.Code != http.StatusForbidden || e.count(ReasonInResponseTo) != 1 {
		t.Fatalf("a response posted by a browser that did not start the login = %d: %s", rec.Code, rec.Body)
	}
}

func TestDeactivatedUser(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	b := e.browser()
	if rec := b.postResponse("acme", e.response("acme", assertionSpec{NameID: "carol@example.com"}), ""); rec.Code != http.StatusSeeOther {
		t.Fatalf("first login = %d: %s", rec.Code, rec.Body)
	}
	u, _ := e.dir.FindLoginUser(ctx, e.acme, "carol@example.com")
	if u == nil || u.Attrs["userType"] != "member" {
		t.Fatalf("JIT user = %v; want one with the tenant's default userType", u)
	}
	if rec := b.get("/t/acme/"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "carol@example.com") {
		t.Fatalf("signed-in page = %d", rec.Code)
	}
	if _, err := e.dir.SetUserActive(ctx, e.acme, u.ID, false); err != nil {
		t.Fatal(err)
	}
	// The existing session stops at the next request, and is gone afterwards.
	rec := b.get("/t/acme/")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "deactivated") {
		t.Fatalf("page after deactivation = %d:\n%s", rec.Code, rec.Body)
	}
	if b.cookies[sessionCookie] != nil {
		t.Fatal("the session cookie was not cleared")
	}
	// A new login is refused, and JIT neither re-creates nor reactivates the user.
	rec = b.postResponse("acme", e.response("acme", assertionSpec{NameID: "CAROL@example.com"}), "")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "deactivated") || e.count(ReasonInactiveUser) != 1 {
		t.Fatalf("login of a deactivated user = %d:\n%s", rec.Code, rec.Body)
	}
	page, err := e.store.ListResources(ctx, scim.Users, e.acme.ID, store.Query{Count: 10, StartIndex: 1})
	if err != nil || page.Total != 1 || page.Resources[0].Attrs["active"] != false {
		t.Fatalf("users after the refused login: %+v, %v", page.Resources, err)
	}
}

func TestLoginMatchesExistingUser(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	ctxCLI := directory.WithActor(ctx, directory.Actor{Name: "cli"})
	body := map[string]any{"schemas": []any{scim.UserSchema}, "userName": "dlee", "userType": "admin",
		"name":   map[string]any{"givenName": "Dee", "familyName": "Lee"},
		"emails": []any{map[string]any{"value": "Dee.Lee@Example.com", "primary": true}}}
	u, err := e.dir.CreateUser(ctxCLI, e.acme, body)
	if err != nil {
		t.Fatal(err)
	}
	// The same address in another tenant is another person.
	if _, err := e.dir.CreateUser(ctxCLI, e.beta, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "dee.lee@example.com"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	id := b.startLogin("acme", "")
	rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "dee.lee@EXAMPLE.com"}), "")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("ACS = %d: %s", rec.Code, rec.Body)
	}
	page := b.get("/t/acme/").Body.String()
	if !strings.Contains(page, "dlee") || !strings.Contains(page, "admin") {
		t.Fatalf("signed in as someone else:\n%s", page)
	}
	list, _ := e.store.ListResources(ctx, scim.Users, e.acme.ID, store.Query{Count: 10, StartIndex: 1})
	if list.Total != 1 || list.Resources[0].ID != u.ID {
		t.Fatalf("JIT created a second user: %d users", list.Total)
	}
}

func TestSessionIsPerTenant(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	b := e.browser()
	if rec := b.postResponse("acme", e.response("acme", assertionSpec{NameID: "ann@example.com"}), ""); rec.Code != http.StatusSeeOther {
		t.Fatalf("login = %d", rec.Code)
	}
	// The same cookie value sent to beta names no session there.
	req := httptest.NewRequest(http.MethodGet, "/t/beta/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: b.cookies[sessionCookie].Value})
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), "Sign in with SSO") || strings.Contains(rec.Body.String(), "ann@example.com") {
		t.Fatalf("acme's session works for beta:\n%s", rec.Body)
	}
}

func TestLoginReturnTo(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	tests := []struct{ returnTo, want string }{
		{"/t/acme/reports?q=1", "/t/acme/reports?q=1"},
		{"//evil.example.com/t/acme/", "/t/acme/"},
		{"/\\evil.example.com", "/t/acme/"},
		{"javascript:alert(1)", "/t/acme/"},
		{"https://evil.example.com/", "/t/acme/"},
		{"/t/beta/", "/t/acme/"},
		{"/t/acme/../beta/", "/t/acme/"},
		{"/t/acme/#/../../beta/saml/login", "/t/acme/"},
		{"/t/acme#/../../beta/saml/login", "/t/acme/"},
		{"/t/acme/#%2e%2e/%2e%2e/beta", "/t/acme/"},
	}
	for _, tc := range tests {
		t.Run(tc.returnTo, func(t *testing.T) {
			b := e.browser()
			id := b.startLogin("acme", tc.returnTo)
			rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "ann@example.com"}), "")
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.want {
				t.Fatalf("ACS = %d %q, want %q", rec.Code, rec.Header().Get("Location"), tc.want)
			}
		})
	}
}

func TestSafeReturnTo(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"/t/acme/", "/t/acme/", true},
		{"/t/acme", "/t/acme", true},
		{"/t/acme/a/b?x=1&y=2#frag", "/t/acme/a/b?x=1&y=2#frag", true},
		{"", "", false},
		{"//evil.com", "", false},
		{"//evil.com/t/acme/", "", false},
		{"/\\evil.com", "", false},
		{"/t/acme/\\..\\..\\x", "", false},
		{"\\\\evil.com", "", false},
		{"javascript:alert(1)", "", false},
		{"JavaScript:alert(1)", "", false},
		{"https://evil.com/t/acme/", "", false},
		{"http:/t/acme/", "", false},
		{"t/acme/", "", false},
		{"/t/acmecorp/", "", false},
		{"/t/beta/", "", false},
		{"/t/acme/../beta/", "", false},
		{"/t/acme/%2e%2e/beta/", "", false},
		{"/t/acme/%2F%2Fevil.com", "", false},
		{"/t/acme/\x00", "", false},
		{"/t/acme/\r\nLocation: x", "", false},
		{"/t/acme/" + strings.Repeat("a", maxReturnTo), "", false},
		// Fragments are cleaned as path by http.Redirect: a dot segment in one climbed out.
		{"/t/acme/#/../../mal/saml/login", "", false},
		{"/t/acme#/../../mal/saml/login", "", false},
		{"/t/acme/#..", "", false},
		{"/t/acme/#/./x", "", false},
		{"/t/acme/#%2e%2e/%2e%2e/mal", "", false},
		{"/t/acme/#%2E%2E/x", "", false},
		{"/t/acme/?next=1#/../../mal", "", false},
		{"/t/acme/x/%2e/y", "", false},
		{"/t/acme/x/.%2e/y", "", false},
		{"/t/acme//x", "", false},
		{"/t/acme/x//", "", false},
		{"/t/acme/#/route/a", "/t/acme/#/route/a", true},
		{"/t/acme/?q=a/../b", "/t/acme/?q=a/../b", true},
		{"/t/acme/%23/../../mal", "", false},
		{"/t/acme/%252e%252e/mal", "/t/acme/%252e%252e/mal", true},
	}
	for _, tc := range tests {
		got, ok := SafeReturnTo("acme", tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("SafeReturnTo(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	rec := e.browser().get("/t/acme/saml/metadata")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), "samlmetadata+xml") {
		t.Fatalf("metadata = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, s := range []string{`entityID="` + entityID("acme") + `"`, `Location="` + acsURL("acme") + `"`, "X509Certificate", "HTTP-POST"} {
		if !strings.Contains(body, s) {
			t.Errorf("metadata lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "HTTP-Artifact") {
		t.Error("metadata advertises the artifact binding")
	}
	for _, tc := range []struct{ path, want string }{
		{"/t/nope/saml/metadata", "There is no organisation"},
		{"/t/nope/saml/login", "There is no organisation"},
	} {
		if rec := e.browser().get(tc.path); rec.Code != 404 || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s = %d", tc.path, rec.Code)
		}
	}
}

func TestNotConfigured(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	if _, err := e.dir.CreateTenant(ctx, "gamma", "Gamma"); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if rec := b.get("/t/gamma/saml/login"); rec.Code != 404 || !strings.Contains(rec.Body.String(), "not configured") {
		t.Fatalf("login without SSO = %d: %s", rec.Code, rec.Body)
	}
	if rec := b.get("/t/gamma/"); rec.Code != 200 || strings.Contains(rec.Body.String(), "Sign in with SSO") {
		t.Fatalf("home without SSO = %d: %s", rec.Code, rec.Body)
	}
	if rec := b.postResponse("gamma", e.response("acme", assertionSpec{NameID: "a@b.c"}), ""); rec.Code != 404 || e.count(ReasonNotConfigured) != 1 {
		t.Fatalf("ACS without SSO = %d", rec.Code)
	}
}

func TestLogoutRefusesForeignOrigin(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	b := e.browser()
	b.postResponse("acme", e.response("acme", assertionSpec{NameID: "ann@example.com"}), "")
	req := httptest.NewRequest(http.MethodPost, "/t/acme/logout", nil)
	req.Header.Set("Origin", "https://evil.example.com")
	if rec := b.do(req); rec.Code != http.StatusForbidden {
		t.Fatalf("cross-origin logout = %d", rec.Code)
	}
	if !strings.Contains(b.get("/t/acme/").Body.String(), "ann@example.com") {
		t.Fatal("a cross-origin logout ended the session")
	}
}

// TestLoginOnEveryBackend runs an SP-initiated login, its replay and a sign-out on SQLite
// and PostgreSQL: the request tracking, replay cache and sessions are SQL of both dialects.
func TestLoginOnEveryBackend(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s, cfgOpts{idpInitiated: true})
		b := e.browser()
		id := b.startLogin("acme", "/t/acme/x")
		resp := e.response("acme", assertionSpec{InResponseTo: id, NameID: "ann@example.com"})
		if rec := b.postResponse("acme", resp, ""); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/t/acme/x" {
			t.Fatalf("ACS = %d %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		if !strings.Contains(b.get("/t/acme/").Body.String(), "ann@example.com") {
			t.Fatal("not signed in")
		}
		// The answered request is gone, so the same response is refused before the replay cache.
		if rec := b.postResponse("acme", resp, ""); rec.Code != http.StatusForbidden || e.count(ReasonInResponseTo) != 1 {
			t.Fatalf("second use of a solicited response = %d", rec.Code)
		}
		unsolicited := e.response("acme", assertionSpec{NameID: "ann@example.com"})
		if rec := b.postResponse("acme", unsolicited, ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("IdP-initiated = %d: %s", rec.Code, rec.Body)
		}
		if rec := b.postResponse("acme", unsolicited, ""); rec.Code != http.StatusForbidden || e.count(ReasonReplay) != 1 {
			t.Fatalf("replay = %d (replays counted %v)", rec.Code, e.count(ReasonReplay))
		}
		b.post("/t/acme/logout", nil)
		if !strings.Contains(b.get("/t/acme/").Body.String(), "Sign in with SSO") {
			t.Fatal("still signed in after logout")
		}
	})
}

func TestPrune(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	old := store.Session{TenantID: e.acme.ID, Hash: hashToken("old"), Kind: store.SessionSSO, UserID: store.NewID(), CreatedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-time.Minute)}
	live := store.Session{TenantID: e.acme.ID, Hash: hashToken("live"), Kind: store.SessionSSO, UserID: store.NewID(), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	for _, s := range []store.Session{old, live} {
		if err := e.store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.svc.Prune(ctx); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want the one expired session", n, err)
	}
	// SessionByHash hides expired sessions; ask with a time before the expiry.
	if _, err := e.store.SessionByHash(ctx, e.acme.ID, store.SessionSSO, old.Hash, old.CreatedAt); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired session is still there: %v", err)
	}
	if _, err := e.store.SessionByHash(ctx, e.acme.ID, store.SessionSSO, live.Hash, time.Now()); err != nil {
		t.Fatalf("the live session was pruned: %v", err)
	}
}
