package saml

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	csaml "github.com/crewjam/saml"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// The SP certificate is rotated by publishing before use, in two audited steps:
//
//  1. RotateSPCert makes the next key pair and stores it beside the current one. From then
//     on the SP metadata lists both certificates (signing and encryption KeyDescriptors),
//     and an assertion encrypted to either decrypts; AuthnRequests are still signed with
//     the current key. The IdP admin gives the IdP the new certificate (or lets it re-read
//     the metadata).
//  2. ActivateSPCert makes the next key pair current and retires the old one: requests are
//     signed with the new key, and an assertion encrypted to the old certificate no longer
//     decrypts.
//
// Activation is a separate step, never automatic: only the tenant's admin knows when the IdP
// has the new certificate, and an IdP that encrypts to a retired one locks every user out.

// ErrRotationPending and ErrNoRotation are package sso's, where the console finds them.
var (
	ErrRotationPending = sso.ErrRotationPending
	ErrNoRotation      = sso.ErrNoRotation
)

// RotateSPCert generates tenant t's next SP key pair and publishes its certificate in the SP
// metadata, beside the current one, audited as saml_sp_cert_rotate in the same transaction
// by the actor of ctx. Errors: errNotConfigured-style store.ErrNotFound (no SAML settings),
// ErrRotationPending, store.ErrConflict (a concurrent rotation won), store errors.
func RotateSPCert(ctx context.Context, dir *directory.Directory, st store.SAMLStore, t store.Tenant, now time.Time) (store.SAMLConfig, error) {
	cfg, err := st.SAMLConfig(ctx, t.ID)
	if err != nil {
		return cfg, err
	}
	if cfg.SPNextCertPEM != "" {
		return cfg, ErrRotationPending
	}
	key, cert, err := NewKeyPair(t.Slug, now)
	if err != nil {
		return cfg, err
	}
	next := cfg
	next.SPNextKeyPEM, next.SPNextCertPEM, next.UpdatedAt = key, cert, now
	return dir.SwapSAMLSPKeys(ctx, t, next, cfg.SPCertPEM, "", directory.EventSAMLSPCertRotate,
		"published the next SP certificate "+certFingerprint(cert)+" beside the current "+certFingerprint(cfg.SPCertPEM))
}

// ActivateSPCert makes tenant t's published next SP key pair the current one and retires
// the old, audited as saml_sp_cert_activate in the same transaction by the actor of ctx.
// Errors: store.ErrNotFound (no SAML settings), ErrNoRotation, store.ErrConflict, store
// errors.
func ActivateSPCert(ctx context.Context, dir *directory.Directory, st store.SAMLStore, t store.Tenant, now time.Time) (store.SAMLConfig, error) {
	cfg, err := st.SAMLConfig(ctx, t.ID)
	if err != nil {
		return cfg, err
	}
	if cfg.SPNextCertPEM == "" {
		return cfg, ErrNoRotation
	}
	next := cfg
	next.SPKeyPEM, next.SPCertPEM, next.SPNextKeyPEM, next.SPNextCertPEM, next.UpdatedAt = cfg.SPNextKeyPEM, cfg.SPNextCertPEM, nil, "", now
	return dir.SwapSAMLSPKeys(ctx, t, next, cfg.SPCertPEM, cfg.SPNextCertPEM, directory.EventSAMLSPCertActivate,
		"activated the SP certificate "+certFingerprint(cfg.SPNextCertPEM)+", retired "+certFingerprint(cfg.SPCertPEM))
}

// RotateSPCert is the package's RotateSPCert through the service's store and directory, at
// the service's clock.
func (s *Service) RotateSPCert(ctx context.Context, t store.Tenant) (store.SAMLConfig, error) {
	return RotateSPCert(ctx, s.dir, s.store, t, s.now())
}

// ActivateSPCert is the package's ActivateSPCert through the service's store and
// directory, at the service's clock.
func (s *Service) ActivateSPCert(ctx context.Context, t store.Tenant) (store.SAMLConfig, error) {
	return ActivateSPCert(ctx, s.dir, s.store, t, s.now())
}

// certFingerprint is the SHA-256 fingerprint of the first certificate of pemText, as admins
// compare them, or "(none)".
func certFingerprint(pemText string) string {
	if certs := sso.Certificates(pemText); len(certs) > 0 {
		return certs[0].Fingerprint
	}
	return "(none)"
}

// withNextKey lets sp decrypt with the tenant's next SP key while a rotation is under way.
// It also refuses to decrypt AES-CBC unless the Response's signature was verified first
// (the saml-core errata E93 SHOULD): the only decryption oracle left is then none.
func withNextKey(sp *csaml.ServiceProvider, cfg store.SAMLConfig) (*csaml.ServiceProvider, error) {
	sp.RequireSignedResponseForCBC = true
	if len(cfg.SPNextKeyPEM) == 0 {
		return sp, nil
	}
	key, err := parseRSAKey(cfg.SPNextKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("saml: stored next SP key: %w", err)
	}
	sp.DecryptionKeys = []*rsa.PrivateKey{key}
	return sp, nil
}

func parseRSAKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// spMetadata is sp's metadata, plus the next SP certificate (while a rotation is under way)
// as a second signing and encryption key, so that the IdP knows it before it is used.
func spMetadata(sp *csaml.ServiceProvider, cfg store.SAMLConfig) *csaml.EntityDescriptor {
	md := sp.Metadata()
	certs := sso.Certificates(cfg.SPNextCertPEM)
	if len(certs) == 0 || len(md.SPSSODescriptors) == 0 {
		return md
	}
	block, _ := pem.Decode([]byte(cfg.SPNextCertPEM))
	info := csaml.KeyInfo{X509Data: csaml.X509Data{X509Certificates: []csaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(block.Bytes)}}}}
	d := &md.SPSSODescriptors[0]
	var methods []csaml.EncryptionMethod
	for _, kd := range d.KeyDescriptors {
		if kd.Use == "encryption" {
			methods = kd.EncryptionMethods // the library's list, in its order of preference
		}
	}
	d.KeyDescriptors = append(d.KeyDescriptors,
		csaml.KeyDescriptor{Use: "encryption", KeyInfo: info, EncryptionMethods: methods},
		csaml.KeyDescriptor{Use: "signing", KeyInfo: info})
	return md
}
