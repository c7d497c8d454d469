package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimd/scimd/internal/console"
	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// TestConsoleSPCertificate: the SAML page sets "Require encrypted assertions", lists the SP
// certificate, rotates it in two audited steps (Rotate publishes the next one, Activate
// makes it current; a step out of order is shown, not taken), and an SP certificate 10
// days from expiry puts a banner naming the date and the rotation on every admin page.
func TestConsoleSPCertificate(t *testing.T) {
	e := newEnv(t)
	cookies := []*http.Cookie{e.bootstrap(e.acme)}
	token := e.csrf("/t/acme/admin/saml", cookies)
	_, idpCert, err := saml.NewKeyPair("idp", e.now)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf": {token}, "source": {"fields"}, "sso_url": {"https://idp.example.com/sso"},
		"issuer": {"https://idp.example.com"}, "cert": {idpCert}, "default_user_type": {"member"}, "require_encrypted_assertions": {"on"}}
	if r := e.do("POST", "/t/acme/admin/saml", form, cookies); r.status != http.StatusSeeOther {
		t.Fatalf("save = %d:\n%s", r.status, r.body)
	}
	cfg, err := e.store.SAMLConfig(ctx, e.acme.ID)
	if err != nil || !cfg.RequireEncryptedAssertions {
		t.Fatalf("require-encrypted not stored: %+v, %v", cfg, err)
	}
	first := sso.Certificates(cfg.SPCertPEM)[0]
	page := e.do("GET", "/t/acme/admin/saml", nil, cookies).body
	if !strings.Contains(page, `id="require_encrypted_assertions" name="require_encrypted_assertions" checked`) ||
		strings.Count(page, `class="sp-cert"`) != 1 || !strings.Contains(page, first.Fingerprint) || !strings.Contains(page, `id="sp-cert-rotate"`) {
		t.Fatalf("SAML page:\n%s", page)
	}
	step := func(name string, want int) resp {
		t.Helper()
		r := e.do("POST", "/t/acme/admin/saml/sp-cert/"+name, url.Values{"csrf": {token}}, cookies)
		if r.status != want {
			t.Fatalf("%s = %d, want %d:\n%s", name, r.status, want, r.body)
		}
		return r
	}
	if r := step("activate", http.StatusConflict); !strings.Contains(elementText(r.body, "sp-cert-error"), "no new SP certificate is published") {
		t.Fatalf("activate before rotate:\n%s", r.body)
	}
	if r := e.do("POST", "/t/acme/admin/saml/sp-cert/rotate", url.Values{}, cookies); r.status != http.StatusForbidden {
		t.Fatalf("rotate without the CSRF token = %d", r.status)
	}
	step("rotate", http.StatusSeeOther)
	cfg, _ = e.store.SAMLConfig(ctx, e.acme.ID)
	next := sso.Certificates(cfg.SPNextCertPEM)[0]
	page = e.do("GET", "/t/acme/admin/saml?sp_cert=rotated", nil, cookies).body
	if !strings.Contains(page, `id="sp-cert-flash"`) || strings.Count(page, `class="sp-cert-next"`) != 1 || !strings.Contains(page, next.Fingerprint) ||
		!strings.Contains(page, `id="sp-cert-activate"`) || strings.Contains(page, `id="sp-cert-rotate"`) {
		t.Fatalf("SAML page during the overlap:\n%s", page)
	}
	if r := step("rotate", http.StatusConflict); !strings.Contains(elementText(r.body, "sp-cert-error"), "already published") {
		t.Fatalf("a second rotate:\n%s", r.body)
	}
	step("activate", http.StatusSeeOther)
	page = e.do("GET", "/t/acme/admin/saml", nil, cookies).body
	if strings.Contains(page, first.Fingerprint) || !strings.Contains(page, next.Fingerprint) || strings.Contains(page, `class="sp-cert-next"`) {
		t.Fatalf("SAML page after activation:\n%s", page)
	}
	evs, err := e.store.Events(ctx, e.acme.ID, store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Name, "saml_sp_cert") {
			got = append(got, ev.Name+" by "+ev.Actor)
		}
	}
	by := " by console " + console.BootstrapAdmin
	if strings.Join(got, ", ") != directory.EventSAMLSPCertActivate+by+", "+directory.EventSAMLSPCertRotate+by {
		t.Fatalf("audit events: %v", got)
	}

	// An SP certificate 10 days from expiry (stored as a rotation would) puts the banner up.
	_, soon, err := saml.NewKeyPair("acme-old", e.now.AddDate(-10, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	cur := cfg
	cur.SPCertPEM, cur.SPNextKeyPEM, cur.SPNextCertPEM = soon, nil, ""
	if _, err := e.store.SwapSAMLSPKeys(ctx, cur, cfg.SPNextCertPEM, "", nil); err != nil {
		t.Fatal(err)
	}
	date := sso.Certificates(soon)[0].NotAfter.Format("2 Jan 2006")
	for _, path := range []string{"/t/acme/admin/saml", "/t/acme/admin/users"} {
		banner := html.UnescapeString(elementText(e.do("GET", path, nil, cookies).body, "sp-cert-expiry-warning"))
		if !strings.Contains(banner, `"scimd SAML SP acme-old"`) || !strings.Contains(banner, "expires on "+date) || !strings.Contains(banner, "scimd saml rotate-sp-cert --tenant acme") {
			t.Errorf("%s: banner %q", path, banner)
		}
	}
	if strings.Contains(e.do("GET", "/t/beta/admin/users", nil, []*http.Cookie{e.bootstrap(e.beta)}).body, "sp-cert-expiry-warning") {
		t.Error("beta's pages show acme's SP certificate banner")
	}
}
