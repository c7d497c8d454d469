package saml

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/store"
)

// encryption is how the test IdP encrypts an assertion: to which certificate, with which
// content cipher, and which RSA-OAEP key transport.
type encryption struct {
	cert   *x509.Certificate
	cipher xmlenc.BlockCipher
	// oaep11 is RSA-OAEP of XML Encryption 1.1 with SHA-256 digest and MGF1; otherwise
	// RSA-OAEP-MGF1P (SHA-1 MGF), what most IdPs send.
	oaep11 bool
}

// assertion returns the EncryptedAssertion of a, first edited by tamper when not nil.
func (enc *encryption) assertion(tb testing.TB, a *etree.Element, tamper func(string) string) *etree.Element {
	tb.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(a.Copy())
	plain, err := doc.WriteToString()
	if err != nil {
		tb.Fatal(err)
	}
	if tamper != nil {
		plain = tamper(plain)
	}
	transport := xmlenc.OAEP()
	if enc.oaep11 {
		transport = xmlenc.OAEP_SHA256()
	}
	transport.BlockCipher = enc.cipher
	data, err := transport.Encrypt(enc.cert, []byte(plain), nil)
	if err != nil {
		tb.Fatal(err)
	}
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", assertionNS)
	ea.AddChild(data)
	return ea
}

// pemCertificate parses the first certificate of a PEM text.
func pemCertificate(tb testing.TB, text string) *x509.Certificate {
	tb.Helper()
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		tb.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// toSP encrypts to the tests' SP certificate (the env must exist: it makes the key pair).
func toSP(tb testing.TB, cipher xmlenc.BlockCipher, oaep11 bool) *encryption {
	return &encryption{cert: pemCertificate(tb, spCert), cipher: cipher, oaep11: oaep11}
}

// TestEncryptedAssertionLogin signs in through the real ACS with assertions encrypted to the
// SP certificate, in the content ciphers and key transports IdPs use, for a tenant that
// requires encryption. AES-CBC comes in a signed Response (see TestEncryptedRefusals).
func TestEncryptedAssertionLogin(t *testing.T) {
	e := newEnv(t, cfgOpts{requireEncrypted: true})
	tests := []struct {
		name   string
		cipher xmlenc.BlockCipher
		oaep11 bool
		sign   string
	}{
		{"AES-128-GCM, RSA-OAEP-MGF1P, assertion signed", xmlenc.AES128GCM, false, "assertion"},
		{"AES-256-GCM, RSA-OAEP SHA-256, assertion signed", xmlenc.AES256GCM, true, "assertion"},
		{"AES-256-GCM, response signed", xmlenc.AES256GCM, false, "response"},
		{"AES-128-CBC, RSA-OAEP-MGF1P, response and assertion signed", xmlenc.AES128CBC, false, "both"},
		{"AES-256-CBC, RSA-OAEP SHA-256, response signed", xmlenc.AES256CBC, true, "response"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			id := b.startLogin("acme", "/t/acme/x")
			user := "enc" + string(rune('a'+i)) + "@example.com"
			resp := e.response("acme", assertionSpec{InResponseTo: id, NameID: user, Sign: tc.sign, Encrypt: toSP(t, tc.cipher, tc.oaep11)})
			if raw, _ := base64.StdEncoding.DecodeString(resp); strings.Contains(string(raw), user) || !strings.Contains(string(raw), "EncryptedAssertion") {
				t.Fatalf("the response is not encrypted:\n%s", raw)
			}
			rec := b.postResponse("acme", resp, "")
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/t/acme/x" {
				t.Fatalf("ACS = %d %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
			}
			if !strings.Contains(b.get("/t/acme/").Body.String(), user) {
				t.Fatal("not signed in")
			}
		})
	}
	if got := e.count(ReasonSuccess); got != float64(len(tests)) {
		t.Fatalf("successes = %v, want %d", got, len(tests))
	}
}

