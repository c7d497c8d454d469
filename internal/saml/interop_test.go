package saml

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/scim/patch"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
	"github.com/scimd/scimd/internal/testlog"
)

// Tests of what real IdPs send and how refusals are explained, each named after the
// behaviour.

// newLoggedEnv is newEnv on s with the service's log captured, and every response given
// the request id the server's middleware would set.
func newLoggedEnv(t *testing.T, s store.Store, o cfgOpts, cfg Config) (*env, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	if cfg.PublicURL == "" {
		cfg.PublicURL = publicURL
	}
	e := newEnvTuned(t, s, o, cfg, directory.Bounds{}, slog.New(slog.NewJSONHandler(logs, nil)))
	inner := e.handler
	e.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(requestIDHeader, "req-"+r.URL.Path[len(r.URL.Path)-3:])
		inner.ServeHTTP(w, r)
	})
	return e, logs
}

func (e *env) refusalEvents() []store.Event {
	e.t.Helper()
	evs, err := e.store.Events(ctx, e.acme.ID, store.EventQuery{Name: directory.EventSAMLLoginRefused})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestClockSkewIsSymmetric(t *testing.T) {
	if ClockSkew() != DefaultClockSkew || DefaultClockSkew != 3*time.Minute {
		t.Fatalf("ClockSkew() = %s, want the 3 min default", ClockSkew())
	}
	tests := []struct {
		name   string
		offset time.Duration // the IdP's clock minus ours
		skew   time.Duration // 0: the default
		status int
		reason string
	}{
		{"IdP 120 s behind", -120 * time.Second, 0, http.StatusSeeOther, ReasonSuccess},
		{"IdP 120 s ahead", 120 * time.Second, 0, http.StatusSeeOther, ReasonSuccess},
		{"IdP 170 s behind", -170 * time.Second, 0, http.StatusSeeOther, ReasonSuccess},
		{"IdP 170 s ahead", 170 * time.Second, 0, http.StatusSeeOther, ReasonSuccess},
		{"IdP 200 s behind", -200 * time.Second, 0, http.StatusForbidden, ReasonExpired},
		{"IdP 200 s ahead", 200 * time.Second, 0, http.StatusForbidden, ReasonNotYetValid},
		{"IdP 120 s behind, skew 1 min", -120 * time.Second, time.Minute, http.StatusForbidden, ReasonExpired},
		{"IdP 120 s ahead, skew 1 min", 120 * time.Second, time.Minute, http.StatusForbidden, ReasonNotYetValid},
		{"IdP 8 min behind, skew 10 min", -8 * time.Minute, 10 * time.Minute, http.StatusSeeOther, ReasonSuccess},
		{"IdP 8 min ahead, skew 10 min", 8 * time.Minute, 10 * time.Minute, http.StatusSeeOther, ReasonSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvTuned(t, teststores.SQLite(t), cfgOpts{}, Config{PublicURL: publicURL, ClockSkew: tc.skew}, directory.Bounds{}, slog.New(slog.DiscardHandler))
			defer setClockSkew(DefaultClockSkew) // the setting is process-wide
			if want := max(tc.skew, 0); want != 0 && ClockSkew() != want {
				t.Fatalf("ClockSkew() = %s, want %s", ClockSkew(), want)
			}
			b := e.browser()
			id := b.startLogin("acme", "")
			issued := time.Now().UTC().Add(tc.offset)
			rec := b.postResponse("acme", e.response("acme", assertionSpec{InResponseTo: id, NameID: "ann@example.com", IssueInstant: issued}), "")
			if rec.Code != tc.status || e.count(tc.reason) != 1 {
				t.Fatalf("ACS = %d (want %d), %s counted %v:\n%s", rec.Code, tc.status, tc.reason, e.count(tc.reason), rec.Body)
			}
		})
	}
}

