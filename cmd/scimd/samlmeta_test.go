package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSAMLMetadataURLCLI: saml configure --idp-metadata-url fetches the metadata now (a
// private address only with --saml-metadata-allow-private; a failure saves nothing), and
// saml show names the URL and its refresh state.
func TestSAMLMetadataURLCLI(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "saml.db")
	now := time.Now()
	_, der := writeCert(t, dir, "idp", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	doc := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/meta"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + base64.StdEncoding.EncodeToString(der) +
		`</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/slo"/>` +
		`<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/></IDPSSODescriptor></EntityDescriptor>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metadata" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, doc)
	}))
	defer srv.Close()
	runCLI := cliOn(t, dsn)
	if code, _, errs := runCLI("tenant", "create", "acme"); code != 0 {
		t.Fatal(errs)
	}
	refused := []struct {
		name string
		args []string
		want string
	}{
		{"private address", []string{"--idp-metadata-url", srv.URL + "/metadata"}, "private"},
		{"not found", []string{"--idp-metadata-url", srv.URL + "/nothing", "--saml-metadata-allow-private"}, "404"},
		{"http to a public host", []string{"--idp-metadata-url", "http://idp.example.com/metadata"}, "must use https"},
		{"with the fields", []string{"--idp-metadata-url", srv.URL + "/metadata", "--saml-metadata-allow-private", "--issuer", "x"}, "not several"},
	}
	for _, tc := range refused {
		code, _, errs := runCLI(append([]string{"saml", "configure", "--tenant", "acme"}, tc.args...)...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Fatalf("%s: exit %d, stderr %q; want %q", tc.name, code, errs, tc.want)
		}
	}
	if _, out, _ := runCLI("saml", "show", "--tenant", "acme"); !strings.Contains(out, "not configured") {
		t.Fatalf("a refused configure saved settings:\n%s", out)
	}
	code, out, errs := runCLI("saml", "configure", "--tenant", "acme", "--idp-metadata-url", srv.URL+"/metadata", "--saml-metadata-allow-private")
	if code != 0 || !strings.Contains(out, "IdP metadata fetched from "+srv.URL+"/metadata") || !strings.Contains(out, "single logout through https://idp.example.com/slo") {
		t.Fatalf("configure = %d %s:\n%s", code, errs, out)
	}
	_, out, _ = runCLI("saml", "show", "--tenant", "acme")
	for _, s := range []string{"IdP metadata URL:      " + srv.URL + "/metadata", "last refreshed:", "next refresh:", "IdP single logout URL: https://idp.example.com/slo"} {
		if !strings.Contains(out, s) {
			t.Errorf("show lacks %q:\n%s", s, out)
		}
	}
}

// cliOn returns a runner of scimd commands on the database dsn: exit code, stdout, stderr.
func cliOn(t *testing.T, dsn string) func(args ...string) (int, string, string) {
	return func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, "--database", dsn), &out, &errb)
		return code, out.String(), errb.String()
	}
}