// TestRefusalsEncrypted re-runs the refusal catalogue with every assertion encrypted to the
// SP certificate: the checks after decryption are those of a plain assertion. With AES-GCM
// the signature is where the case puts it (usually the assertion, inside the encryption);
// AES-CBC needs a signed Response, so a case signing the assertion signs both, and an
// unsigned one is refused before decryption. An edit of the assertion is made as an
// attacker would: encrypt an edited assertion to the public SP certificate and swap it in.
func TestRefusalsEncrypted(t *testing.T) {
	newEnv(t, cfgOpts{}) // makes the tests' SP key pair
	for _, run := range []struct {
		name        string
		cipher      xmlenc.BlockCipher
		oaep11, cbc bool
	}{
		{"AES-128-GCM", xmlenc.AES128GCM, false, false},
		{"AES-256-CBC", xmlenc.AES256CBC, true, true},
	} {
		t.Run(run.name, func(t *testing.T) {
			for _, tc := range refusalCases(t) {
				tc.spec.Encrypt = toSP(t, run.cipher, run.oaep11)
				cbc := run.cbc
				switch {
				case tc.spec.Sign == "none" && cbc:
					tc.status, tc.reason, tc.sentence = http.StatusForbidden, ReasonCBCUnsigned, "AES-CBC"
				case cbc && (tc.spec.Sign == "" || tc.spec.Sign == "assertion"):
					tc.spec.Sign = "both"
				}
				t.Run(tc.name, func(t *testing.T) { checkRefusal(t, tc) })
			}
		})
	}
}

// forgedAssertion returns an unsigned plain assertion for nameID, made for acme.
func forgedAssertion(e *env, nameID string) string {
	raw, _ := base64.StdEncoding.DecodeString(e.response("acme", assertionSpec{NameID: nameID, Sign: "none"}))
	x := string(raw)
	return x[strings.Index(x, "<saml:Assertion") : strings.LastIndex(x, "</saml:Assertion>")+len("</saml:Assertion>")]
}

// besideForged puts a forged plain assertion for admin@example.com after the genuine
// (encrypted) one of valid.
func besideForged(e *env, valid string) string {
	raw, _ := base64.StdEncoding.DecodeString(valid)
	x := string(raw)
	end := strings.LastIndex(x, "</samlp:Response>")
	return base64.StdEncoding.EncodeToString([]byte(x[:end] + forgedAssertion(e, "admin@example.com") + x[end:]))
}