func TestRefusalReasonLoggedAndAudited(t *testing.T) {
	other := newTestIdP(t, "https://idp.example.com/metadata", 1)
	tests := []struct {
		name   string
		spec   assertionSpec
		reason string
		page   string   // in the page the browser sees
		admin  []string // in the audit entry's detail and the log record
	}{
		{"expired: by how much", assertionSpec{IssueInstant: time.Now().UTC().Add(-10 * time.Minute)}, ReasonExpired,
			"has expired", []string{"was issued 10m", "s ago by this server", "allowed clock skew is 3m0s"}},
		{"not yet valid: by how much", assertionSpec{IssueInstant: time.Now().UTC().Add(10 * time.Minute)}, ReasonNotYetValid,
			"not valid yet", []string{"in the future", "allowed clock skew is 3m0s"}},
		{"other certificate: which one", assertionSpec{SignWith: other}, ReasonBadSignature,
			"signature could not be verified", []string{"signing certificate " + fingerprint(other.cert.Raw), "configured IdP certificates (SHA-256): " + fingerprint(idpCerts[0].Raw)}},
		{"SHA-1: say so", assertionSpec{SHA1: true}, ReasonBadSignature,
			"signs with SHA-1; switch it to SHA-256", []string{"the IdP signs with SHA-1", "rsa-sha1"}},
		{"wrong audience", assertionSpec{Audience: "https://other-sp.example.com/metadata"}, ReasonAudience,
			"audience mismatch", []string{"AudienceRestriction"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, logs := newLoggedEnv(t, teststores.SQLite(t), cfgOpts{}, Config{})
			b := e.browser()
			spec := tc.spec
			spec.InResponseTo, spec.NameID = b.startLogin("acme", ""), "ann@example.com"
			rec := b.postResponse("acme", e.response("acme", spec), "")
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), tc.page) || e.count(tc.reason) != 1 {
				t.Fatalf("ACS = %d, want 403 with %q:\n%s", rec.Code, tc.page, rec.Body)
			}
			recs := logs.Records("saml login refused")
			if len(recs) != 1 {
				t.Fatalf("%d refusal log records, want 1", len(recs))
			}
			r := recs[0]
			if r["request_id"] != "req-acs" || r["tenant"] != "acme" || r["reason"] != tc.reason || r["err"] == "" || r["err"] == "Authentication failed" {
				t.Fatalf("log record %v", r)
			}
			evs := e.refusalEvents()
			if len(evs) != 1 || evs[0].Outcome != directory.OutcomeClientErr || evs[0].Actor != "saml" || evs[0].ResourceName != tc.reason {
				t.Fatalf("audit events %+v", evs)
			}
			for _, want := range tc.admin {
				if !strings.Contains(evs[0].Detail, want) || !strings.Contains(r["detail"].(string), want) {
					t.Errorf("audit detail %q / log detail %q lack %q", evs[0].Detail, r["detail"], want)
				}
			}
		})
	}
}

func TestRefusalAuditIsBounded(t *testing.T) {
	var a refusalAudit
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	for range 3 * refusalAuditPerMinute {
		if a.allow("acme", now) {
			n++
		}
	}
	if n != refusalAuditPerMinute || !a.allow("beta", now) || !a.allow("acme", now.Add(time.Minute)) {
		t.Fatalf("allowed %d in a minute, want %d; other tenants and the next minute allowed", n, refusalAuditPerMinute)
	}
}

// TestHTTPPublicURLRefusalNamesCrossSiteCookie: over plain http the request-binding
// cookie is SameSite=Lax, which Chromium does not send on the IdP's cross-site POST; the
// refusal page names that cause. (Over https the cookie is SameSite=None; Secure.)
func TestHTTPPublicURLRefusalNamesCrossSiteCookie(t *testing.T) {
	const httpURL = "http://sp.example.com"
	e, logs := newLoggedEnv(t, teststores.SQLite(t), cfgOpts{}, Config{PublicURL: httpURL})
	b := e.browser()
	rec := b.get("/t/acme/saml/login")
	req, _ := authnRequest(t, rec.Header().Get("Location"))
	if c := b.cookies[requestCookie]; c == nil || c.Secure || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("request cookie over http = %+v", c)
	}
	delete(b.cookies, requestCookie) // what the browser does on the cross-site POST
	resp := e.idp.response(t, httpURL+"/t/acme/saml/acs", httpURL+"/t/acme/saml/metadata", assertionSpec{InResponseTo: req.ID, NameID: "ann@example.com"})
	rec = b.postResponse("acme", resp, "")
	body := rec.Body.String()
	if rec.Code != http.StatusForbidden || !strings.Contains(body, "does not answer a sign-in started in this browser") ||
		!strings.Contains(body, "plain http") || !strings.Contains(body, "https") {
		t.Fatalf("ACS = %d:\n%s", rec.Code, body)
	}
	if evs := e.refusalEvents(); len(evs) != 1 || !strings.Contains(evs[0].Detail, "public URL is http") {
		t.Fatalf("audit events %+v", evs)
	}
	if len(logs.Records("saml login refused")) != 1 {
		t.Fatal("refusal not logged")
	}

	// Over https the same missing cookie gets no http hint.
	e2 := newEnv(t, cfgOpts{})
	b2 := e2.browser()
	id := b2.startLogin("acme", "")
	delete(b2.cookies, requestCookie)
	rec = b2.postResponse("acme", e2.response("acme", assertionSpec{InResponseTo: id, NameID: "ann@example.com"}), "")
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "plain http") {
		t.Fatalf("https ACS = %d:\n%s", rec.Code, rec.Body)
	}
}

