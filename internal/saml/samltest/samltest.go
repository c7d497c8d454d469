// Package samltest is an in-process SAML identity provider for tests only: key pairs, signed
// Responses and LogoutRequests/LogoutResponses, and a decoder of the SP's redirect
// AuthnRequest.
//
// It is a leaf with respect to scimd: it imports no scimd package, so that internal/saml's
// own package-internal tests can use it without an import cycle. Only tests import it.
package samltest

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
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

// IdP is an identity provider: a key pair and an entity id, and a builder of signed
// messages that every test bends in one way.
type IdP struct {
	EntityID string
	Key      *rsa.PrivateKey
	Cert     *x509.Certificate
	CertPEM  []byte // Cert in PEM
}

var (
	keysOnce sync.Once
	keys     [2]*rsa.PrivateKey
	certs    [2]*x509.Certificate
)

// NewIdP returns an IdP with entity id entityID; which (0 or 1) selects one of two key
// pairs made once per test binary, so that two IdPs built with the same which share a key.
func NewIdP(tb testing.TB, entityID string, which int) *IdP {
	tb.Helper()
	keysOnce.Do(func() {
		for i := range keys {
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
			keys[i], certs[i] = key, cert
		}
	})
	return &IdP{EntityID: entityID, Key: keys[which], Cert: certs[which],
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[which].Raw})}
}

// Encrypter turns a signed assertion into an EncryptedAssertion.
type Encrypter interface {
	// EncryptAssertion returns the EncryptedAssertion of a, whose serialization tamper, when
	// not nil, first edits.
	EncryptAssertion(tb testing.TB, a *etree.Element, tamper func(xml string) string) *etree.Element
}

// Spec describes one Response. Zero values get sensible defaults from Response.
type Spec struct {
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
	SignWith *IdP
	// Tamper edits the serialized response after signing.
	Tamper func(xml string) string
	Status string
	// SHA1 signs with RSA-SHA1 and SHA-1 digests, as old IdP setups do.
	SHA1 bool
	// Encrypt, when set, sends the (signed) assertion as an EncryptedAssertion; Tamper then
	// edits the assertion before it is encrypted.
	Encrypt Encrypter
}

// RandomID returns a fresh SAML ID.
func RandomID() string {
	var b [16]byte
	rand.Read(b[:])
	return "_" + hex.EncodeToString(b[:])
}

// Response returns the base64 SAMLResponse of spec, for an SP whose ACS and entity id
// (audience) are given.
func (idp *IdP) Response(tb testing.TB, acs, audience string, spec Spec) string {
	tb.Helper()
	now := time.Now().UTC()
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&spec.Issuer, idp.EntityID)
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
		ID: RandomID(), IssueInstant: spec.IssueInstant, Version: "2.0",
		Issuer: csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: spec.Issuer},
		Subject: &csaml.Subject{
			NameID: &csaml.NameID{Format: spec.NameIDFormat, Value: spec.NameID},
			SubjectConfirmations: []csaml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &csaml.SubjectConfirmationData{InResponseTo: spec.InResponseTo,
					NotOnOrAfter: spec.NotOnOrAfter, Recipient: spec.Recipient}}},
		},
		Conditions: &csaml.Conditions{NotBefore: spec.NotBefore, NotOnOrAfter: spec.NotOnOrAfter,
			AudienceRestrictions: []csaml.AudienceRestriction{{Audience: csaml.Audience{Value: spec.Audience}}}},
		AuthnStatements: []csaml.AuthnStatement{{AuthnInstant: spec.IssueInstant, SessionIndex: RandomID(),
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
		a.Signature = signer.Signature(tb, a.Element(), spec.SHA1)
	}
	r := &csaml.Response{ID: RandomID(), InResponseTo: spec.InResponseTo, Version: "2.0", IssueInstant: spec.IssueInstant,
		Destination: spec.Destination, Issuer: &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: spec.Issuer},
		Status: csaml.Status{StatusCode: csaml.StatusCode{Value: spec.Status}}}
	child := a.Element()
	if spec.Encrypt != nil {
		child = spec.Encrypt.EncryptAssertion(tb, child, nil)
	}
	el := r.Element()
	el.AddChild(child)
	if spec.Sign == "response" || spec.Sign == "both" {
		r.Signature = signer.Signature(tb, el, spec.SHA1)
		el = r.Element()
		el.AddChild(child)
	}
	if spec.Encrypt != nil && spec.Tamper != nil {
		// Anyone can encrypt to the SP's public certificate: an attacker edits the assertion,
		// encrypts it and swaps it in after the IdP signed.
		el.RemoveChild(child)
		el.AddChild(spec.Encrypt.EncryptAssertion(tb, a.Element(), spec.Tamper))
		spec.Tamper = nil
	}
	out := serialize(tb, el)
	if spec.Tamper != nil {
		out = spec.Tamper(out)
	}
	return base64.StdEncoding.EncodeToString([]byte(out))
}

