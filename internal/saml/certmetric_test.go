package saml

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/teststores"
)

// certExpiring returns a PEM certificate named cn that expires at notAfter.
func certExpiring(t *testing.T, cn string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestCertificateExpiryMetric reads the IdP and SP certificates' expiry from the store at
// scrape time: per tenant with the tenant label, else the minimum and the count of tenants
// under 30 days. acme has an IdP certificate 10 days from expiry next to a far one, beta one
// a year out, gamma no SAML; the SP certificates likewise, acme's 10 days out, beta's a year.
func TestCertificateExpiryMetric(t *testing.T) {
	teststores.Run(t, func(t *testing.T, s store.Store) {
		now := time.Now().UTC().Truncate(time.Second)
		clock := func() time.Time { return now }
		d := directory.New(fixedKeyStore{s}, slog.New(slog.DiscardHandler), nil)
		certs := map[string][][]byte{
			"acme":  {certExpiring(t, "acme new", now.AddDate(2, 0, 0)), certExpiring(t, "acme old", now.Add(10*24*time.Hour))},
			"beta":  {certExpiring(t, "beta", now.Add(365*24*time.Hour))},
			"gamma": nil,
		}
		for _, slug := range []string{"acme", "beta", "gamma"} {
			tn, err := d.CreateTenant(ctx, slug, slug)
			if err != nil {
				t.Fatal(err)
			}
			if certs[slug] == nil {
				continue
			}
			spKeyOnce.Do(func() { spKey, spCert, _ = NewKeyPair("test", now) })
			in := Settings{SSOURL: "https://idp.example.com/sso", Issuer: "urn:idp", CertPEM: append(certs[slug][0], certs[slug][len(certs[slug])-1]...)}
			cfg, err := Configure(ctx, d, tn, in, now)
			if err != nil {
				t.Fatal(err)
			}
			// Stored as a rotation would: the key pair does not matter to the metric.
			from := cfg.SPCertPEM
			cfg.SPCertPEM = string(certExpiring(t, slug+" sp", map[string]time.Time{"acme": now.Add(10 * 24 * time.Hour), "beta": now.AddDate(1, 0, 0)}[slug]))
			if _, err := s.SwapSAMLSPKeys(ctx, cfg, from, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name        string
			tenantLabel bool
			want        string
		}{
			{"labelled", true, `scimd_saml_idp_certificate_expiry_seconds{tenant="acme"} 864000
scimd_saml_idp_certificate_expiry_seconds{tenant="beta"} 3.1536e+07
scimd_saml_sp_certificate_expiry_seconds{tenant="acme"} 864000
scimd_saml_sp_certificate_expiry_seconds{tenant="beta"} 3.1536e+07
`},
			{"aggregated", false, `scimd_saml_idp_certificate_expiry_seconds 864000
scimd_saml_idp_certificates_expiring 1
scimd_saml_sp_certificate_expiry_seconds 864000
scimd_saml_sp_certificates_expiring 1
`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				reg := prometheus.NewRegistry()
				if _, err := New(Config{PublicURL: publicURL, Now: clock, TenantLabel: tc.tenantLabel}, s, d, slog.New(slog.DiscardHandler), reg); err != nil {
					t.Fatal(err)
				}
				if got := gatherCertMetrics(t, reg); got != tc.want {
					t.Fatalf("scrape:\n%s\nwant:\n%s", got, tc.want)
				}
			})
		}
	})
}

// gatherCertMetrics scrapes reg and returns the IdP and SP certificate metrics as
// "name{labels} value" lines.
func gatherCertMetrics(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "scimd_saml_idp_certificate") && !strings.HasPrefix(f.GetName(), "scimd_saml_sp_certificate") {
			continue
		}
		for _, m := range f.GetMetric() {
			b.WriteString(f.GetName())
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			if len(labels) > 0 {
				b.WriteString("{" + strings.Join(labels, ",") + "}")
			}
			b.WriteString(" " + strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64) + "\n")
		}
	}
	return b.String()
}
