package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"

	csaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// Settings, SettingsError and SPValues are package sso's, where the admin console finds them
// without importing this package.
type (
	Settings      = sso.Settings
	SettingsError = sso.SettingsError
	SPValues      = sso.SPValues
)

// Configure checks in and stores it as tenant t's SAML settings. The SP key pair is
// generated the first time and kept afterwards. Errors are sentences for the admin: a bad
// SSO URL, a missing issuer, a certificate that is not PEM X.509 or has expired, metadata
// without what is needed, an unsafe default redirect (each a *SettingsError naming the
// field); or a store error. The settings are written through dir, with their audit event
// in the same transaction, by the actor of ctx.
func Configure(ctx context.Context, dir *directory.Directory, t store.Tenant, in Settings, now time.Time) (store.SAMLConfig, error) {
	if len(in.IdPMetadata) > 0 {
		if in.SSOURL != "" || in.Issuer != "" || len(in.CertPEM) > 0 {
			return store.SAMLConfig{}, &SettingsError{Field: "IdPMetadata", Err: errors.New("give either the IdP metadata or the SSO URL, issuer and certificate, not both")}
		}
		var err error
		if in, err = fromMetadata(in); err != nil {
			return store.SAMLConfig{}, &SettingsError{Field: "IdPMetadata", Err: err}
		}
	}
	if err := checkSSOURL(in.SSOURL); err != nil {
		return store.SAMLConfig{}, &SettingsError{Field: "SSOURL", Err: err}
	}
	in.Issuer = strings.TrimSpace(in.Issuer)
	if in.Issuer == "" {
		return store.SAMLConfig{}, &SettingsError{Field: "Issuer", Err: errors.New("the IdP issuer (entity id) is required")}
	}
	certs, err := ParseCertificates(in.CertPEM, now)
	if err != nil {
		return store.SAMLConfig{}, &SettingsError{Field: "CertPEM", Err: err}
	}
	redirect := in.DefaultRedirect
	if redirect != "" {
		clean, ok := SafeReturnTo(t.Slug, redirect)
		if !ok {
			return store.SAMLConfig{}, &SettingsError{Field: "DefaultRedirect", Err: fmt.Errorf("default redirect %q: use a local path of the tenant, starting with /t/%s/", redirect, t.Slug)}
		}
		redirect = clean
	}
	key, cert, err := NewKeyPair(t.Slug, now)
	if err != nil {
		return store.SAMLConfig{}, err
	}
	return dir.ConfigureSAML(ctx, t, store.SAMLConfig{
		TenantID: t.ID, IdPEntityID: in.Issuer, IdPSSOURL: strings.TrimSpace(in.SSOURL), IdPCertPEM: encodeCerts(certs),
		JIT: in.JIT, JITTrustUserType: in.JITTrustUserType, AllowIdPInitiated: in.AllowIdPInitiated, DefaultRedirect: redirect,
		RequireEncryptedAssertions: in.RequireEncryptedAssertions, SPKeyPEM: key, SPCertPEM: cert, CreatedAt: now, UpdatedAt: now,
	})
}

// checkSSOURL accepts an absolute https URL, or http for a loopback host (a local test IdP).
func checkSSOURL(raw string) error {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return errors.New("the IdP SSO URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("the IdP SSO URL %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("the IdP SSO URL %q must use https (http is allowed only for loopback hosts)", raw)
	}
	return fmt.Errorf("the IdP SSO URL %q must be an https URL", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseCertificates reads one or more PEM X.509 certificates. It fails, saying why, when
// there is none, a block is not a certificate, or one is expired or not yet valid at now.
func ParseCertificates(data []byte, now time.Time) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("the IdP certificate file holds a %q PEM block; it must hold CERTIFICATE blocks", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the IdP certificate is not a valid X.509 certificate: %v", err)
		}
		switch {
		case now.After(c.NotAfter):
			return nil, fmt.Errorf("the IdP certificate %q expired on %s; download the IdP's current signing certificate",
				c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly))
		case now.Before(c.NotBefore):
			return nil, fmt.Errorf("the IdP certificate %q is not valid before %s", c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("the IdP certificate must be PEM X.509 (-----BEGIN CERTIFICATE-----); none was found")
	}
	return certs, nil
}

func encodeCerts(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// fromMetadata fills the SSO URL, issuer and certificates from the IdP's metadata XML.
func fromMetadata(in Settings) (Settings, error) {
	ed, err := samlsp.ParseMetadata(in.IdPMetadata)
	if err != nil {
		return in, fmt.Errorf("the IdP metadata cannot be read: %v", err)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return in, errors.New("the IdP metadata has no IDPSSODescriptor")
	}
	in.Issuer = ed.EntityID
	var pemCerts strings.Builder
	for _, d := range ed.IDPSSODescriptors {
		for _, sso := range d.SingleSignOnServices {
			if sso.Binding == csaml.HTTPRedirectBinding && in.SSOURL == "" {
				in.SSOURL = sso.Location
			}
		}
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
				if err != nil {
					return in, fmt.Errorf("the IdP metadata has a certificate that is not base64: %v", err)
				}
				pem.Encode(&pemCerts, &pem.Block{Type: "CERTIFICATE", Bytes: der})
			}
		}
	}
	if in.SSOURL == "" {
		return in, errors.New("the IdP metadata has no SingleSignOnService with the HTTP-Redirect binding")
	}
	if pemCerts.Len() == 0 {
		return in, errors.New("the IdP metadata has no signing certificate")
	}
	in.CertPEM = []byte(pemCerts.String())
	return in, nil
}

// NewKeyPair generates the SP's RSA 2048 key (PKCS #8 PEM) and a self-signed certificate
// for it (PEM), valid for ten years from now.
func NewKeyPair(slug string, now time.Time) (keyPEM []byte, certPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "scimd SAML SP " + slug},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// Values returns the SP values of tenant slug under publicURL; cfg may be nil (not
// configured yet: no certificate).
func Values(publicURL, slug string, cfg *store.SAMLConfig) SPValues {
	base := strings.TrimRight(publicURL, "/") + "/t/" + slug + "/saml/"
	v := SPValues{EntityID: base + "metadata", ACSURL: base + "acs", MetadataURL: base + "metadata", LoginURL: base + "login"}
	if cfg != nil {
		v.CertPEM, v.NextCertPEM = cfg.SPCertPEM, cfg.SPNextCertPEM
	}
	return v
}
