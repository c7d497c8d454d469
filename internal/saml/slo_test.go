package saml

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml/samltest"
	"github.com/scimd/scimd/internal/store"
)

const idpSLO = "https://idp.example.com/slo"

func sloURL(slug string) string { return publicURL + "/t/" + slug + "/saml/slo" }

// withSLO reconfigures tenant tn with the IdP's SingleLogoutService, and idp as its IdP.
func (e *env) withSLO(tn store.Tenant, idp *testIdP) {
	e.t.Helper()
	in := Settings{SSOURL: "https://idp.example.com/sso", Issuer: idp.EntityID, CertPEM: idp.CertPEM, JIT: true, SLOURL: idpSLO}
	fixed := directory.New(fixedKeyStore{e.store}, slog.New(slog.DiscardHandler), nil)
	if _, err := Configure(ctx, fixed, tn, in, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// signIn logs b in to tenant slug as nameID and returns the session's SessionIndex.
func (e *env) signIn(b *browser, slug, nameID string, idp *testIdP) string {
	e.t.Helper()
	id := b.startLogin(slug, "")
	rec := b.postResponse(slug, idp.Response(e.t, acsURL(slug), entityID(slug), assertionSpec{InResponseTo: id, NameID: nameID}), "")
	if rec.Code != http.StatusSeeOther {
		e.t.Fatalf("login = %d: %s", rec.Code, rec.Body)
	}
	tn := e.acme
	if slug == "beta" {
		tn = e.beta
	}
	sess, err := e.store.SessionByHash(ctx, tn.ID, store.SessionSSO, hashToken(b.cookies[sessionCookie].Value), time.Now())
	if err != nil || sess.NameID != nameID || sess.NameIDFormat != string(csaml.EmailAddressNameIDFormat) || sess.SessionIndex == "" {
		e.t.Fatalf("session after login = %+v, %v", sess, err)
	}
	return sess.SessionIndex
}

// signedIn reports whether b's session is live.
func (b *browser) signedIn(slug string) bool {
	b.e.t.Helper()
	return strings.Contains(b.get("/t/"+slug+"/").Body.String(), `id="welcome"`)
}

func (e *env) sloCount(initiator, reason string) float64 {
	return counterValue(e.svc.slom.logouts.WithLabelValues(initiator, sloOutcome(reason), reason))
}

// logoutSpec describes an IdP's logout message; zero values get defaults.
type logoutSpec = samltest.LogoutSpec

// postForm returns the HTTP-POST form of idp's logout message to tenant slug's SLO endpoint
// (the default Destination).
func postForm(t *testing.T, idp *testIdP, slug string, response bool, spec logoutSpec) url.Values {
	t.Helper()
	if spec.Destination == "" {
		spec.Destination = sloURL(slug)
	}
	return idp.LogoutForm(t, response, spec)
}

// redirectQuery returns the HTTP-Redirect query of idp's logout message to tenant slug's SLO
// endpoint (the default Destination).
func redirectQuery(t *testing.T, idp *testIdP, slug string, response bool, spec logoutSpec) string {
	t.Helper()
	if spec.Destination == "" {
		spec.Destination = sloURL(slug)
	}
	return idp.LogoutQuery(t, response, spec)
}

// verifyRedirect checks the SP's query-string signature of a redirect URL and returns the
// inflated message.
func verifyRedirect(t *testing.T, location, param string) []byte {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("SigAlg") != dsig.RSASHA256SignatureMethod {
		t.Fatalf("SigAlg = %q", q.Get("SigAlg"))
	}
	// The signed octets are the raw parameters in order, without Signature.
	raw := u.RawQuery[:strings.Index(u.RawQuery, "&Signature=")]
	block, _ := pem.Decode([]byte(spCert))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(q.Get("Signature"))
	sum := sha256.Sum256([]byte(raw))
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("the SP's %s signature does not verify with the SP certificate: %v", param, err)
	}
	deflated, _ := base64.StdEncoding.DecodeString(q.Get(param))
	msg, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestSPInitiatedSingleLogout: Sign out ends the session here, then sends a signed
// LogoutRequest for the login's NameID and SessionIndex to the IdP; the IdP's signed
// LogoutResponse is accepted once, in this browser.
func TestSPInitiatedSingleLogout(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	e.withSLO(e.acme, e.idp)
	b := e.browser()
	index := e.signIn(b, "acme", "ann@example.com", e.idp)

	rec := b.post("/t/acme/logout", nil)
	loc := leaveURL(t, rec)
	var lr csaml.LogoutRequest
	if err := xml.Unmarshal(verifyRedirect(t, loc, "SAMLRequest"), &lr); err != nil {
		t.Fatal(err)
	}
	if lr.Destination != idpSLO || lr.Issuer.Value != entityID("acme") || lr.NameID.Value != "ann@example.com" ||
		lr.NameID.Format != string(csaml.EmailAddressNameIDFormat) || lr.SessionIndex == nil || lr.SessionIndex.Value != index {
		t.Fatalf("LogoutRequest = %+v (NameID %+v, SessionIndex %+v)", lr, lr.NameID, lr.SessionIndex)
	}
	if b.signedIn("acme") {
		t.Fatal("the session outlived the sign-out")
	}
	// Another browser cannot answer it: the pending request is bound to this one.
	form := postForm(t, e.idp, "acme", true, logoutSpec{InResponseTo: lr.ID, Sign: true})
	if rec := e.browser().post("/t/acme/saml/slo", form); rec.Code != http.StatusForbidden {
		t.Fatalf("the response in another browser = %d, want 403", rec.Code)
	}
	rec = b.post("/t/acme/saml/slo", form)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/t/acme/" {
		t.Fatalf("LogoutResponse = %d %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if rec := b.post("/t/acme/saml/slo", form); rec.Code != http.StatusForbidden {
		t.Fatalf("the LogoutResponse again = %d, want 403", rec.Code)
	}
	if e.sloCount(logoutBySP, ReasonSuccess) != 1 || e.sloCount(logoutBySP, ReasonInResponseTo) != 2 {
		t.Fatalf("counts: success %v, in_response_to %v", e.sloCount(logoutBySP, ReasonSuccess), e.sloCount(logoutBySP, ReasonInResponseTo))
	}

	// A LogoutResponse by HTTP-Redirect, with a query-string signature, works the same.
	index = e.signIn(b, "acme", "ann@example.com", e.idp)
	loc = leaveURL(t, b.post("/t/acme/logout", nil))
	if err := xml.Unmarshal(verifyRedirect(t, loc, "SAMLRequest"), &lr); err != nil || lr.SessionIndex.Value != index {
		t.Fatalf("second LogoutRequest: %+v, %v", lr, err)
	}
	rec = b.get("/t/acme/saml/slo?" + redirectQuery(t, e.idp, "acme", true, logoutSpec{InResponseTo: lr.ID, Sign: true}))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("redirect LogoutResponse = %d: %s", rec.Code, rec.Body)
	}
	// A partial logout at the IdP is reported; the session here is over anyway.
	e.signIn(b, "acme", "ann@example.com", e.idp)
	loc = leaveURL(t, b.post("/t/acme/logout", nil))
	xml.Unmarshal(verifyRedirect(t, loc, "SAMLRequest"), &lr)
	rec = b.post("/t/acme/saml/slo", postForm(t, e.idp, "acme", true, logoutSpec{InResponseTo: lr.ID, Sign: true, Status: csaml.StatusResponder}))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "could not end its own session") || b.signedIn("acme") {
		t.Fatalf("partial logout = %d: %s", rec.Code, rec.Body)
	}

	// Without an IdP SingleLogoutService, sign-out stays local.
	e.configure(e.acme, cfgOpts{})
	e.signIn(b, "acme", "ann@example.com", e.idp)
	if rec := b.post("/t/acme/logout", nil); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/t/acme/" {
		t.Fatalf("local sign-out = %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestIdPInitiatedSingleLogout: a signed LogoutRequest from the IdP, by either binding,
// ends the tenant's sessions of its NameID (of its SessionIndex when it names one),
// revokes the user's OIDC tokens, and is answered with a signed LogoutResponse.
func TestIdPInitiatedSingleLogout(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	e.withSLO(e.acme, e.idp)
	e.withSLO(e.beta, e.idp)
	ann1, ann2, bob, annBeta := e.browser(), e.browser(), e.browser(), e.browser()
	index1 := e.signIn(ann1, "acme", "ann@example.com", e.idp)
	e.signIn(ann2, "acme", "ann@example.com", e.idp)
	e.signIn(bob, "acme", "bob@example.com", e.idp)
	e.signIn(annBeta, "beta", "ann@example.com", e.idp)
	ann, err := e.dir.FindLoginUser(ctx, e.acme, "ann@example.com")
	if err != nil || ann == nil {
		t.Fatal(err)
	}
	if err := e.store.CreateOIDCToken(ctx, store.OIDCToken{TenantID: e.acme.ID, ID: "acme.rt", Kind: store.OIDCRefreshToken, Family: "f",
		ClientID: "app", UserID: ann.ID, AuthTime: time.Now(), Hash: []byte("h"), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// HTTP-POST, naming the first browser's session: answered by an auto-posted form.
	id := samltest.RandomID()
	rec := e.browser().post("/t/acme/saml/slo", postForm(t, e.idp, "acme", false, logoutSpec{ID: id, NameID: "ann@example.com",
		SessionIndexes: []string{index1}, Sign: true}))
	if rec.Code != http.StatusOK {
		t.Fatalf("IdP LogoutRequest (POST) = %d: %s", rec.Code, rec.Body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action https://idp.example.com;") || !strings.Contains(csp, "script-src 'nonce-") {
		t.Fatalf("CSP of the POST page = %q", csp)
	}
	m := regexp.MustCompile(`action="([^"]+)"[\s\S]*name="SAMLResponse" value="([^"]+)"[\s\S]*name="RelayState" value="([^"]*)"`).FindStringSubmatch(rec.Body.String())
	if m == nil || html.UnescapeString(m[1]) != idpSLO || m[3] != "rs-1" {
		t.Fatalf("POST page:\n%s", rec.Body)
	}
	raw, _ := base64.StdEncoding.DecodeString(html.UnescapeString(m[2]))
	verifier := &csaml.ServiceProvider{IDPMetadata: &csaml.EntityDescriptor{EntityID: entityID("acme"), IDPSSODescriptors: []csaml.IDPSSODescriptor{{
		SSODescriptor: csaml.SSODescriptor{RoleDescriptor: csaml.RoleDescriptor{KeyDescriptors: []csaml.KeyDescriptor{{Use: "signing",
			KeyInfo: csaml.KeyInfo{X509Data: csaml.X509Data{X509Certificates: []csaml.X509Certificate{{Data: spCertBase64(t)}}}}}}}}}}},
		SloURL: mustURL(t, idpSLO)}
	if err := verifier.ValidateLogoutResponseForm(base64.StdEncoding.EncodeToString(raw)); err != nil {
		t.Fatalf("the SP's LogoutResponse does not validate: %v\n%s", err, raw)
	}
	var resp csaml.LogoutResponse
	if err := xml.Unmarshal(raw, &resp); err != nil || resp.InResponseTo != id || resp.Status.StatusCode.Value != csaml.StatusSuccess {
		t.Fatalf("LogoutResponse = %+v, %v", resp, err)
	}
	if ann1.signedIn("acme") || !ann2.signedIn("acme") || !bob.signedIn("acme") || !annBeta.signedIn("beta") {
		t.Fatalf("after the first logout: ann1 %v ann2 %v bob %v ann@beta %v; want only ann1 out",
			ann1.signedIn("acme"), ann2.signedIn("acme"), bob.signedIn("acme"), annBeta.signedIn("beta"))
	}
	if tok, err := e.store.OIDCToken(ctx, e.acme.ID, "acme.rt"); err != nil || tok.RevokedAt.IsZero() {
		t.Fatalf("ann's refresh token after the IdP logout: %+v, %v", tok, err)
	}

	// HTTP-Redirect without SessionIndex: every session of the NameID; answered by redirect.
	rec = e.browser().get("/t/acme/saml/slo?" + redirectQuery(t, e.idp, "acme", false, logoutSpec{NameID: "ann@example.com", Sign: true}))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), idpSLO+"?SAMLResponse=") {
		t.Fatalf("IdP LogoutRequest (redirect) = %d %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if err := xml.Unmarshal(verifyRedirect(t, rec.Header().Get("Location"), "SAMLResponse"), &resp); err != nil || resp.Status.StatusCode.Value != csaml.StatusSuccess {
		t.Fatalf("redirect LogoutResponse = %+v, %v", resp, err)
	}
	if ann2.signedIn("acme") || !bob.signedIn("acme") || !annBeta.signedIn("beta") {
		t.Fatal("the NameID's other session was not ended, or someone else's was")
	}
	if e.sloCount(logoutByIdP, ReasonSuccess) != 2 {
		t.Fatalf("success count = %v", e.sloCount(logoutByIdP, ReasonSuccess))
	}
}

// leaveURL returns where the sign-out page sends the browser on (meta refresh and link),
// which must be the IdP's SingleLogoutService with a LogoutRequest.
func leaveURL(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	m := regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">[\s\S]*id="continue" href="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil || html.UnescapeString(m[1]) != html.UnescapeString(m[2]) {
		t.Fatalf("sign-out = %d:\n%s", rec.Code, rec.Body)
	}
	loc := html.UnescapeString(m[2])
	if !strings.HasPrefix(loc, idpSLO+"?SAMLRequest=") {
		t.Fatalf("sign-out leads to %q", loc)
	}
	return loc
}

func spCertBase64(t *testing.T) string {
	block, _ := pem.Decode([]byte(spCert))
	return base64.StdEncoding.EncodeToString(block.Bytes)
}

func mustURL(t *testing.T, s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return *u
}

// TestLogoutRefusals is the refusal catalogue of logout messages through the real router:
// each is refused with its reason and status, counted, and ends no session.
func TestLogoutRefusals(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	e.withSLO(e.acme, e.idp)
	other := samltest.NewIdP(t, "https://idp.beta.example.com/metadata", 1)
	e.withSLO(e.beta, other) // beta's IdP is another one, with its own key
	ann := e.browser()
	e.signIn(ann, "acme", "ann@example.com", e.idp)
	replayed := postForm(t, e.idp, "acme", false, logoutSpec{NameID: "nobody@example.com", Sign: true})
	if rec := e.browser().post("/t/acme/saml/slo", replayed); rec.Code != http.StatusOK {
		t.Fatalf("first use of the replayed request = %d: %s", rec.Code, rec.Body)
	}
	now := time.Now().UTC()
	post := func(spec logoutSpec) func() *httptest.ResponseRecorder {
		return func() *httptest.ResponseRecorder {
			return e.browser().post("/t/acme/saml/slo", postForm(t, e.idp, "acme", false, spec))
		}
	}
	redirect := func(spec logoutSpec) func() *httptest.ResponseRecorder {
		return func() *httptest.ResponseRecorder {
			return e.browser().get("/t/acme/saml/slo?" + redirectQuery(t, e.idp, "acme", false, spec))
		}
	}
	ann1 := logoutSpec{NameID: "ann@example.com", Sign: true}
	with := func(f func(*logoutSpec)) logoutSpec { s := ann1; f(&s); return s }
	tests := []struct {
		name      string
		send      func() *httptest.ResponseRecorder
		initiator string
		reason    string
		status    int
	}{
		{"unsigned POST", post(with(func(s *logoutSpec) { s.Sign = false })), logoutByIdP, ReasonUnsigned, 403},
		{"unsigned redirect", redirect(with(func(s *logoutSpec) { s.Sign = false })), logoutByIdP, ReasonUnsigned, 403},
		{"signed by another tenant's IdP", post(with(func(s *logoutSpec) { s.SignWith = other })), logoutByIdP, ReasonBadSignature, 403},
		{"redirect signed by another tenant's IdP", redirect(with(func(s *logoutSpec) { s.SignWith = other })), logoutByIdP, ReasonBadSignature, 403},
		{"another tenant's request", func() *httptest.ResponseRecorder {
			return e.browser().post("/t/acme/saml/slo", postForm(t, other, "beta", false, ann1))
		}, logoutByIdP, ReasonBadSignature, 403},
		{"redirect query changed after signing", func() *httptest.ResponseRecorder {
			q := redirectQuery(t, e.idp, "acme", false, ann1)
			return e.browser().get("/t/acme/saml/slo?" + strings.Replace(q, "RelayState=rs-1", "RelayState=rs-2", 1))
		}, logoutByIdP, ReasonBadSignature, 403},
		{"tampered after signing", post(with(func(s *logoutSpec) {
			s.Tamper = func(x string) string { return strings.Replace(x, "ann@example.com", "bob@example.com", 1) }
		})), logoutByIdP, ReasonBadSignature, 403},
		{"wrong destination", post(with(func(s *logoutSpec) { s.Destination = sloURL("beta") })), logoutByIdP, ReasonDestination, 403},
		{"wrong issuer", post(with(func(s *logoutSpec) { s.Issuer = other.EntityID })), logoutByIdP, ReasonIssuer, 403},
		{"stale", post(with(func(s *logoutSpec) { s.IssueInstant = now.Add(-10 * time.Minute) })), logoutByIdP, ReasonExpired, 403},
		{"from the future", post(with(func(s *logoutSpec) { s.IssueInstant = now.Add(10 * time.Minute) })), logoutByIdP, ReasonNotYetValid, 403},
		{"replayed", func() *httptest.ResponseRecorder { return e.browser().post("/t/acme/saml/slo", replayed) }, logoutByIdP, ReasonReplay, 403},
		{"doctype", post(with(func(s *logoutSpec) {
			s.Tamper = func(x string) string { return `<!DOCTYPE x [<!ENTITY a "b">]>` + x }
		})), logoutByIdP, ReasonDoctype, 400},
		{"no message", func() *httptest.ResponseRecorder { return e.browser().get("/t/acme/saml/slo") }, logoutByIdP, ReasonMalformed, 400},
		{"unsolicited LogoutResponse", func() *httptest.ResponseRecorder {
			return e.browser().post("/t/acme/saml/slo", postForm(t, e.idp, "acme", true, logoutSpec{InResponseTo: "id-nothing", Sign: true}))
		}, logoutBySP, ReasonInResponseTo, 403},
		{"unsigned LogoutResponse", func() *httptest.ResponseRecorder {
			return e.browser().get("/t/acme/saml/slo?" + redirectQuery(t, e.idp, "acme", true, logoutSpec{InResponseTo: "id-nothing"}))
		}, logoutBySP, ReasonUnsigned, 403},
		{"LogoutResponse signed by another IdP", func() *httptest.ResponseRecorder {
			return e.browser().post("/t/acme/saml/slo", postForm(t, e.idp, "acme", true, logoutSpec{InResponseTo: "id-nothing", Sign: true, SignWith: other}))
		}, logoutBySP, ReasonBadSignature, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.sloCount(tc.initiator, tc.reason)
			rec := tc.send()
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if got := e.sloCount(tc.initiator, tc.reason); got != before+1 {
				t.Fatalf("%s/%s count = %v, want %v", tc.initiator, tc.reason, got, before+1)
			}
			if !ann.signedIn("acme") {
				t.Fatal("a refused logout message ended the session")
			}
		})
	}
}

// TestMetadataAdvertisesSLO: the SP metadata lists the SingleLogoutService, both bindings.
func TestMetadataAdvertisesSLO(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	rec := e.browser().get("/t/acme/saml/metadata")
	var md csaml.EntityDescriptor
	if err := xml.Unmarshal(rec.Body.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ep := range md.SPSSODescriptors[0].SingleLogoutServices {
		got[ep.Binding] = ep.Location
	}
	if got[csaml.HTTPRedirectBinding] != sloURL("acme") || got[csaml.HTTPPostBinding] != sloURL("acme") {
		t.Fatalf("SingleLogoutServices = %v", got)
	}
}

// TestSLOURLFromMetadata: the IdP's SingleLogoutService is read from its metadata, and an
// explicit --slo-url is checked like the SSO URL.
func TestSLOURLFromMetadata(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	md := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/metadata"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + base64.StdEncoding.EncodeToString(e.idp.Cert.Raw) +
		`</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/slo/post"/>` +
		`<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/slo/redirect"/>` +
		`<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/></IDPSSODescriptor></EntityDescriptor>`
	fixed := directory.New(fixedKeyStore{e.store}, slog.New(slog.DiscardHandler), nil)
	cfg, err := Configure(ctx, fixed, e.acme, Settings{IdPMetadata: []byte(md)}, time.Now())
	if err != nil || cfg.IdPSLOURL != "https://idp.example.com/slo/redirect" {
		t.Fatalf("Configure from metadata: SLO %q, %v", cfg.IdPSLOURL, err)
	}
	_, err = Configure(ctx, fixed, e.acme, Settings{SSOURL: "https://idp.example.com/sso", Issuer: "x", CertPEM: e.idp.CertPEM, SLOURL: "http://idp.example.com/slo"}, time.Now())
	if se, ok := err.(*SettingsError); !ok || se.Field != "SLOURL" {
		t.Fatalf("an http SLO URL: %v", err)
	}
}
