package saml

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml/samltest"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// TestCertificateRotation rotates a tenant's IdP signing certificate without downtime,
// through the real ACS on every backend: certificate A; B added next to A, so responses
// signed by either are accepted (the IdP may switch at any moment); A removed, so
// A-signed responses are refused. Each step reconfigures at once, as an admin would, so a
// cached ServiceProvider must not outlive the settings it was built from.
func TestCertificateRotation(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		e := newEnvOn(t, s, cfgOpts{})
		idpA := e.idp
		idpB := samltest.NewIdP(t, idpA.EntityID, 1)
		setCerts := func(pems ...[]byte) {
			t.Helper()
			var all []byte
			for _, p := range pems {
				all = append(all, p...)
			}
			in := Settings{SSOURL: "https://idp.example.com/sso", Issuer: idpA.EntityID, CertPEM: all, JIT: true}
			fixed := directory.New(fixedKeyStore{e.store}, slog.New(slog.DiscardHandler), nil)
			cfg, err := Configure(ctx, fixed, e.acme, in, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if certs, err := parseStoredCerts(cfg.IdPCertPEM); err != nil || len(certs) != len(pems) {
				t.Fatalf("stored %d certificates (%v), want %d", len(certs), err, len(pems))
			}
		}
		login := func(idp *testIdP, wantOK bool) {
			t.Helper()
			b := e.browser()
			id := b.startLogin("acme", "/t/acme/x")
			resp := idp.Response(t, acsURL("acme"), entityID("acme"), assertionSpec{InResponseTo: id, NameID: "ann@example.com"})
			rec := b.postResponse("acme", resp, "")
			switch {
			case wantOK && rec.Code != http.StatusSeeOther:
				t.Fatalf("login = %d, want accepted: %s", rec.Code, rec.Body)
			case !wantOK && rec.Code != http.StatusForbidden:
				t.Fatalf("login = %d, want refused: %s", rec.Code, rec.Body)
			}
		}

		login(idpA, true) // A alone (newEnvOn configured it)
		login(idpB, false)
		if e.count(ReasonBadSignature) != 1 {
			t.Fatalf("bad_signature count = %v, want 1", e.count(ReasonBadSignature))
		}
		setCerts(idpA.CertPEM, idpB.CertPEM) // B added: both work
		login(idpA, true)
		login(idpB, true)
		login(idpA, true)
		setCerts(idpB.CertPEM) // A removed: only B works
		login(idpB, true)
		login(idpA, false)
		if e.count(ReasonBadSignature) != 2 || e.count(ReasonSuccess) != 5 {
			t.Fatalf("counts: bad_signature %v (want 2), success %v (want 5)", e.count(ReasonBadSignature), e.count(ReasonSuccess))
		}
	})
}

// TestProviderRebuiltOnSameUpdatedAt: a rotation stored within the store's clock
// resolution (the same UpdatedAt) still rebuilds the tenant's ServiceProvider.
func TestProviderRebuiltOnSameUpdatedAt(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	cfg, err := e.store.SAMLConfig(ctx, e.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.svc.provider(e.acme, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := e.svc.provider(e.acme, cfg); again != first {
		t.Fatal("the same settings built a new ServiceProvider")
	}
	cfg.IdPCertPEM = string(samltest.NewIdP(t, e.idp.EntityID, 1).CertPEM)
	rotated, err := e.svc.provider(e.acme, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rotated == first || len(rotated.IDPMetadata.IDPSSODescriptors[0].KeyDescriptors) != 1 ||
		rotated.IDPMetadata.IDPSSODescriptors[0].KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data ==
			first.IDPMetadata.IDPSSODescriptors[0].KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data {
		t.Fatal("a changed certificate with the same UpdatedAt kept the cached ServiceProvider")
	}
}
