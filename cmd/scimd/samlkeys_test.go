package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// TestSAMLRotateSPCertCLI rotates a tenant's SP certificate in two steps from the CLI, and
// sets the require-encrypted option; steps out of order are refused with a sentence.
func TestSAMLRotateSPCertCLI(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "saml.db")
	now := time.Now()
	cert, _ := writeCert(t, dir, "idp", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	runCLI := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(context.Background(), append(args, "--database", dsn), &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, slug := range []string{"acme", "beta"} {
		if code, _, errs := runCLI("tenant", "create", slug); code != 0 {
			t.Fatal(errs)
		}
	}
	if code, _, errs := runCLI("saml", "rotate-sp-cert", "--tenant", "beta"); code == 0 || !strings.Contains(errs, "not configured") {
		t.Fatalf("rotate without SAML = %d %q", code, errs)
	}
	code, out, errs := runCLI("saml", "configure", "--tenant", "acme", "--sso-url", "https://idp.example.com/sso",
		"--issuer", "urn:example:idp", "--cert", cert, "--require-encrypted-assertions")
	if code != 0 {
		t.Fatal(errs)
	}
	first := out[strings.Index(out, "-----BEGIN CERTIFICATE-----"):]
	show := func() string {
		t.Helper()
		code, out, errs := runCLI("saml", "show", "--tenant", "acme")
		if code != 0 {
			t.Fatal(errs)
		}
		return out
	}
	if out := show(); !strings.Contains(out, "Encrypted assertions:  required") || !strings.Contains(out, `SP certificate:        subject "scimd SAML SP acme"`) || strings.Contains(out, "Next SP certificate") {
		t.Fatalf("show:\n%s", out)
	}
	if code, _, errs := runCLI("saml", "rotate-sp-cert", "--tenant", "acme", "--activate"); code == 0 || !strings.Contains(errs, "no new SP certificate is published") {
		t.Fatalf("activate before rotating = %d %q", code, errs)
	}
	code, out, errs = runCLI("saml", "rotate-sp-cert", "--tenant", "acme")
	if code != 0 || !strings.Contains(out, "published the next SP certificate") || !strings.Contains(out, "rotate-sp-cert --tenant acme --activate") {
		t.Fatalf("rotate = %d %q:\n%s", code, errs, out)
	}
	next := out[strings.LastIndex(out, "-----BEGIN CERTIFICATE-----"):]
	if out := show(); !strings.Contains(out, first) || !strings.Contains(out, "Next SP certificate:   subject") {
		t.Fatalf("show during the overlap:\n%s", out)
	}
	if code, _, errs := runCLI("saml", "rotate-sp-cert", "--tenant", "acme"); code == 0 || !strings.Contains(errs, "already published") {
		t.Fatalf("a second rotate = %d %q", code, errs)
	}
	if code, out, errs := runCLI("saml", "rotate-sp-cert", "--tenant", "acme", "--activate"); code != 0 || !strings.Contains(out, "activated") {
		t.Fatalf("activate = %d %q:\n%s", code, errs, out)
	}
	if out := show(); !strings.Contains(out, next) || strings.Contains(out, first) || strings.Contains(out, "Next SP certificate") {
		t.Fatalf("show after activation:\n%s", out)
	}
	// Configuring again keeps the rotated key pair and turns the option off.
	if code, _, errs := runCLI("saml", "configure", "--tenant", "acme", "--sso-url", "https://idp.example.com/sso", "--issuer", "urn:example:idp", "--cert", cert); code != 0 {
		t.Fatal(errs)
	}
	if out := show(); !strings.Contains(out, next) || !strings.Contains(out, "Encrypted assertions:  accepted, not required") {
		t.Fatalf("show after configuring again:\n%s", out)
	}
}

// TestPrintSPCertsWarns: an SP certificate 10 days from expiry gets a WARNING line naming
// the date and the rotation command.
func TestPrintSPCertsWarns(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	path, _ := writeCert(t, dir, "scimd SAML SP acme", now.AddDate(-1, 0, 0), now.AddDate(0, 0, 10))
	b, err := os.ReadFile(path)
	if err != nil || len(sso.Certificates(string(b))) != 1 {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printSPCerts(&out, "acme", store.SAMLConfig{SPCertPEM: string(b)}, now)
	want := `WARNING: The SP certificate "scimd SAML SP acme"`
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "expires on "+now.AddDate(0, 0, 10).Format("2 Jan 2006")) ||
		!strings.Contains(out.String(), "scimd saml rotate-sp-cert --tenant acme") {
		t.Fatalf("printSPCerts:\n%s", out.String())
	}
}
