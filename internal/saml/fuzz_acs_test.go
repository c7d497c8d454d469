package saml_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/saml"
	"github.com/scimd/scimd/internal/store/teststores"
)

// FuzzACS posts arbitrary SAMLResponse and RelayState values to a configured tenant's
// assertion consumer service (JIT and IdP-initiated on, so that the most code runs): the
// ACS never panics, never answers 5xx, and never shows database error text. Seeds are
// response shapes IdPs send (unsigned here: the signature check must refuse them).
func FuzzACS(f *testing.F) {
	ctx := context.Background()
	s := teststores.SQLite(f)
	log := slog.New(slog.DiscardHandler)
	d := directory.New(s, log, nil)
	svc, err := saml.New(saml.Config{PublicURL: "https://sp.example.com"}, s, d, log, prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	r := chi.NewRouter()
	svc.Mount(r)
	tn, err := d.CreateTenant(ctx, "acme", "Acme")
	if err != nil {
		f.Fatal(err)
	}
	_, idpCert, err := saml.NewKeyPair("idp", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := saml.Configure(ctx, d, tn, saml.Settings{SSOURL: "https://idp.example.com/sso", Issuer: "https://idp.example.com/metadata",
		CertPEM: []byte(idpCert), JIT: true, AllowIdPInitiated: true}, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	now := time.Now().UTC().Format(time.RFC3339)
	response := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="` + now +
		`" Destination="https://sp.example.com/t/acme/saml/acs"><saml:Issuer>https://idp.example.com/metadata</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
		`<saml:Assertion ID="_a1" Version="2.0" IssueInstant="` + now + `"><saml:Issuer>https://idp.example.com/metadata</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">ann@example.com</saml:NameID>` +
		`<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData Recipient="https://sp.example.com/t/acme/saml/acs" NotOnOrAfter="2999-01-01T00:00:00Z"/></saml:SubjectConfirmation></saml:Subject>` +
		`<saml:Conditions NotBefore="2000-01-01T00:00:00Z" NotOnOrAfter="2999-01-01T00:00:00Z"><saml:AudienceRestriction><saml:Audience>https://sp.example.com/t/acme/saml/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
		`<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>ann@example.com</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>`
	// A signature the library will refuse, for the refusal explanation: SHA-1 algorithms, a
	// certificate, a persistent NameID.
	sig := `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>` +
		`<ds:Reference URI="#_a1"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>` +
		`<ds:SignatureValue>AAAA</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>MIIB AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`
	signed := strings.Replace(response, `<saml:Subject>`, sig+`<saml:Subject>`, 1)
	seeds := [][2]string{
		{b64(signed), ""},
		{b64(strings.Replace(signed, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", 1)), ""},
		{b64(response), ""},
		{b64(response), "/t/acme/"},
		{b64(strings.Replace(response, "Success", "Responder", 1)), "https://evil.example.com/"},
		{b64(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "xx">]><r>&x;</r>`), ""},
		{b64(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><samlp:Response>`), ""},
		{"not base64!", ""},
		{"", ""},
	}
	// Encrypted assertions (the decryption path parses them): to the tenant's SP certificate
	// in GCM and CBC, and bent EncryptedData the library must refuse.
	for i, seed := range encryptedSeeds(f, response, cfg.SPCertPEM) {
		seeds = append(seeds, [2]string{b64(seed), ""})
		if i == 0 { // the seeds reach the decryption: this one decrypts, and has no signature inside
			form := url.Values{"SAMLResponse": {b64(seed)}}
			req := httptest.NewRequest(http.MethodPost, "/t/acme/saml/acs", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "assertion is not signed") {
				f.Fatalf("an encrypted unsigned assertion = %d: %s", rec.Code, rec.Body)
			}
		}
	}
	for _, seed := range seeds {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, samlResponse, relayState string) {
		form := url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relayState}}
		req := httptest.NewRequest(http.MethodPost, "/t/acme/saml/acs", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("ACS = %d: %s", rec.Code, rec.Body)
		}
		low := strings.ToLower(rec.Body.String())
		for _, s := range []string{"sqlstate", "sqlite", "pgx", "syntax error at", "goroutine "} {
			if strings.Contains(low, s) && !strings.Contains(strings.ToLower(samlResponse+relayState), s) {
				t.Fatalf("ACS response shows %q: %s", s, rec.Body)
			}
		}
	})
}

// encryptedSeeds returns response with its assertion encrypted to the SP certificate
// (AES-128-GCM and AES-256-CBC, RSA-OAEP-MGF1P and RSA-OAEP SHA-256), and shapes of
// EncryptedAssertion that must be refused: no EncryptedKey, a cipher value that is not
// base64, an unknown algorithm, several EncryptedKeys, an empty one.
func encryptedSeeds(f *testing.F, response, spCertPEM string) []string {
	block, _ := pem.Decode([]byte(spCertPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		f.Fatal(err)
	}
	start, end := strings.Index(response, "<saml:Assertion "), strings.Index(response, "</saml:Assertion>")+len("</saml:Assertion>")
	assertion := strings.Replace(response[start:end], "<saml:Assertion ", `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" `, 1)
	encrypt := func(transport xmlenc.RSA, cipher xmlenc.BlockCipher) string {
		transport.BlockCipher = cipher
		el, err := transport.Encrypt(cert, []byte(assertion), nil)
		if err != nil {
			f.Fatal(err)
		}
		doc := etree.NewDocument()
		doc.SetRoot(el)
		x, err := doc.WriteToString()
		if err != nil {
			f.Fatal(err)
		}
		return response[:start] + "<saml:EncryptedAssertion>" + x + "</saml:EncryptedAssertion>" + response[end:]
	}
	gcm := encrypt(xmlenc.OAEP(), xmlenc.AES128GCM)
	cbc := encrypt(xmlenc.OAEP_SHA256(), xmlenc.AES256CBC)
	key := gcm[strings.Index(gcm, "<xenc:EncryptedKey") : strings.Index(gcm, "</xenc:EncryptedKey>")+len("</xenc:EncryptedKey>")]
	return []string{
		gcm,
		cbc,
		strings.Replace(gcm, key, "", 1),
		strings.Replace(gcm, "<xenc:CipherValue>", "<xenc:CipherValue>%%", 1),
		strings.Replace(gcm, "xmlenc11#aes128-gcm", "xmlenc11#aes999-gcm", 1),
		strings.Replace(gcm, key, strings.Repeat(key, 8), 1),
		strings.Replace(gcm, "<saml:EncryptedAssertion>", "<saml:EncryptedAssertion><saml:Assertion/>", 1),
		response[:start] + "<saml:EncryptedAssertion></saml:EncryptedAssertion>" + response[end:],
	}
}
