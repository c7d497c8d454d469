package console_test

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestConsoleSAMLMetadataURL: the console configures a tenant from its IdP's metadata URL
// (a fetch failure shows next to the field and saves nothing), takes an SLO URL, and shows
// the refresh state: the URL, the last success, and the last error after a failed refresh.
func TestConsoleSAMLMetadataURL(t *testing.T) {
	e := newEnvSAML(t, teststores.SQLite(t), saml.Config{Metadata: saml.MetadataConfig{AllowPrivate: true, Timeout: time.Second}})
	_, certPEM, err := saml.NewKeyPair("idp", e.now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(certPEM))
	doc := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/meta"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + base64.StdEncoding.EncodeToString(block.Bytes) +
		`</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/></IDPSSODescriptor></EntityDescriptor>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/md" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, doc)
	}))
	defer srv.Close()
	cookies := []*http.Cookie{e.bootstrap(e.acme)}
	token := e.csrf("/t/acme/admin/saml", cookies)
	form := func(u string) url.Values {
		return url.Values{"csrf": {token}, "source": {"url"}, "metadata_url": {u}, "slo_url": {"https://idp.example.com/slo"}, "default_user_type": {"member"}}
	}

	r := e.do("POST", "/t/acme/admin/saml", form(srv.URL+"/missing"), cookies)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="metadata_url-error"`) || !strings.Contains(r.body, "404") {
		t.Fatalf("a metadata URL that answers 404 = %d:\n%s", r.status, r.body)
	}
	if _, err := e.store.SAMLConfig(ctx, e.acme.ID); err == nil {
		t.Fatal("a failed fetch saved settings")
	}
	r = e.do("POST", "/t/acme/admin/saml", form(srv.URL+"/md"), cookies)
	if r.status != http.StatusSeeOther {
		t.Fatalf("save = %d:\n%s", r.status, r.body)
	}
	cfg, err := e.store.SAMLConfig(ctx, e.acme.ID)
	if err != nil || cfg.IdPMetadataURL != srv.URL+"/md" || cfg.IdPEntityID != "https://idp.example.com/meta" || cfg.IdPSLOURL != "https://idp.example.com/slo" {
		t.Fatalf("saved %+v, %v", cfg, err)
	}
	page := e.do("GET", "/t/acme/admin/saml", nil, cookies).body
	for _, want := range []string{`id="metadata-refresh"`, `id="metadata-url">` + srv.URL + "/md<", `id="metadata-last-success"><time`,
		`id="source-url" checked`, `value="https://idp.example.com/slo"`, `id="sp-slo-url">` + origin + "/t/acme/saml/slo<"} {
		if !strings.Contains(page, want) {
			t.Errorf("the SAML page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, `id="metadata-last-error"`) {
		t.Error("the page shows an error before any failed refresh")
	}
	// A refresh fails: the page says so, and when.
	claims, err := e.store.ClaimSAMLMetadataRefreshes(ctx, e.now.Add(24*time.Hour), time.Minute, 1)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim = %v, %v", claims, err)
	}
	if err := e.store.FinishSAMLMetadataRefresh(ctx, e.acme.ID, claims[0].LeaseToken, e.now, e.now.Add(time.Hour), "the IdP metadata URL did not answer in time"); err != nil {
		t.Fatal(err)
	}
	page = e.do("GET", "/t/acme/admin/saml", nil, cookies).body
	if !strings.Contains(page, `id="metadata-last-error"`) || !strings.Contains(page, "did not answer in time") {
		t.Errorf("the SAML page does not show the failed refresh:\n%s", page)
	}
}
