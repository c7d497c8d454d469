package sso

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// ExpiryWarning is how long before an IdP signing certificate expires that admins are
// warned (console banner, scimd saml show) and the alert rule fires: long enough to
// schedule a rotation with the IdP's admin.
const ExpiryWarning = 30 * 24 * time.Hour

// Certificate describes one of a tenant's IdP signing certificates for an admin.
type Certificate struct {
	Subject     string    // the subject's common name, or the whole subject when it has none
	Fingerprint string    // SHA-256 of the DER, upper-case hex pairs joined by colons, as IdPs show it
	NotAfter    time.Time // expiry
}

// Certificates describes the PEM X.509 certificates of pemText (a stored IdPCertPEM), in
// order; blocks that are not certificates are skipped (Configure stores none).
func Certificates(pemText string) []Certificate {
	var out []Certificate
	rest := []byte(pemText)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		subject := c.Subject.CommonName
		if subject == "" {
			subject = c.Subject.String()
		}
		out = append(out, Certificate{Subject: subject, Fingerprint: Fingerprint(c.Raw), NotAfter: c.NotAfter.UTC()})
	}
}

// Fingerprint is the SHA-256 fingerprint of a DER certificate: upper-case hex pairs joined
// by colons, the form Okta, Entra ID and JumpCloud show.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i := range sum {
		parts[i] = strings.ToUpper(hex.EncodeToString(sum[i : i+1]))
	}
	return strings.Join(parts, ":")
}

// SoonestExpiry returns the earliest NotAfter of certs; ok is false when certs is empty.
func SoonestExpiry(certs []Certificate) (soonest time.Time, ok bool) {
	for _, c := range certs {
		if !ok || c.NotAfter.Before(soonest) {
			soonest, ok = c.NotAfter, true
		}
	}
	return soonest, ok
}

// ExpiryWarningText is the sentence shown to a tenant's admins when one of certs expires
// within ExpiryWarning of now (or has expired), naming the date and what to do; "" when
// none does.
func ExpiryWarningText(certs []Certificate, now time.Time) string {
	soon, verb, date := expiringSoon(certs, now)
	if soon == nil {
		return ""
	}
	return fmt.Sprintf("The IdP signing certificate %q %s %s. Get the IdP's new signing certificate, add it next to the current one in the SAML settings, switch the IdP to it, then remove the old one.",
		soon.Subject, verb, date)
}

// SPExpiryWarningText is ExpiryWarningText for the tenant's own SP certificate (certs is
// the current one: it signs AuthnRequests and decrypts assertions), naming the date and
// the rotation, in the CLI and the console, that replaces it.
func SPExpiryWarningText(certs []Certificate, slug string, now time.Time) string {
	soon, verb, date := expiringSoon(certs, now)
	if soon == nil {
		return ""
	}
	return fmt.Sprintf("The SP certificate %q (scimd's own, which signs sign-in requests and decrypts assertions) %s %s. Rotate it: scimd saml rotate-sp-cert --tenant %s (or Rotate SP certificate in the SAML settings), give the new certificate to the IdP, then activate it.",
		soon.Subject, verb, date, slug)
}

// expiringSoon returns the certificate of certs that expires first within ExpiryWarning
// of now (nil when none does), with the verb and date that describe it.
func expiringSoon(certs []Certificate, now time.Time) (soon *Certificate, verb, date string) {
	for i := range certs {
		if certs[i].NotAfter.Sub(now) < ExpiryWarning && (soon == nil || certs[i].NotAfter.Before(soon.NotAfter)) {
			soon = &certs[i]
		}
	}
	if soon == nil {
		return nil, "", ""
	}
	verb = "expires on"
	if !now.Before(soon.NotAfter) {
		verb = "expired on"
	}
	return soon, verb, soon.NotAfter.Format("2 Jan 2006")
}
