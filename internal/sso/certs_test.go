package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func testCertPEM(t *testing.T, cn string, notAfter time.Time) (string, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.AddDate(-1, 0, 0), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), der
}

func TestCertificates(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a, aDER := testCertPEM(t, "idp A", now.AddDate(0, 0, 10))
	b, _ := testCertPEM(t, "idp B", now.AddDate(2, 0, 0))
	c, _ := testCertPEM(t, "idp C", now.Add(-time.Hour))
	key := "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"

	sum := sha256.Sum256(aDER)
	if got := Fingerprint(aDER); len(got) != 95 || strings.ReplaceAll(got, ":", "") != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Fatalf("Fingerprint = %q", got)
	}

	tests := []struct {
		name     string
		pem      string
		subjects []string
		soonest  string // date of the soonest expiry, "" for none
		warning  string // substring of the warning, "" for none
	}{
		{"none", "", nil, "", ""},
		{"one far", b, []string{"idp B"}, "2028-12-01", ""},
		{"two, one in 10 days", b + a, []string{"idp B", "idp A"}, "2026-12-11", `"idp A" expires on 11 Dec 2026`},
		{"expired", b + c, []string{"idp B", "idp C"}, "2026-12-01", `"idp C" expired on 1 Dec 2026`},
		{"other blocks skipped", key + b, []string{"idp B"}, "2028-12-01", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certs := Certificates(tc.pem)
			var subjects []string
			for _, c := range certs {
				subjects = append(subjects, c.Subject)
				if len(c.Fingerprint) != 95 {
					t.Errorf("fingerprint %q", c.Fingerprint)
				}
			}
			if strings.Join(subjects, ",") != strings.Join(tc.subjects, ",") {
				t.Errorf("subjects = %v, want %v", subjects, tc.subjects)
			}
			soonest, ok := SoonestExpiry(certs)
			if got := map[bool]string{true: soonest.Format(time.DateOnly), false: ""}[ok]; got != tc.soonest {
				t.Errorf("soonest = %q, want %q", got, tc.soonest)
			}
			w := ExpiryWarningText(certs, now)
			if (tc.warning == "") != (w == "") || !strings.Contains(w, tc.warning) {
				t.Errorf("warning = %q, want one with %q", w, tc.warning)
			}
		})
	}
}

func TestSPExpiryWarningText(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	soon, _ := testCertPEM(t, "scimd SAML SP acme", now.AddDate(0, 0, 10))
	far, _ := testCertPEM(t, "scimd SAML SP acme", now.AddDate(5, 0, 0))
	w := SPExpiryWarningText(Certificates(soon), "acme", now)
	for _, want := range []string{`"scimd SAML SP acme"`, "expires on 11 Dec 2026", "scimd saml rotate-sp-cert --tenant acme", "Rotate SP certificate", "activate"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
	if w := SPExpiryWarningText(Certificates(far), "acme", now); w != "" {
		t.Errorf("a certificate five years out warns: %q", w)
	}
}
