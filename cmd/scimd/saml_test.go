package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/sso"
)

// writeCert writes a self-signed PEM certificate valid from notBefore to notAfter.
func writeCert(t *testing.T, dir, name string, notBefore, notAfter time.Time) (string, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, der
}

func TestSAMLCLI(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "saml.db")
	now := time.Now()
	cert, der := writeCert(t, dir, "idp", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	expired, _ := writeCert(t, dir, "old-idp", now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0))
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("MIIB…not a certificate"), 0o600)
	metadata := filepath.Join(dir, "idp-metadata.xml")
	os.WriteFile(metadata, []byte(`<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/meta">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
      <ds:X509Certificate>`+base64.StdEncoding.EncodeToString(der)+`</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso/redirect"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`), 0o600)

	runCLI := cliOn(t, dsn)
	if code, _, errs := runCLI("tenant", "create", "acme"); code != 0 {
		t.Fatal(errs)
	}
	// Before configure, show prints the URLs the IdP admin needs, and says SAML is not set up.
	code, out, _ := runCLI("saml", "show", "--tenant", "acme", "--public-url", "https://app.example.com")
	if code != 0 || !strings.Contains(out, "https://app.example.com/t/acme/saml/acs") || !strings.Contains(out, "not configured") {
		t.Fatalf("show before configure = %d:\n%s", code, out)
	}

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"http SSO URL", []string{"--sso-url", "http://idp.example.com/sso", "--issuer", "x", "--cert", cert}, "must use https"},
		{"not a URL", []string{"--sso-url", "idp.example.com", "--issuer", "x", "--cert", cert}, "not an absolute URL"},
		{"no issuer", []string{"--sso-url", "https://idp.example.com/sso", "--cert", cert}, "issuer"},
		{"no certificate", []string{"--sso-url", "https://idp.example.com/sso", "--issuer", "x"}, "--cert"},
		{"not PEM", []string{"--sso-url", "https://idp.example.com/sso", "--issuer", "x", "--cert", notPEM}, "PEM X.509"},
		{"expired certificate", []string{"--sso-url", "https://idp.example.com/sso", "--issuer", "x", "--cert", expired}, "expired on"},
		{"unsafe default redirect", []string{"--sso-url", "https://idp.example.com/sso", "--issuer", "x", "--cert", cert, "--default-redirect", "//evil.example.com"}, "local path"},
		{"metadata and fields", []string{"--idp-metadata", metadata, "--issuer", "x"}, "not both"},
		{"unknown tenant", []string{"--sso-url", "https://idp.example.com/sso", "--issuer", "x", "--cert", cert, "--tenant", "nope"}, `no tenant "nope"`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"saml", "configure", "--tenant", "acme"}, tc.args...)
			code, _, errs := runCLI(args...)
			if code == 0 || !strings.HasPrefix(errs, "scimd: ") || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want a scimd: line with %q", code, errs, tc.want)
			}
		})
	}

	code, out, errs := runCLI("saml", "configure", "--tenant", "acme", "--sso-url", "http://127.0.0.1:7000/saml/sso",
		"--issuer", "urn:example:idp", "--cert", cert, "--jit", "--public-url", "https://app.example.com")
	if code != 0 || !strings.Contains(out, "JIT on") || !strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Fatalf("configure (loopback http) = %d %s:\n%s", code, errs, out)
	}
	spCert := out[strings.Index(out, "-----BEGIN CERTIFICATE-----"):]

	// Configuring again keeps the SP key pair; --idp-metadata fills the three fields.
	code, out, errs = runCLI("saml", "configure", "--tenant", "acme", "--idp-metadata", metadata, "--allow-idp-initiated",
		"--default-redirect", "/t/acme/home", "--public-url", "https://app.example.com")
	if code != 0 || !strings.Contains(out, "https://idp.example.com/meta") {
		t.Fatalf("configure from metadata = %d %s:\n%s", code, errs, out)
	}
	code, out, _ = runCLI("saml", "show", "--tenant", "acme", "--public-url", "https://app.example.com")
	for _, s := range []string{
		"SP entity ID (Audience): https://app.example.com/t/acme/saml/metadata",
		"ACS URL:                 https://app.example.com/t/acme/saml/acs",
		"Metadata URL:            https://app.example.com/t/acme/saml/metadata",
		"https://idp.example.com/sso/redirect", "IdP-initiated login:   on", "JIT provisioning:      off", "/t/acme/home",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("show lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, spCert) {
		t.Error("the SP certificate changed when the tenant was configured again")
	}

	// Several certificates at once (rotation): each is listed with its subject, SHA-256
	// fingerprint and expiry, and one within 30 days of expiry gets a warning line. An
	// expired one among them is refused as when it is alone.
	soon, soonDER := writeCert(t, dir, "idp-old", now.AddDate(-1, 0, 0), now.AddDate(0, 0, 10))
	if code, _, errs := runCLI("saml", "configure", "--tenant", "acme", "--sso-url", "https://idp.example.com/sso",
		"--issuer", "urn:example:idp", "--cert", cert, "--cert", expired); code == 0 || !strings.Contains(errs, "expired on") {
		t.Fatalf("configure with an expired second certificate = %d %q, want refused", code, errs)
	}
	code, out, errs = runCLI("saml", "configure", "--tenant", "acme", "--sso-url", "https://idp.example.com/sso",
		"--issuer", "urn:example:idp", "--cert", soon, "--cert", cert)
	if code != 0 || !strings.Contains(out, "IdP certificates:      2") {
		t.Fatalf("configure with two certificates = %d %s:\n%s", code, errs, out)
	}
	code, out, _ = runCLI("saml", "show", "--tenant", "acme")
	for _, s := range []string{
		"IdP certificates:      2",
		`subject "idp-old", SHA-256 ` + sso.Fingerprint(soonDER) + ", expires " + now.AddDate(0, 0, 10).UTC().Format(time.DateOnly),
		`subject "idp", SHA-256 ` + sso.Fingerprint(der) + ", expires " + now.AddDate(1, 0, 0).UTC().Format(time.DateOnly),
		`WARNING: The IdP signing certificate "idp-old" expires on ` + now.AddDate(0, 0, 10).UTC().Format("2 Jan 2006"),
	} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("show lacks %q:\n%s", s, out)
		}
	}
	// Dropping the old certificate (the last step of a rotation) drops the warning.
	if code, _, errs := runCLI("saml", "configure", "--tenant", "acme", "--sso-url", "https://idp.example.com/sso",
		"--issuer", "urn:example:idp", "--cert", cert); code != 0 {
		t.Fatal(errs)
	}
	if _, out, _ = runCLI("saml", "show", "--tenant", "acme"); !strings.Contains(out, "IdP certificates:      1") || strings.Contains(out, "WARNING") {
		t.Errorf("show after removing the old certificate:\n%s", out)
	}
}
