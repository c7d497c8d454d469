package saml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	csaml "github.com/crewjam/saml"

	"github.com/scimd/scimd/internal/sso"
	"github.com/scimd/scimd/internal/store"
)

// Encrypted assertions. The SP metadata advertises the SP certificate for encryption (the
// library lists AES-GCM before AES-CBC and RSA-OAEP key transport, with SHA-1 or SHA-256
// digests), and crewjam/saml decrypts an EncryptedAssertion with the SP key (and, while a
// rotation is under way, the next one), then validates the assertion inside exactly as a
// plain one: its own signature is required unless the Response's signature was verified,
// and it is read from what that signature covers; issuer, audience, recipient, times,
// InResponseTo and the replay cache all apply. What this file adds, before the library
// sees the response: the tenant's require-encrypted setting, the refusal of AES-CBC unless
// the Response itself is signed (so nothing unauthenticated is ever decrypted with a
// malleable cipher), and reasons an admin can act on for what the library reports only as
// "cannot decrypt" or a missing signature.

const (
	assertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"
	xmlencNS    = "http://www.w3.org/2001/04/xmlenc#"
)

// cbcAlgorithms are the XML Encryption block ciphers in CBC mode.
var cbcAlgorithms = map[string]bool{
	xmlencNS + "aes128-cbc":    true,
	xmlencNS + "aes192-cbc":    true,
	xmlencNS + "aes256-cbc":    true,
	xmlencNS + "tripledes-cbc": true,
}

// assertionForm is how a response carries its assertion, read from the decoded response
// (already known to be well-formed and free of directives) to decide what to refuse
// before the library runs. Nothing here is trusted beyond that.
type assertionForm struct {
	encrypted      bool   // an EncryptedAssertion child of the Response
	plain          bool   // a saml:Assertion element anywhere: not encrypted
	responseSigned bool   // a ds:Signature child of the Response (valid or not)
	cbc            string // a CBC algorithm of an EncryptedAssertion's EncryptedData, or ""
	encryptedTo    string // base64 DER of the certificate an EncryptedKey names, or ""
}

// formOf scans the decoded response.
func formOf(raw []byte) assertionForm {
	var f assertionForm
	dec := xml.NewDecoder(bytes.NewReader(raw))
	var path []xml.Name
	inCert := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return f
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			path = append(path, tok.Name)
			n := tok.Name
			switch {
			case len(path) == 2 && n.Space == assertionNS && n.Local == "EncryptedAssertion":
				f.encrypted = true
			case len(path) == 2 && n.Space == dsigNS && n.Local == "Signature":
				f.responseSigned = true
			case n.Space == assertionNS && n.Local == "Assertion":
				f.plain = true
			case len(path) == 4 && n.Space == xmlencNS && n.Local == "EncryptionMethod" &&
				path[1].Local == "EncryptedAssertion" && path[2].Local == "EncryptedData":
				for _, a := range tok.Attr {
					if a.Name.Local == "Algorithm" && cbcAlgorithms[a.Value] {
						f.cbc = a.Value
					}
				}
			case n.Space == dsigNS && n.Local == "X509Certificate" && f.encryptedTo == "" && within(path, "EncryptedKey"):
				inCert = true
			}
		case xml.CharData:
			if inCert {
				f.encryptedTo += strings.Join(strings.Fields(string(tok)), "")
			}
		case xml.EndElement:
			inCert = false
			path = path[:len(path)-1]
		}
	}
}

// within reports whether an element named local encloses the last element of path.
func within(path []xml.Name, local string) bool {
	for _, n := range path[:len(path)-1] {
		if n.Local == local && n.Space == xmlencNS {
			return true
		}
	}
	return false
}

// checkEncryption refuses, before any signature is checked or anything decrypted, a plain
// assertion when the tenant requires encryption, and an assertion encrypted with AES-CBC in
// a Response that carries no signature of its own.
func checkEncryption(cfg store.SAMLConfig, f assertionForm) *loginError {
	switch {
	case cfg.RequireEncryptedAssertions && f.plain:
		return refuse(ReasonNotEncrypted, http.StatusForbidden, "This organisation accepts only encrypted assertions, and the identity provider sent one unencrypted. Its administrator turns on assertion encryption with this organisation's SP certificate.", nil)
	case f.encrypted && f.cbc != "" && !f.responseSigned:
		lerr := refuse(ReasonCBCUnsigned, http.StatusForbidden, "The identity provider encrypts the assertion with AES-CBC but does not sign the response. Its administrator signs the whole response too (Entra ID: “Sign SAML response and assertion”) or encrypts with AES-GCM.", nil)
		lerr.admin = fmt.Sprintf("the assertion is encrypted with %s, which does not authenticate what it decrypts, and the Response carries no signature of its own: sign the response, or encrypt with AES-GCM", f.cbc)
		return lerr
	}
	return nil
}

// explainEncrypted refines a refusal of an encrypted response: an assertion no SP key
// decrypts names the certificate it was encrypted to and the SP's; an encrypted assertion
// with no signature inside, in an unsigned Response, is "unsigned" as a plain one would be
// (the library reports that case without a sentinel error). It runs after explain.
func explainEncrypted(lerr *loginError, err error, f assertionForm, signed bool, cfg store.SAMLConfig) *loginError {
	if !f.encrypted {
		return lerr
	}
	switch {
	case errors.Is(err, csaml.ErrDecryptionFailed):
		lerr.reason, lerr.status = ReasonDecryption, http.StatusForbidden
		lerr.msg = "The assertion could not be decrypted: the identity provider encrypts it to a certificate that is not this organisation's SP certificate. Its administrator uploads the SP certificate shown in the SAML settings."
		to := "no certificate named in the EncryptedKey"
		if der, derr := base64.StdEncoding.DecodeString(f.encryptedTo); derr == nil && len(der) > 0 {
			to = "certificate " + fingerprint(der)
		}
		var ours []string
		for _, c := range sso.Certificates(cfg.SPCertPEM + cfg.SPNextCertPEM) {
			ours = append(ours, c.Fingerprint[:23])
		}
		lerr.admin = fmt.Sprintf("the assertion could not be decrypted (%s); it is encrypted to %s; SP certificates that decrypt (SHA-256): %s",
			lerr.admin, to, strings.Join(ours, ", "))
	case !signed && lerr.reason == ReasonMalformed && !errors.Is(err, csaml.ErrMalformedMessage) &&
		!errors.Is(err, csaml.ErrMissingElement) && !errors.Is(err, csaml.ErrUnsupported):
		lerr.reason, lerr.status = ReasonUnsigned, http.StatusForbidden
		lerr.msg = "The SAML assertion is not signed; the identity provider must sign the assertion or the response."
	}
	return lerr
}
