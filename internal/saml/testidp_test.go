package saml

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"io"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	csaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// testIdP is an in-process identity provider: a key pair and an entity id, and a builder of
// signed responses that every test bends in one way.
type testIdP struct {
	entityID string
	key      *rsa.PrivateKey
	cert     *x509.Certificate
	certPEM  []byte
}

var (
	idpOnce  sync.Once
	idpKeys  [2]*rsa.PrivateKey
	idpCerts [2]*x509.Certificate
)

// newTestIdP returns an IdP; which selects one of two key pairs made once per test binary.
func newTestIdP(tb testing.TB, entityID string, which int) *testIdP {
	tb.Helper()
	idpOnce.Do(func() {
		for i := range idpKeys {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "test idp"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
			if err != nil {
				panic(err)
			}
			cert, _ := x509.ParseCertificate(der)
			idpKeys[i], idpCerts[i] = key, cert
		}
	})
	return &testIdP{entityID: entityID, key: idpKeys[which], cert: idpCerts[which],
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idpCerts[which].Raw})}
}

// assertionSpec describes one response. Zero values get sensible defaults from build.
type assertionSpec struct {
	Issuer       string
	Destination  string // response Destination
	Recipient    string // SubjectConfirmationData Recipient
	Audience     string
	InResponseTo string
	NameID       string
	NameIDFormat string
	NotBefore    time.Time
	NotOnOrAfter time.Time
	IssueInstant time.Time
	Attrs        [][2]string // name, value
	// Sign is "assertion" (default), "response", "both" or "none".
	Sign string
	// SignWith signs with another IdP's key.
	SignWith *testIdP
	// Tamper edits the serialized response after signing.
	Tamper func(xml string) string
	Status string
	// SHA1 signs with RSA-SHA1 and SHA-1 digests, as old IdP setups do.
	SHA1 bool
	// Encrypt, when set, sends the (signed) assertion as an EncryptedAssertion; Tamper then
	// edits the assertion before it is encrypted (encrypted_test.go).
	Encrypt *encryption
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return "_" + hex.EncodeToString(b[:])
}

// response returns the base64 SAMLResponse of spec, for an SP whose ACS and entity id are
// given.
func (idp *testIdP) response(tb testing.TB, acs, audience string, spec assertionSpec) string {
	tb.Helper()
	now := time.Now().UTC()
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&spec.Issuer, idp.entityID)
	def(&spec.Destination, acs)
	def(&spec.Recipient, acs)
	def(&spec.Audience, audience)
	def(&spec.NameIDFormat, string(csaml.EmailAddressNameIDFormat))
	def(&spec.Sign, "assertion")
	def(&spec.Status, csaml.StatusSuccess)
	if spec.IssueInstant.IsZero() {
		spec.IssueInstant = now
	}
	if spec.NotBefore.IsZero() {
		spec.NotBefore = spec.IssueInstant.Add(-time.Minute)
	}
	if spec.NotOnOrAfter.IsZero() {
		spec.NotOnOrAfter = spec.IssueInstant.Add(5 * time.Minute)
	}
	var attrs []csaml.Attribute
	for _, kv := range spec.Attrs {
		attrs = append(attrs, csaml.Attribute{Name: kv[0], NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
			Values: []csaml.AttributeValue{{Type: "xs:string", Value: kv[1]}}})
	}
	a := &csaml.Assertion{
		ID: randomID(), IssueInstant: spec.IssueInstant, Version: "2.0",
		Issuer: csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: spec.Issuer},
		Subject: &csaml.Subject{
			NameID: &csaml.NameID{Format: spec.NameIDFormat, Value: spec.NameID},
			SubjectConfirmations: []csaml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &csaml.SubjectConfirmationData{InResponseTo: spec.InResponseTo,
					NotOnOrAfter: spec.NotOnOrAfter, Recipient: spec.Recipient}}},
		},
		Conditions: &csaml.Conditions{NotBefore: spec.NotBefore, NotOnOrAfter: spec.NotOnOrAfter,
			AudienceRestrictions: []csaml.AudienceRestriction{{Audience: csaml.Audience{Value: spec.Audience}}}},
		AuthnStatements: []csaml.AuthnStatement{{AuthnInstant: spec.IssueInstant, SessionIndex: randomID(),
			AuthnContext: csaml.AuthnContext{AuthnContextClassRef: &csaml.AuthnContextClassRef{Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}}},
	}
	if len(attrs) > 0 {
		a.AttributeStatements = []csaml.AttributeStatement{{Attributes: attrs}}
	}
	signer := idp
	if spec.SignWith != nil {
		signer = spec.SignWith
	}
	if spec.Sign == "assertion" || spec.Sign == "both" {
		a.Signature = signer.signature(tb, a.Element(), spec.SHA1)
	}
	r := &csaml.Response{ID: randomID(), InResponseTo: spec.InResponseTo, Version: "2.0", IssueInstant: spec.IssueInstant,
		Destination: spec.Destination, Issuer: &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: spec.Issuer},
		Status: csaml.Status{StatusCode: csaml.StatusCode{Value: spec.Status}}}
	child := a.Element()
	if spec.Encrypt != nil {
		child = spec.Encrypt.assertion(tb, child, nil)
	}
	el := r.Element()
	el.AddChild(child)
	if spec.Sign == "response" || spec.Sign == "both" {
		r.Signature = signer.signature(tb, el, spec.SHA1)
		el = r.Element()
		el.AddChild(child)
	}
	if spec.Encrypt != nil && spec.Tamper != nil {
		// Anyone can encrypt to the SP's public certificate: an attacker edits the assertion,
		// encrypts it and swaps it in after the IdP signed.
		el.RemoveChild(child)
		el.AddChild(spec.Encrypt.assertion(tb, a.Element(), spec.Tamper))
		spec.Tamper = nil
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	out, err := doc.WriteToString()
	if err != nil {
		tb.Fatal(err)
	}
	if spec.Tamper != nil {
		out = spec.Tamper(out)
	}
	return base64.StdEncoding.EncodeToString([]byte(out))
}

// signature returns the enveloped signature of el, made with the IdP's key.
func (idp *testIdP) signature(tb testing.TB, el *etree.Element, sha1 bool) *etree.Element {
	tb.Helper()
	ks := dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{idp.cert.Raw}, PrivateKey: idp.key})
	ctx := dsig.NewDefaultSigningContext(ks)
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	method := dsig.RSASHA256SignatureMethod
	if sha1 {
		method = dsig.RSASHA1SignatureMethod
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		tb.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		tb.Fatal(err)
	}
	children := signed.ChildElements()
	return children[len(children)-1]
}

// authnRequest decodes the HTTP-Redirect AuthnRequest of an SP redirect URL.
func authnRequest(tb testing.TB, location string) (*csaml.AuthnRequest, url.Values) {
	tb.Helper()
	u, err := url.Parse(location)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	deflated, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	if err != nil {
		tb.Fatalf("SAMLRequest: %v", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		tb.Fatalf("inflate SAMLRequest: %v", err)
	}
	var req csaml.AuthnRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		tb.Fatalf("AuthnRequest: %v\n%s", err, raw)
	}
	return &req, q
}