// TestEncryptedRefusals are the refusals that only encrypted responses have: a foreign
// encryption key, a plain assertion where encryption is required, signature wrapping
// around an encrypted assertion, AES-CBC without a Response signature.
func TestEncryptedRefusals(t *testing.T) {
	newEnv(t, cfgOpts{}) // makes the tests' SP key pair
	foreign := &encryption{cert: newTestIdP(t, "x", 1).cert, cipher: xmlenc.AES256GCM}
	gcm, cbc := toSP(t, xmlenc.AES128GCM, false), toSP(t, xmlenc.AES256CBC, false)
	tests := []refusalCase{
		{name: "encrypted to a foreign key", solicit: true, spec: assertionSpec{Encrypt: foreign},
			status: 403, reason: ReasonDecryption, sentence: "could not be decrypted"},
		{name: "encryption required, plain assertion", opts: cfgOpts{requireEncrypted: true}, solicit: true, spec: assertionSpec{},
			status: 403, reason: ReasonNotEncrypted, sentence: "accepts only encrypted assertions"},
		{name: "encryption required, plain assertion in a signed response", opts: cfgOpts{requireEncrypted: true}, solicit: true, spec: assertionSpec{Sign: "both"},
			status: 403, reason: ReasonNotEncrypted, sentence: "accepts only encrypted assertions"},
		{name: "encryption required, forged plain assertion beside an encrypted one", opts: cfgOpts{requireEncrypted: true}, solicit: true,
			spec: assertionSpec{Encrypt: gcm}, raw: besideForged, status: 403, reason: ReasonNotEncrypted, sentence: "accepts only encrypted assertions"},
		{name: "forged plain assertion beside an encrypted one, unsigned response", solicit: true,
			spec: assertionSpec{Encrypt: gcm}, raw: besideForged, status: 400, reason: ReasonMalformed, sentence: "malformed"},
		{name: "forged plain assertion added to a signed response", solicit: true,
			spec: assertionSpec{Encrypt: gcm, Sign: "response"}, raw: besideForged, status: 403, reason: ReasonBadSignature, sentence: "signature"},
		{name: "AES-CBC, only the assertion signed", solicit: true, spec: assertionSpec{Encrypt: cbc},
			status: 403, reason: ReasonCBCUnsigned, sentence: "does not sign the response"},
		{name: "AES-CBC, response signed by another key", solicit: true, spec: assertionSpec{Encrypt: cbc, Sign: "response", SignWith: newTestIdP(t, "x", 1)},
			status: 403, reason: ReasonBadSignature, sentence: "signature could not be verified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkRefusal(t, tc) })
	}
}

// TestEncryptedRefusalExplained: the admin is told which certificate the IdP encrypted to
// and which SP certificates decrypt.
func TestEncryptedRefusalExplained(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	other := newTestIdP(t, "x", 1)
	rec := e.browser().postResponse("acme", e.response("acme", assertionSpec{NameID: "ann@example.com",
		Encrypt: &encryption{cert: other.cert, cipher: xmlenc.AES256GCM}}), "")
	if rec.Code != http.StatusForbidden {
		t.Fatalf("ACS = %d: %s", rec.Code, rec.Body)
	}
	evs, err := e.store.Events(ctx, e.acme.ID, store.EventQuery{Name: directory.EventSAMLLoginRefused})
	if err != nil || len(evs) != 1 {
		t.Fatalf("refusal events = %v, %v", evs, err)
	}
	want := []string{"encrypted to certificate " + fingerprint(other.cert.Raw), "SP certificates that decrypt (SHA-256): " + fingerprint(pemCertificate(t, spCert).Raw)}
	for _, w := range want {
		if !strings.Contains(evs[0].Detail, w) {
			t.Errorf("audit detail %q lacks %q", evs[0].Detail, w)
		}
	}
}

// TestEncryptedReplay: an encrypted assertion is recorded in the replay cache like a plain one.
func TestEncryptedReplay(t *testing.T) {
	e := newEnv(t, cfgOpts{idpInitiated: true})
	resp := e.response("acme", assertionSpec{NameID: "ann@example.com", Encrypt: toSP(t, xmlenc.AES256GCM, false)})
	if rec := e.browser().postResponse("acme", resp, ""); rec.Code != http.StatusSeeOther {
		t.Fatalf("first use = %d: %s", rec.Code, rec.Body)
	}
	if rec := e.browser().postResponse("acme", resp, ""); rec.Code != http.StatusForbidden || e.count(ReasonReplay) != 1 {
		t.Fatalf("replay = %d (replays %v): %s", rec.Code, e.count(ReasonReplay), rec.Body)
	}
}

// TestMetadataAdvertisesEncryption: the SP metadata offers the SP certificate for
// encryption, with AES-GCM before AES-CBC and RSA-OAEP key transport.
func TestMetadataAdvertisesEncryption(t *testing.T) {
	e := newEnv(t, cfgOpts{})
	body := e.browser().get("/t/acme/saml/metadata").Body.String()
	enc := body[strings.Index(body, `use="encryption"`):]
	enc = enc[:strings.Index(enc, "</KeyDescriptor>")]
	der := base64.StdEncoding.EncodeToString(pemCertificate(t, spCert).Raw)
	gcm, cbc := strings.Index(enc, "xmlenc11#aes256-gcm"), strings.Index(enc, "xmlenc#aes128-cbc")
	if !strings.Contains(enc, der) || gcm < 0 || cbc < gcm || !strings.Contains(enc, "xmlenc#rsa-oaep-mgf1p") || !strings.Contains(enc, "xmlenc11#rsa-oaep") {
		t.Fatalf("encryption KeyDescriptor:\n%s", enc)
	}
}
