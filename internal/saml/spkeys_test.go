package saml

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	csaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// redirectSignedBy reports whether the HTTP-Redirect AuthnRequest of location is signed
// with cert's key (RSA-SHA256 over the query as sent, saml-bindings §3.4.4.1).
func redirectSignedBy(t *testing.T, location string, cert *x509.Certificate) bool {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	var signed, sig []string
	for _, part := range strings.Split(u.RawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		switch name {
		case "SAMLRequest", "RelayState", "SigAlg":
			signed = append(signed, part)
		case "Signature":
			v, _ := url.QueryUnescape(value)
			sig = append(sig, v)
		}
	}
	if len(sig) != 1 {
		t.Fatalf("the AuthnRequest has %d signatures", len(sig))
	}
	raw, err := base64.StdEncoding.DecodeString(sig[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(strings.Join(signed, "&")))
	return rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], raw) == nil
}

// TestSPCertRotation rotates the SP certificate without breaking login, on every backend:
// certificate A; B published (metadata lists both, assertions encrypted to either decrypt,
// A still signs requests); B activated (A retired: only B decrypts and signs). Each step is
// audited, and a step out of order is refused.
func TestSPCertRotation(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s, cfgOpts{})
		certA := pemCertificate(t, spCert)
		cli := directory.WithActor(ctx, directory.Actor{Name: "cli"})
		login := func(to *x509.Certificate, signer *x509.Certificate, wantOK bool) {
			t.Helper()
			b := e.browser()
			rec := b.get("/t/acme/saml/login")
			if rec.Code != http.StatusFound || !redirectSignedBy(t, rec.Header().Get("Location"), signer) {
				t.Fatalf("login start = %d, or its AuthnRequest is not signed by %q", rec.Code, signer.Subject.CommonName)
			}
			req, _ := authnRequest(t, rec.Header().Get("Location"))
			resp := e.response("acme", assertionSpec{InResponseTo: req.ID, NameID: "ann@example.com",
				Encrypt: &encryption{cert: to, cipher: xmlenc.AES256GCM}})
			got := b.postResponse("acme", resp, "")
			switch {
			case wantOK && got.Code != http.StatusSeeOther:
				t.Fatalf("login encrypted to %q = %d, want accepted: %s", to.Subject.CommonName, got.Code, got.Body)
			case !wantOK && (got.Code != http.StatusForbidden || !strings.Contains(got.Body.String(), "could not be decrypted")):
				t.Fatalf("login encrypted to %q = %d, want refused: %s", to.Subject.CommonName, got.Code, got.Body)
			}
		}
		metadataCerts := func() (enc, sig []string) {
			t.Helper()
			var md csaml.EntityDescriptor
			if err := xml.Unmarshal(e.browser().get("/t/acme/saml/metadata").Body.Bytes(), &md); err != nil || len(md.SPSSODescriptors) != 1 {
				t.Fatalf("metadata: %v", err)
			}
			for _, kd := range md.SPSSODescriptors[0].KeyDescriptors {
				der := kd.KeyInfo.X509Data.X509Certificates[0].Data
				if kd.Use == "encryption" {
					enc = append(enc, der)
					if len(kd.EncryptionMethods) == 0 {
						t.Error("an encryption KeyDescriptor lists no EncryptionMethod")
					}
				} else {
					sig = append(sig, der)
				}
			}
			return enc, sig
		}
		b64 := func(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

		login(certA, certA, true)
		if _, err := ActivateSPCert(cli, e.dir, e.store, e.acme, time.Now()); !errors.Is(err, ErrNoRotation) {
			t.Fatalf("activate without a rotation = %v, want ErrNoRotation", err)
		}
		cfg, err := RotateSPCert(cli, e.dir, e.store, e.acme, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		certB := pemCertificate(t, cfg.SPNextCertPEM)
		if cfg.SPCertPEM != spCert || certB.Equal(certA) {
			t.Fatalf("after rotate: current changed or next is the current")
		}
		if v := e.svc.Values("acme", &cfg); v.CertPEM != spCert || v.NextCertPEM != cfg.SPNextCertPEM {
			t.Fatal("the SP values do not show the current and next certificates")
		}
		enc, sig := metadataCerts()
		if strings.Join(enc, ",") != b64(certA)+","+b64(certB) || strings.Join(sig, ",") != b64(certA)+","+b64(certB) {
			t.Fatalf("metadata during the overlap: encryption %d, signing %d certificates; want A and B in each", len(enc), len(sig))
		}
		login(certA, certA, true) // the IdP has not switched yet
		login(certB, certA, true) // it has
		if _, err := RotateSPCert(cli, e.dir, e.store, e.acme, time.Now()); !errors.Is(err, ErrRotationPending) {
			t.Fatalf("a second rotation = %v, want ErrRotationPending", err)
		}
		if _, err := ActivateSPCert(cli, e.dir, e.store, e.acme, time.Now()); err != nil {
			t.Fatal(err)
		}
		login(certB, certB, true)
		login(certA, certB, false) // retired
		if enc, sig := metadataCerts(); strings.Join(enc, ",") != b64(certB) || strings.Join(sig, ",") != b64(certB) {
			t.Fatalf("metadata after activation: encryption %d, signing %d certificates; want only B", len(enc), len(sig))
		}
		evs, err := e.store.Events(ctx, e.acme.ID, store.EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			if strings.HasPrefix(ev.Name, "saml_sp_cert") {
				got = append(got, ev.Name+" by "+ev.Actor)
				if !strings.Contains(ev.Detail, fingerprint(certB.Raw)) {
					t.Errorf("%s detail %q does not name the new certificate", ev.Name, ev.Detail)
				}
			}
		}
		if strings.Join(got, ", ") != "saml_sp_cert_activate by cli, saml_sp_cert_rotate by cli" {
			t.Fatalf("audit events: %v", got)
		}
	})
}