func TestPKCS9EmailAddressOIDIsRecognised(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	b := e.browser()
	// SimpleSAMLphp's name2oid map: a transient NameID and the email under the PKCS #9 OID.
	rec := b.postResponse("acme", e.response("acme", assertionSpec{NameID: "_e3b0c44298fc", NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
		Attrs: [][2]string{{"urn:oid:1.2.840.113549.1.9.1", "ann@example.com"}, {"urn:oid:2.5.4.42", "Ann"}}}), "")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("ACS = %d:\n%s", rec.Code, rec.Body)
	}
	u, err := e.dir.FindLoginUser(ctx, e.acme, "ann@example.com")
	if err != nil || u == nil || scim.String(u.Attrs, "userName") != "ann@example.com" {
		t.Fatalf("JIT user = %v, %v", u, err)
	}
}

// TestRecognisedAttributeNamesAreDocumented: every attribute name and OID the SP reads is
// listed in docs/sso-interop.md.
func TestRecognisedAttributeNamesAreDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/sso-interop.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range attrKinds {
		if !strings.Contains(string(raw), "`"+name+"`") {
			t.Errorf("docs/sso-interop.md does not list the attribute name %q", name)
		}
	}
}

// persistentLogin signs in through an IdP-initiated response with a persistent NameID and
// an email attribute; it returns the status and the signed-in user's id.
func (e *env) persistentLogin(nameID, email string) (int, string) {
	e.t.Helper()
	b := e.browser()
	attrs := [][2]string{{"email", email}}
	if email == "" {
		attrs = nil
	}
	rec := b.postResponse("acme", e.response("acme", assertionSpec{NameID: nameID,
		NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", Attrs: attrs}), "")
	if rec.Code != http.StatusSeeOther {
		return rec.Code, ""
	}
	c := b.cookies[sessionCookie]
	sess, err := e.store.SessionByHash(ctx, e.acme.ID, store.SessionSSO, hashToken(c.Value), time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return rec.Code, sess.UserID
}

func (e *env) userCount() int {
	e.t.Helper()
	p, err := e.store.ListResources(ctx, scim.Users, e.acme.ID, store.Query{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Total
}

func TestPersistentNameIDResolvesExistingUser(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s, cfgOpts{idpInitiated: true})
		scimCtx := directory.WithActor(ctx, directory.Actor{Name: "test"})
		ann, err := e.dir.CreateUser(scimCtx, e.acme, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "ann@example.com",
			"emails": []any{map[string]any{"value": "ann@example.com", "primary": true}}})
		if err != nil {
			t.Fatal(err)
		}
		bob, err := e.dir.CreateUser(scimCtx, e.acme, map[string]any{"schemas": []any{scim.UserSchema}, "userName": "bob",
			"emails": []any{map[string]any{"value": "Bob@Example.com", "primary": true}}})
		if err != nil {
			t.Fatal(err)
		}
		// An opaque NameID and ann's email: ann, not a second account named after the id.
		if code, id := e.persistentLogin("00u1opaqueann", "ann@example.com"); code != http.StatusSeeOther || id != ann.ID {
			t.Fatalf("login = %d as %q, want ann %q", code, id, ann.ID)
		}
		// By primary email too, case-insensitively.
		if code, id := e.persistentLogin("00u1opaquebob", "bob@example.com"); code != http.StatusSeeOther || id != bob.ID {
			t.Fatalf("login = %d as %q, want bob", code, id)
		}
		if n := e.userCount(); n != 2 {
			t.Fatalf("%d users after the logins, want 2", n)
		}
		// The NameID is remembered: ann's email changes at the IdP and here, and the next
		// login, with an email that names nobody, still finds her.
		if _, err := e.dir.PatchUser(scimCtx, e.acme, ann.ID, mustOps(t, `[{"op":"replace","value":{"userName":"ann.lee@example.com","emails":[{"value":"ann.lee@example.com","primary":true}]}}]`), ""); err != nil {
			t.Fatal(err)
		}
		if code, id := e.persistentLogin("00u1opaqueann", "ann.lee@new.example.com"); code != http.StatusSeeOther || id != ann.ID {
			t.Fatalf("login after the email change = %d as %q, want ann", code, id)
		}
		if code, id := e.persistentLogin("00u1opaqueann", ""); code != http.StatusSeeOther || id != ann.ID {
			t.Fatalf("login by the NameID alone = %d as %q, want ann", code, id)
		}
		// A deactivated user found by the NameID is refused, not re-created.
		if _, err := e.dir.SetUserActive(scimCtx, e.acme, ann.ID, false); err != nil {
			t.Fatal(err)
		}
		if code, _ := e.persistentLogin("00u1opaqueann", "someone.else@example.com"); code != http.StatusForbidden || e.count(ReasonInactiveUser) != 1 {
			t.Fatalf("deactivated user's login = %d", code)
		}
		if n := e.userCount(); n != 2 {
			t.Fatalf("%d users, want 2", n)
		}
	})
}

func TestPersistentNameIDJITUsesEmailAndIsRemembered(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s, cfgOpts{idpInitiated: true})
		code, id := e.persistentLogin("AAdzZWNyZXQx", "cid@example.com")
		if code != http.StatusSeeOther || id == "" {
			t.Fatalf("JIT login = %d", code)
		}
		u, err := e.dir.Get(ctx, scim.Users, e.acme, id, false)
		if err != nil || scim.String(u.Attrs, "userName") != "cid@example.com" {
			t.Fatalf("JIT user = %v, %v; want userName cid@example.com, not the opaque id", u, err)
		}
		if got, err := e.store.SAMLIdentity(ctx, e.acme.ID, e.idp.entityID, "AAdzZWNyZXQx"); err != nil || got != id {
			t.Fatalf("remembered NameID = %q, %v", got, err)
		}
		if code, again := e.persistentLogin("AAdzZWNyZXQx", "cid.new@example.com"); code != http.StatusSeeOther || again != id {
			t.Fatalf("second login = %d as %q, want %q", code, again, id)
		}
		// Without an email the opaque id is all there is to name the user by.
		if code, _ := e.persistentLogin("AAdzZWNyZXQy", ""); code != http.StatusSeeOther {
			t.Fatalf("login without email = %d", code)
		}
		if n := e.userCount(); n != 2 {
			t.Fatalf("%d users, want 2", n)
		}
	})
}

func mustOps(t *testing.T, ops string) []patch.Operation {
	t.Helper()
	var list []any
	if err := json.Unmarshal([]byte(ops), &list); err != nil {
		t.Fatal(err)
	}
	parsed, err := patch.Parse(map[string]any{"schemas": []any{scim.PatchOpSchema}, "Operations": list}, scim.Users)
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

// FuzzFactsOf reads arbitrary (well-formed or not) XML as a refused response: it never
// panics, and what it reports comes from the input.
func FuzzFactsOf(f *testing.F) {
	f.Add(`<Response IssueInstant="2026-01-01T00:00:00Z"><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/><X509Certificate>AB CD</X509Certificate></Signature></Response>`)
	f.Add(`<a><b>`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, s string) {
		facts := factsOf([]byte(s))
		if facts.sha1 != "" && !sha1Algorithms[facts.sha1] {
			t.Fatalf("sha1 = %q, not a SHA-1 algorithm", facts.sha1)
		}
		if facts.signingCert != "" && !strings.Contains(strings.Join(strings.Fields(s), ""), facts.signingCert[:min(len(facts.signingCert), 4)]) {
			t.Fatalf("certificate %q is not from the input", facts.signingCert)
		}
	})
}