// Signature returns the enveloped signature of el (exclusive C14N, RSA-SHA256 or, when
// sha1, RSA-SHA1), made with the IdP's key.
func (idp *IdP) Signature(tb testing.TB, el *etree.Element, sha1 bool) *etree.Element {
	tb.Helper()
	ks := dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{idp.Cert.Raw}, PrivateKey: idp.Key})
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

// AuthnRequest decodes the HTTP-Redirect AuthnRequest of an SP redirect URL and returns it
// with the URL's query.
func AuthnRequest(tb testing.TB, location string) (*csaml.AuthnRequest, url.Values) {
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

// LogoutSpec describes an IdP's LogoutRequest or LogoutResponse. Destination (the SP's
// SingleLogoutService) is required; other zero values get defaults.
type LogoutSpec struct {
	ID, Issuer, Destination, NameID, InResponseTo, Status string
	SessionIndexes                                        []string
	IssueInstant                                          time.Time
	// Sign signs the message: an enveloped signature in LogoutForm, a query-string
	// signature (RSA-SHA256) in LogoutQuery.
	Sign bool
	// SignWith signs with another IdP's key.
	SignWith *IdP
	// Tamper edits the serialized message after any enveloped signature.
	Tamper func(xml string) string
}

// logoutElement returns the unsigned LogoutResponse (response) or LogoutRequest of spec.
func (idp *IdP) logoutElement(response bool, spec LogoutSpec) *etree.Element {
	if spec.ID == "" {
		spec.ID = RandomID()
	}
	if spec.Issuer == "" {
		spec.Issuer = idp.EntityID
	}
	if spec.IssueInstant.IsZero() {
		spec.IssueInstant = time.Now().UTC()
	}
	issuer := &csaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: spec.Issuer}
	if response {
		if spec.Status == "" {
			spec.Status = csaml.StatusSuccess
		}
		return (&csaml.LogoutResponse{ID: spec.ID, InResponseTo: spec.InResponseTo, Version: "2.0", IssueInstant: spec.IssueInstant,
			Destination: spec.Destination, Issuer: issuer, Status: csaml.Status{StatusCode: csaml.StatusCode{Value: spec.Status}}}).Element()
	}
	lr := &csaml.LogoutRequest{ID: spec.ID, Version: "2.0", IssueInstant: spec.IssueInstant, Destination: spec.Destination, Issuer: issuer,
		NameID: &csaml.NameID{Format: string(csaml.EmailAddressNameIDFormat), Value: spec.NameID}}
	for i, si := range spec.SessionIndexes {
		if i == 0 {
			lr.SessionIndex = &csaml.SessionIndex{Value: si}
		} else {
			lr.AdditionalSessionIndexes = append(lr.AdditionalSessionIndexes, csaml.SessionIndex{Value: si})
		}
	}
	return lr.Element()
}

// signer is the IdP whose key signs: SignWith when set, else idp.
func (idp *IdP) signer(with *IdP) *IdP {
	if with != nil {
		return with
	}
	return idp
}

// logoutParam is the form or query parameter that carries a logout message.
func logoutParam(response bool) string {
	if response {
		return "SAMLResponse"
	}
	return "SAMLRequest"
}

// LogoutForm returns the HTTP-POST form of a LogoutResponse (response) or LogoutRequest,
// with RelayState "rs-1".
func (idp *IdP) LogoutForm(tb testing.TB, response bool, spec LogoutSpec) url.Values {
	tb.Helper()
	el := idp.logoutElement(response, spec)
	if spec.Sign {
		// The Signature goes after the Issuer (saml-core's schema order).
		el.InsertChildAt(1, idp.signer(spec.SignWith).Signature(tb, el, false))
	}
	out := serialize(tb, el)
	if spec.Tamper != nil {
		out = spec.Tamper(out)
	}
	return url.Values{logoutParam(response): {base64.StdEncoding.EncodeToString([]byte(out))}, "RelayState": {"rs-1"}}
}

// LogoutQuery returns the HTTP-Redirect query of a LogoutResponse (response) or
// LogoutRequest, with RelayState "rs-1".
func (idp *IdP) LogoutQuery(tb testing.TB, response bool, spec LogoutSpec) string {
	tb.Helper()
	out := serialize(tb, idp.logoutElement(response, spec))
	if spec.Tamper != nil {
		out = spec.Tamper(out)
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, 9)
	fw.Write([]byte(out))
	fw.Close()
	q := logoutParam(response) + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&RelayState=rs-1"
	if !spec.Sign {
		return q
	}
	q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
	sum := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(nil, idp.signer(spec.SignWith).Key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
}

// serialize writes el as an XML document.
func serialize(tb testing.TB, el *etree.Element) string {
	tb.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	out, err := doc.WriteToString()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
